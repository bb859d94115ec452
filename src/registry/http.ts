// One HTTP exchange with a registry or token service: Node's fetch under a timeout that covers
// the body too, a size limit on what is read, and mapping of failures to typed errors.
import { withDeadline } from "./deadline.ts";
import {
  ImageNotFoundError,
  RegistryTimeoutError,
  RegistryUnauthorizedError,
  RegistryUnavailableError,
  UnsupportedMediaTypeError,
  ManifestTooLargeError,
  RegistryError,
  type RegistryErrorKind,
  type RequestSubject,
} from "./errors.ts";

/** The kinds of registry calls, the `operation` label of the request duration histogram. */
export type RegistryOperation = "manifest_head" | "manifest_get" | "blob_get" | "token";

/** One finished exchange, for metrics: `status` when a response arrived, else `error`. */
export interface RequestEvent {
  readonly registry: string;
  readonly operation: RegistryOperation;
  readonly seconds: number;
  readonly status?: number;
  readonly error?: RegistryErrorKind;
}

/** A response read to the end. HEAD responses have an empty body. */
export interface HttpResult {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Buffer;
}

/** Parameters of one exchange besides the URL. */
export interface HttpRequest {
  readonly method: "GET" | "HEAD";
  readonly headers: Readonly<Record<string, string>>;
  /** Deadline of the whole exchange, headers and body, in milliseconds. */
  readonly timeoutMs: number;
  /** Largest body read; a longer one fails the exchange. */
  readonly maxBodyBytes: number;
  readonly subject: RequestSubject;
  readonly operation: RegistryOperation;
  /** Called once per exchange, after it ends. */
  readonly observe?: (event: RequestEvent) => void;
}

/**
 * Sends one request and reads its body. Redirects are followed (blob endpoints may redirect to
 * storage, OCI distribution spec "Pulling blobs"), and fetch drops the Authorization header when
 * a redirect leaves the origin. Throws RegistryTimeoutError past the deadline,
 * RegistryUnavailableError when no response arrives, and ManifestTooLargeError for an
 * oversized body. Any HTTP status is returned, not thrown.
 */
export async function sendRequest(url: string, request: HttpRequest): Promise<HttpResult> {
  const started = performance.now();
  const report = (outcome: { status: number } | { error: RegistryErrorKind }): void => {
    const seconds = (performance.now() - started) / 1000;
    request.observe?.({
      registry: request.subject.registry,
      operation: request.operation,
      seconds,
      ...outcome,
    });
  };

  try {
    const result = await withDeadline(request.timeoutMs, async (signal) => {
      const init = { method: request.method, headers: request.headers, signal };
      const response = await fetch(url, init);
      const body = await readLimited(response, request.maxBodyBytes, request.subject);
      return { status: response.status, headers: response.headers, body };
    });
    report({ status: result.status });
    return result;
  } catch (error: unknown) {
    const failure = asRegistryError(error, request);
    report({ error: failure.kind });
    throw failure;
  }
}

async function readLimited(
  response: Response,
  maxBytes: number,
  subject: RequestSubject,
): Promise<Buffer> {
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > maxBytes || response.body === null) {
    await response.body?.cancel();
    if (declared > maxBytes) {
      throw tooLarge(subject, declared, maxBytes);
    }
    return Buffer.alloc(0);
  }

  // Node's fetch types leave the chunk type open; undici always yields Uint8Array chunks.
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  // Ends at the end of the body, at maxBytes, or when the timeout aborts the read.
  for (;;) {
    const { done, value } = await reader.read();
    if (done) {
      break;
    }
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooLarge(subject, total, maxBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

function tooLarge(subject: RequestSubject, bytes: number, maxBytes: number): RegistryError {
  return new ManifestTooLargeError(
    subject,
    `response body of at least ${bytes} bytes is over the ${maxBytes}-byte limit`,
  );
}

function asRegistryError(error: unknown, request: HttpRequest): RegistryError {
  if (error instanceof RegistryError) {
    return error;
  }
  // The deadline aborts with a DOMException named TimeoutError, raised by fetch itself or by the
  // body stream when the deadline passes while reading.
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) {
    return new RegistryTimeoutError(request.subject, request.timeoutMs, { cause: error });
  }
  return new RegistryUnavailableError(request.subject, describeNetworkError(error), {
    cause: error,
  });
}

/** fetch reports connection failures as TypeError("fetch failed") with the reason in `cause`. */
function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) {
    return String(error);
  }
  const cause = error.cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code === undefined ? cause.message : `${code} (${cause.message})`;
  }
  return error.message;
}

/**
 * Maps an unsuccessful status to its error: 404 not found, 401 and 403 unauthorized, 406 and 415
 * unsupported media type, anything else unavailable. The registry's error code, from its JSON
 * error body (OCI distribution spec, "Error Codes"), goes into the message.
 */
export function statusError(result: HttpResult, subject: RequestSubject): RegistryError {
  const detail = `HTTP ${result.status}${registryErrorCode(result.body)}`;
  switch (result.status) {
    case 404:
      return new ImageNotFoundError(subject, detail);
    case 401:
    case 403:
      return new RegistryUnauthorizedError(subject, detail);
    case 406:
    case 415:
      return new UnsupportedMediaTypeError(subject, `${detail}; the registry cannot serve it`);
    default:
      return new RegistryUnavailableError(subject, detail);
  }
}

function registryErrorCode(body: Buffer): string {
  try {
    const parsed = JSON.parse(body.toString("utf8")) as { errors?: { code?: unknown }[] };
    const code = parsed.errors?.[0]?.code;
    return typeof code === "string" ? ` ${code}` : "";
  } catch {
    return "";
  }
}
