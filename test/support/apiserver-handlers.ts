// Request handling of the API-server double: bearer-token authentication, then list, watch,
// get, create, replace and delete on the resource a path names, with v1 Status errors.
import type { IncomingMessage, ServerResponse } from "node:http";

import { listObjects } from "./apiserver-list.ts";
import { checkMicroTimes } from "./apiserver-microtime.ts";
import {
  ApiFailure,
  parseResourcePath,
  qualifiedResource,
  type ResourcePath,
} from "./apiserver-resources.ts";
import { parseSelectors } from "./apiserver-selectors.ts";
import type { DeletePreconditions, KubeObject, ObjectStore } from "./apiserver-store.ts";
import { withKind, WatchStream } from "./apiserver-watch.ts";

/** One request as the double received it. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly watch: boolean;
}

/** What the handler needs from the double. */
export interface HandlerContext {
  readonly store: ObjectStore;
  readonly token: string;
  readonly bookmarkIntervalMs: number;
  readonly maxBodyBytes: number;
  readonly record: (request: RecordedRequest) => void;
  /** Registers an open watch; returns the function that unregisters it when it ends. */
  readonly openWatch: (watch: WatchStream) => () => void;
}

/** Records, authenticates and serves one request; failures become v1 Status responses. */
export async function handleApiRequest(
  req: IncomingMessage,
  res: ServerResponse,
  context: HandlerContext,
): Promise<void> {
  const url = new URL(req.url ?? "/", "https://127.0.0.1");
  const query = url.searchParams;
  const watch = query.get("watch") === "true" || query.get("watch") === "1";
  const method = req.method ?? "GET";
  context.record({ method, path: url.pathname, query: Object.fromEntries(query), watch });

  try {
    if (req.headers.authorization !== `Bearer ${context.token}`) {
      throw new ApiFailure("Unauthorized", "Unauthorized");
    }
    const path = parseResourcePath(url.pathname);
    if (path === undefined) {
      throw new ApiFailure("NotFound", "the server could not find the requested resource");
    }
    await dispatch(req, res, path, { query, watch, method }, context);
  } catch (error: unknown) {
    sendFailure(res, error);
  }
}

interface RequestLine {
  readonly query: URLSearchParams;
  readonly watch: boolean;
  readonly method: string;
}

async function dispatch(
  req: IncomingMessage,
  res: ServerResponse,
  path: ResourcePath,
  { query, watch, method }: RequestLine,
  context: HandlerContext,
): Promise<void> {
  const { store } = context;
  const { type, namespace, name } = path;
  if (method === "GET" && name === undefined) {
    if (watch) {
      startWatch(res, path, query, context);
    } else {
      sendJson(res, 200, listObjects(path, query, store));
    }
    return;
  }
  if (method === "POST" && name === undefined && (namespace !== undefined || !type.namespaced)) {
    const body = parseObject(await readBody(req, context.maxBodyBytes));
    checkMicroTimes(type, body);
    sendJson(res, 201, withKind(type, store.create(type, namespace, body)));
    return;
  }
  if (name === undefined) {
    throw notAllowed(method, path);
  }

  switch (method) {
    case "GET":
      sendJson(res, 200, withKind(type, store.get(type, namespace, name)));
      return;
    case "PUT": {
      const body = parseObject(await readBody(req, context.maxBodyBytes));
      checkMicroTimes(type, body);
      sendJson(res, 200, withKind(type, store.replace(type, namespace, name, body)));
      return;
    }
    case "DELETE": {
      const preconditions = readPreconditions(await readBody(req, context.maxBodyBytes));
      const deleted = store.delete(type, namespace, name, preconditions);
      sendJson(res, 200, deletedResponse(path, deleted));
      return;
    }
    default:
      throw notAllowed(method, path);
  }
}

function startWatch(
  res: ServerResponse,
  path: ResourcePath,
  query: URLSearchParams,
  context: HandlerContext,
): void {
  const { type, namespace } = path;
  const filter = parseSelectors(type, query.get("labelSelector"), query.get("fieldSelector"));
  const resourceVersion = readResourceVersion(query.get("resourceVersion"));
  const timeoutSeconds = query.get("timeoutSeconds");
  const watch = new WatchStream(
    res,
    context.store,
    {
      type,
      ...(namespace === undefined ? {} : { namespace }),
      filter,
      ...(resourceVersion === undefined ? {} : { resourceVersion }),
      allowBookmarks: query.get("allowWatchBookmarks") === "true",
      ...(timeoutSeconds === null ? {} : { timeoutSeconds: Number(timeoutSeconds) }),
    },
    context.bookmarkIntervalMs,
  );
  watch.start(context.openWatch(watch));
}

/** Reads a watch's resourceVersion; "" and "0" mean "start from the current objects". */
function readResourceVersion(value: string | null): number | undefined {
  if (value === null || value === "" || value === "0") {
    return undefined;
  }
  if (!/^\d+$/.test(value)) {
    throw new ApiFailure("BadRequest", `invalid resource version: ${JSON.stringify(value)}`);
  }
  return Number(value);
}

/** Pods are deleted gracefully and come back as the object; other types return a Status. */
function deletedResponse(path: ResourcePath, deleted: KubeObject): Record<string, unknown> {
  if (path.type.name === "pods") {
    return withKind(path.type, deleted);
  }
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Success",
    details: { name: path.name, kind: path.type.name, uid: deleted.metadata["uid"] },
  };
}

function readPreconditions(body: string): DeletePreconditions {
  if (body.trim() === "") {
    return {};
  }
  const options = parseJson(body) as { preconditions?: DeletePreconditions } | null;
  return options?.preconditions ?? {};
}

function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        reject(new ApiFailure("BadRequest", `request body larger than ${maxBytes} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function parseObject(body: string): KubeObject {
  const value = parseJson(body);
  const metadata =
    typeof value === "object" && value !== null
      ? (value as Record<string, unknown>)["metadata"]
      : undefined;
  if (typeof metadata !== "object" || metadata === null) {
    throw new ApiFailure("BadRequest", "the request body is not an object with metadata");
  }
  return value as KubeObject;
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch (error: unknown) {
    throw new ApiFailure("BadRequest", `the request body is not valid JSON: ${String(error)}`);
  }
}

function notAllowed(method: string, path: ResourcePath): ApiFailure {
  return new ApiFailure(
    "MethodNotAllowed",
    `the server does not allow this method on the requested resource: ${method} ${qualifiedResource(path.type)}`,
  );
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

function sendFailure(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const failure = error instanceof ApiFailure ? error : undefined;
  if (failure !== undefined) {
    sendJson(res, failure.code, failure.toStatus());
    return;
  }
  sendJson(res, 500, {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: `internal error in the apiserver double: ${String(error)}`,
    reason: "InternalError",
    code: 500,
  });
}
