// An in-process Kubernetes API server double for tests. It speaks the wire protocol that
// @kubernetes/client-node uses (HTTPS with a bearer token, JSON lists with a resourceVersion,
// newline-delimited watch events, v1 Status errors) for nodes, pods, configmaps and leases, and
// lets a test change objects, cut watches, compact history and go offline.
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";

import { stringify as stringifyYaml } from "yaml";

import { createCertificateAuthority, issueServingCertificate } from "../../src/cli/certs.ts";
import { handleApiRequest, type RecordedRequest } from "./apiserver-handlers.ts";
import { RESOURCE_TYPES, type ResourceName, type ResourceType } from "./apiserver-resources.ts";
import { DEFAULT_HISTORY_LIMIT, ObjectStore, type KubeObject } from "./apiserver-store.ts";
import type { WatchStream } from "./apiserver-watch.ts";

export type { KubeObject } from "./apiserver-store.ts";
export type { RecordedRequest } from "./apiserver-handlers.ts";
export type { ResourceName } from "./apiserver-resources.ts";

/** Settings of a double. Every field has a default. */
export interface ApiServerDoubleOptions {
  /** Changes kept for resuming watches; older resourceVersions get 410 Gone. Default 1000. */
  readonly historyLimit?: number;
  /** Interval between BOOKMARK events on watches that allow them; default 1000 ms. */
  readonly bookmarkIntervalMs?: number;
}

const DEFAULT_BOOKMARK_INTERVAL_MS = 1000;
// The API server's limit on a write request body (MaxRequestBodyBytes in k8s.io/apiserver).
const MAX_BODY_BYTES = 3 * 1024 * 1024;

/** A running double on 127.0.0.1. Close it in the test's `after`. */
export class ApiServerDouble {
  /** The bearer token every request must carry. */
  readonly token = randomBytes(16).toString("hex");
  private readonly store: ObjectStore;
  private readonly sockets = new Set<Socket>();
  private readonly watches = new Set<WatchStream>();
  private readonly recorded: RecordedRequest[] = [];

  private constructor(
    private readonly server: Server,
    /** PEM certificate of the CA that signed the double's serving certificate. */
    readonly caCertificate: string,
    /** A temporary directory for kubeconfig files, removed by close(). */
    readonly directory: string,
    readonly port: number,
    options: ApiServerDoubleOptions,
  ) {
    this.store = new ObjectStore(options.historyLimit ?? DEFAULT_HISTORY_LIMIT);
    const bookmarkIntervalMs = options.bookmarkIntervalMs ?? DEFAULT_BOOKMARK_INTERVAL_MS;
    server.on("connection", (socket: Socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
    server.on("request", (req: IncomingMessage, res: ServerResponse) => {
      void handleApiRequest(req, res, {
        store: this.store,
        token: this.token,
        bookmarkIntervalMs,
        maxBodyBytes: MAX_BODY_BYTES,
        record: (request) => this.recorded.push(request),
        openWatch: (watch) => {
          this.watches.add(watch);
          return () => this.watches.delete(watch);
        },
      });
    });
  }

  /** Starts a double with a new CA and serving certificate for 127.0.0.1, on a free port. */
  static async start(options: ApiServerDoubleOptions = {}): Promise<ApiServerDouble> {
    const authority = createCertificateAuthority("apiserver double CA");
    const serving = issueServingCertificate(authority, {
      dnsNames: ["localhost"],
      ipAddresses: ["127.0.0.1"],
    });
    const server = createServer({ cert: serving.cert, key: serving.key });
    const port = await listen(server, 0);
    const directory = await mkdtemp(join(tmpdir(), "apiserver-double-"));
    return new ApiServerDouble(server, authority.cert, directory, port, options);
  }

  /** Base URL, such as "https://127.0.0.1:41234". */
  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** The resourceVersion of the latest change, as lists report it. */
  get resourceVersion(): string {
    return String(this.store.resourceVersion);
  }

  /** Creates an object; a namespaced one goes to its metadata.namespace, else "default". */
  add(resource: ResourceName, object: Record<string, unknown>): KubeObject {
    const type = typeOf(resource);
    const body = asObject(object);
    return this.store.create(type, namespaceOf(type, body), body);
  }

  /** Replaces an object unconditionally (any metadata.resourceVersion in it is ignored). */
  update(resource: ResourceName, object: Record<string, unknown>): KubeObject {
    const type = typeOf(resource);
    const body = asObject(object);
    delete body.metadata["resourceVersion"];
    const name = String(body.metadata["name"]);
    return this.store.replace(type, namespaceOf(type, body), name, body);
  }

  /** Deletes an object; namespaced objects default to namespace "default". */
  remove(resource: ResourceName, name: string, namespace = "default"): void {
    const type = typeOf(resource);
    this.store.delete(type, type.namespaced ? namespace : undefined, name);
  }

  /** Returns a copy of a stored object, or undefined when there is none. */
  find(resource: ResourceName, name: string, namespace = "default"): KubeObject | undefined {
    const type = typeOf(resource);
    return this.store
      .list(type, type.namespaced ? namespace : undefined)
      .find((object) => object.metadata["name"] === name);
  }

  /** Cuts every open watch connection at the socket, as a network failure would; returns how many. */
  dropWatches(): number {
    const count = this.watches.size;
    for (const watch of [...this.watches]) {
      watch.drop();
    }
    return count;
  }

  /** Number of watch connections open now, of one resource or of all. */
  openWatches(resource?: ResourceName): number {
    return [...this.watches].filter(
      (watch) => resource === undefined || watch.type.name === resource,
    ).length;
  }

  /** Forgets the change history: a watch resuming from any version before now gets 410 Gone. */
  compact(): void {
    this.store.compact();
  }

  /** Stops accepting connections and cuts the open ones, so the server is unreachable. */
  async stopListening(): Promise<void> {
    if (!this.server.listening) {
      return;
    }
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) {
      socket.destroy();
    }
    await closed;
  }

  /** Listens again on the same port after stopListening. */
  async startListening(): Promise<void> {
    if (!this.server.listening) {
      await listen(this.server, this.port);
    }
  }

  /** Requests received so far, oldest first, optionally only those that match. */
  requests(matches: (request: RecordedRequest) => boolean = () => true): RecordedRequest[] {
    return this.recorded.filter(matches);
  }

  /** Stops the server and removes the kubeconfig directory. */
  async close(): Promise<void> {
    await this.stopListening();
    await rm(this.directory, { recursive: true, force: true });
  }
}

/** Options for kubeconfigFor. */
export interface KubeconfigOptions {
  /** Name of the context (and of its cluster and user); default "double". */
  readonly contextName?: string;
  /** The current-context field; default the context above. */
  readonly currentContext?: string;
  /** Token to send; default the double's own. */
  readonly token?: string;
}

/** Writes a kubeconfig for the double (server URL, CA data, token); returns the file's path. */
export async function kubeconfigFor(
  double: ApiServerDouble,
  options: KubeconfigOptions = {},
): Promise<string> {
  const name = options.contextName ?? "double";
  const document = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name,
        cluster: {
          server: double.url,
          "certificate-authority-data": Buffer.from(double.caCertificate).toString("base64"),
        },
      },
    ],
    users: [{ name, user: { token: options.token ?? double.token } }],
    contexts: [{ name, context: { cluster: name, user: name } }],
    "current-context": options.currentContext ?? name,
  };
  const path = join(double.directory, `kubeconfig-${randomBytes(4).toString("hex")}.yaml`);
  await writeFile(path, stringifyYaml(document), { mode: 0o600 });
  return path;
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function typeOf(resource: ResourceName): ResourceType {
  const type = RESOURCE_TYPES.get(resource);
  if (type === undefined) {
    throw new Error(`apiserver double: unknown resource "${resource}"`);
  }
  return type;
}

function asObject(object: Record<string, unknown>): KubeObject {
  const metadata = object["metadata"];
  if (typeof metadata !== "object" || metadata === null) {
    throw new Error("apiserver double: the object has no metadata");
  }
  return { ...object, metadata: { ...(metadata as Record<string, unknown>) } };
}

function namespaceOf(type: ResourceType, object: KubeObject): string | undefined {
  if (!type.namespaced) {
    return undefined;
  }
  const namespace = object.metadata["namespace"];
  return typeof namespace === "string" && namespace !== "" ? namespace : "default";
}
