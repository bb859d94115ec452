// `kube-image-cache serve`: loads the configuration, reads the nodes from a snapshot file or
// watches them in the cluster, then runs the HTTPS webhook until SIGTERM or SIGINT.
import { Registry } from "prom-client";

import type { MutationContext } from "../admission/contract.ts";
import { defaultConfig, loadConfig, type Config } from "../config.ts";
import type { ClusterInventoryOptions } from "../inventory/cluster.ts";
import type { Inventory } from "../inventory/inventory.ts";
import { loadNodeSnapshotWithProblems } from "../inventory/snapshot.ts";
import type { NodeLoad } from "../locality/load.ts";
import { rootLogger, type Logger } from "../logger.ts";
import { ColdImageRecorder, recordAdmission } from "../prepull/recorder.ts";
import type { RecordStore } from "../prepull/stores.ts";
import { LocalityRuntime } from "../server/locality-runtime.ts";
import { startServer, type RunningServer } from "../server/serve.ts";
import type { TlsFiles } from "../server/tls.ts";
import { parseCommandArgs, parseHost, parsePort, requireOption, UsageError } from "./args.ts";

export const DEFAULT_PORT = 8443;
export const DEFAULT_HOST = "0.0.0.0";

/** Everything `serve` needs, after its arguments are checked. */
export interface ServeSettings {
  readonly configPath?: string;
  /** A node snapshot file; without it the nodes and pods are watched in the cluster. */
  readonly nodesPath?: string;
  /** The kubeconfig for watching the cluster; without it, the in-cluster configuration. */
  readonly kubeconfigPath?: string;
  /** The kubeconfig context to use instead of its current-context. */
  readonly context?: string;
  /** With --nodes: a file that keeps the record of cold images (none by default). */
  readonly recordFile?: string;
  readonly tls: TlsFiles;
  readonly host: string;
  readonly port: number;
}

/** Runs `kube-image-cache serve`; resolves with the exit code once the server has stopped. */
export async function runServe(args: string[]): Promise<number> {
  const settings = parseServeArgs(args);
  const logger = rootLogger();
  const server = await startFromSettings(settings, logger);
  await closeOnSignal(server, logger);
  return 0;
}

/** Checks `serve` arguments; throws UsageError naming the option and the fix. */
export function parseServeArgs(args: string[]): ServeSettings {
  const values = parseCommandArgs("serve", args, {
    config: { type: "string" },
    nodes: { type: "string" },
    kubeconfig: { type: "string" },
    context: { type: "string" },
    "record-file": { type: "string" },
    "tls-cert": { type: "string" },
    "tls-key": { type: "string" },
    port: { type: "string" },
    host: { type: "string" },
  });
  if (values.nodes !== undefined && values.kubeconfig !== undefined) {
    throw new UsageError(
      "serve: --nodes and --kubeconfig exclude each other; pass --nodes FILE to serve a fixed " +
        "snapshot, or --kubeconfig FILE to watch the cluster",
    );
  }
  if (values.context !== undefined && values.kubeconfig === undefined) {
    throw new UsageError(
      "serve: --context needs --kubeconfig FILE, because the in-cluster configuration has a " +
        "single context",
    );
  }

  const certPath = requireOption("serve", "tls-cert", values["tls-cert"], "pass tls.crt");
  const keyPath = requireOption("serve", "tls-key", values["tls-key"], "pass tls.key");
  return {
    ...(values.config === undefined ? {} : { configPath: values.config }),
    ...(values.nodes === undefined ? {} : { nodesPath: values.nodes }),
    ...(values.kubeconfig === undefined ? {} : { kubeconfigPath: values.kubeconfig }),
    ...(values.context === undefined ? {} : { context: values.context }),
    ...(values["record-file"] === undefined ? {} : { recordFile: values["record-file"] }),
    tls: { certPath, keyPath },
    host: parseHost("serve", values.host, DEFAULT_HOST),
    port: parsePort("serve", values.port, DEFAULT_PORT),
  };
}

/** Settings of startFromSettings that tests change. */
export interface StartExtras {
  readonly tlsPollIntervalMs?: number;
  /** How often the node layer index may be rebuilt; default 5 s. */
  readonly indexIntervalMs?: number;
  /** Reconnection and staleness settings of the cluster inventory. */
  readonly cluster?: Pick<
    ClusterInventoryOptions,
    "backoff" | "staleAfterMs" | "watchTimeoutSeconds"
  >;
}

/**
 * Loads the configuration and the node source named in `settings` and starts the server.
 * With a snapshot the server is ready at once. When it watches the cluster, /readyz waits for
 * the first list of nodes, and closing the server also stops the watches. Throws
 * InvalidConfigError, InvalidNodeSnapshotError, InvalidKubeconfigError or InvalidTlsFilesError
 * for bad input.
 */
export async function startFromSettings(
  settings: ServeSettings,
  logger: Logger,
  extra: StartExtras = {},
): Promise<RunningServer> {
  const config: Config =
    settings.configPath === undefined ? defaultConfig() : loadConfig(settings.configPath);
  const registry = new Registry();
  const source =
    settings.nodesPath === undefined
      ? await watchCluster(settings, logger, registry, config.webhook.namespace, extra.cluster)
      : await readSnapshot(settings.nodesPath, logger, settings.configPath, settings.recordFile);
  const recorder =
    source.recordStore === undefined
      ? undefined
      : new ColdImageRecorder({
          store: source.recordStore,
          logger,
          metrics: registry,
          settings: config.prepull,
        });
  const runtime = new LocalityRuntime({
    config,
    inventory: () => source.current().inventory,
    load: () => source.current().load,
    metrics: registry,
    logger,
    ...(recorder === undefined
      ? {}
      : { onReviewed: (outcome, body) => recordAdmission(recorder, outcome, body) }),
    ...(extra.indexIntervalMs === undefined ? {} : { indexIntervalMs: extra.indexIntervalMs }),
  });
  // The recorder flushes on stop, so it stops before the API client behind it.
  const stopBackground = async (): Promise<void> => {
    await recorder?.stop();
    await Promise.all([runtime.stop(), source.stop()]);
  };

  let server: RunningServer;
  try {
    recorder?.start();
    runtime.start();
    server = await startServer({
      config,
      context: (): MutationContext => runtime.context(),
      review: (body) => runtime.review(body),
      isReady: source.isReady,
      tls: settings.tls,
      logger,
      host: settings.host,
      port: settings.port,
      registry,
      ...(extra.tlsPollIntervalMs === undefined
        ? {}
        : { tlsPollIntervalMs: extra.tlsPollIntervalMs }),
    });
  } catch (error: unknown) {
    await stopBackground();
    throw error;
  }

  let closing: Promise<void> | undefined;
  return {
    ...server,
    close() {
      // Requests in flight still read the inventory, so background work stops after the server.
      closing ??= server.close().finally(stopBackground);
      return closing;
    },
  };
}

/** A source of node data: the inventory and load for each request, and its readiness. */
interface NodeSource {
  readonly current: () => { readonly inventory: Inventory; readonly load?: NodeLoad };
  /** Store of the cold-image record: the cluster's ConfigMap, a file, or none. */
  readonly recordStore: RecordStore | undefined;
  readonly isReady: () => boolean;
  readonly stop: () => Promise<void>;
}

async function readSnapshot(
  nodesPath: string,
  logger: Logger,
  configPath?: string,
  recordFile?: string,
): Promise<NodeSource> {
  const { inventory, problems } = loadNodeSnapshotWithProblems(nodesPath);
  logger.info(
    {
      config: configPath ?? "built-in defaults",
      nodes: nodesPath,
      nodeCount: inventory.nodes.length,
    },
    "loaded configuration and node snapshot",
  );
  if (problems.length > 0) {
    logger.warn(
      { nodes: nodesPath, count: problems.length, first: problems.slice(0, 5) },
      "node snapshot entries skipped",
    );
  }
  // The snapshot is loaded before the server starts, so it is ready from the first request.
  return {
    current: () => ({ inventory }),
    recordStore: recordFile === undefined ? undefined : await fileRecordStore(recordFile, logger),
    isReady: () => true,
    stop: () => Promise.resolve(),
  };
}

/**
 * Starts watching nodes and pods through the kubeconfig in `settings`, or the in-cluster
 * configuration. The Kubernetes client is imported here, on first use, because loading it
 * takes seconds and the other commands do not need it.
 */
/** Creates a file record store. Its module loads the Kubernetes client, so it is imported on first use. */
async function fileRecordStore(path: string, logger: Logger): Promise<RecordStore> {
  const { FileRecordStore } = await import("../prepull/stores.ts");
  return new FileRecordStore(path, logger);
}

// Writes of the cold-image record are off the admission path; a slow API server only delays them.
const RECORD_REQUEST_TIMEOUT_MS = 10_000;

async function watchCluster(
  settings: ServeSettings,
  logger: Logger,
  registry: Registry,
  namespace: string,
  tuning: StartExtras["cluster"] = {},
): Promise<NodeSource> {
  const { loadKubeconfig } = await import("../inventory/kube-client.ts");
  const { ClusterInventory } = await import("../inventory/cluster.ts");
  const { kubeconfigPath, context } = settings;
  const kubeConfig = loadKubeconfig(
    kubeconfigPath === undefined
      ? { kind: "in-cluster" }
      : { kind: "file", path: kubeconfigPath, ...(context === undefined ? {} : { context }) },
  );
  logger.info(
    {
      config: settings.configPath ?? "built-in defaults",
      kubeconfig: kubeconfigPath ?? "in-cluster",
      context: kubeConfig.getCurrentContext(),
    },
    "loaded configuration and kubeconfig",
  );

  const cluster = new ClusterInventory({ kubeConfig, logger, registry, ...tuning });
  cluster.start();
  const { CoreV1Api } = await import("@kubernetes/client-node");
  const { createApiClient } = await import("../prepull/kube-api.ts");
  const { ConfigMapRecordStore } = await import("../prepull/stores.ts");
  const aborted = new AbortController();
  const api = createApiClient(CoreV1Api, kubeConfig, aborted.signal, RECORD_REQUEST_TIMEOUT_MS);
  return {
    current: () => ({ inventory: cluster.inventory(), load: cluster.load() }),
    recordStore: new ConfigMapRecordStore({ api, namespace, logger }),
    isReady: () => cluster.isSynced(),
    stop: () => {
      aborted.abort();
      return cluster.stop();
    },
  };
}

/**
 * Closes the server on the first SIGTERM or SIGINT and reloads its certificate on SIGHUP.
 * Resolves once the server has stopped. The handlers are removed at the first stop signal, so
 * a second one ends the process at once.
 */
export function closeOnSignal(server: RunningServer, logger: Logger): Promise<void> {
  return new Promise((resolve, reject) => {
    const reload = () => {
      logger.info({ signal: "SIGHUP" }, "reloading TLS certificate");
      void server.reloadCertificate();
    };
    const stop = (signal: NodeJS.Signals) => {
      process.off("SIGTERM", stop);
      process.off("SIGINT", stop);
      process.off("SIGHUP", reload);
      logger.info({ signal }, "stop signal received");
      server.close().then(resolve, reject);
    };

    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
    process.on("SIGHUP", reload);
  });
}
