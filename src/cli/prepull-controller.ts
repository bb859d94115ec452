// `kube-image-cache prepull-controller`: runs for the pre-pull lease and, while holding it,
// pre-pulls the recorded cold images onto nodes. Serves its metrics over plain HTTP.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { hostname } from "node:os";

import { Registry, collectDefaultMetrics } from "prom-client";

import { defaultConfig, loadConfig, type Config } from "../config.ts";
import { loadKubeconfig } from "../inventory/kube-client.ts";
import { rootLogger, type Logger } from "../logger.ts";
import { factsFromLayers, NO_FACTS } from "../prepull/image-facts.ts";
import { startPrepull, type RunningPrepull } from "../prepull/run.ts";
import type { PrepullSettings } from "../prepull/settings.ts";
import { ManifestStore } from "../registry/manifest-store.ts";
import { parseCommandArgs, parseHost, parsePort, UsageError } from "./args.ts";

const COMMAND = "prepull-controller";
export const DEFAULT_METRICS_PORT = 9090;

/** The checked arguments of `prepull-controller`. */
export interface PrepullControllerArgs {
  readonly configPath?: string;
  readonly kubeconfigPath?: string;
  readonly context?: string;
  /** The namespace of the record, status and lease; default webhook.namespace. */
  readonly namespace?: string;
  readonly identity: string;
  readonly helperImage?: string;
  readonly metricsHost: string;
  readonly metricsPort: number;
}

/** A running controller instance and its metrics server. */
export interface RunningPrepullController {
  readonly prepull: RunningPrepull;
  /** Base URL of the metrics server, such as "http://0.0.0.0:9090". */
  readonly metricsUrl: string;
  stop(): Promise<void>;
}

/** Runs the command until SIGTERM or SIGINT; resolves with the exit code. */
export async function runPrepullController(args: string[]): Promise<number> {
  const parsed = parsePrepullControllerArgs(args);
  const logger = rootLogger();
  const running = await startPrepullController(parsed, logger);
  const signal = await stopSignal();
  logger.info({ signal }, "stop signal received");
  await running.stop();
  return 0;
}

/** Checks the arguments; throws UsageError naming the option and the fix. */
export function parsePrepullControllerArgs(args: string[]): PrepullControllerArgs {
  const values = parseCommandArgs(COMMAND, args, {
    config: { type: "string" },
    kubeconfig: { type: "string" },
    context: { type: "string" },
    namespace: { type: "string" },
    identity: { type: "string" },
    "helper-image": { type: "string" },
    "metrics-host": { type: "string" },
    "metrics-port": { type: "string" },
  });
  if (values.context !== undefined && values.kubeconfig === undefined) {
    throw new UsageError(
      `${COMMAND}: --context needs --kubeconfig FILE, because the in-cluster configuration ` +
        "has a single context",
    );
  }
  return {
    ...(values.config === undefined ? {} : { configPath: values.config }),
    ...(values.kubeconfig === undefined ? {} : { kubeconfigPath: values.kubeconfig }),
    ...(values.context === undefined ? {} : { context: values.context }),
    ...(values.namespace === undefined ? {} : { namespace: values.namespace }),
    ...(values["helper-image"] === undefined ? {} : { helperImage: values["helper-image"] }),
    // In a pod the hostname is the pod name, which is unique among the replicas.
    identity: values.identity ?? hostname(),
    metricsHost: parseHost(COMMAND, values["metrics-host"], "0.0.0.0"),
    metricsPort: parsePort(COMMAND, values["metrics-port"], DEFAULT_METRICS_PORT),
  };
}

/**
 * Loads the configuration and kubeconfig, starts the metrics server and the controller
 * instance. Throws InvalidConfigError, InvalidKubeconfigError or InvalidPrepullSettingsError
 * for bad input.
 */
export async function startPrepullController(
  args: PrepullControllerArgs,
  logger: Logger,
): Promise<RunningPrepullController> {
  const config = args.configPath === undefined ? defaultConfig() : loadConfig(args.configPath);
  const { kubeconfigPath, context } = args;
  const kubeConfig = loadKubeconfig(
    kubeconfigPath === undefined
      ? { kind: "in-cluster" }
      : { kind: "file", path: kubeconfigPath, ...(context === undefined ? {} : { context }) },
  );
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  // Recorded images are already mirror references, so the store fetches them as they are. With
  // registry.enabled false no registry is contacted and every image gets the assumed size.
  const facts = config.registry.enabled
    ? factsFromLayers(
        new ManifestStore({
          registries: config.registries,
          settings: config.registry,
          locate: (image) => image,
          metrics,
          logger,
        }),
      )
    : NO_FACTS;

  const prepull = startPrepull({
    kubeConfig,
    namespace: args.namespace ?? config.webhook.namespace,
    identity: args.identity,
    settings: settingsFrom(config, args),
    logger,
    metrics,
    facts,
  });
  let server: Server;
  try {
    server = await serveMetrics(metrics, args.metricsHost, args.metricsPort);
  } catch (error: unknown) {
    await prepull.stop();
    throw error;
  }
  const port = (server.address() as AddressInfo).port;
  const metricsUrl = `http://${args.metricsHost}:${port}`;
  logger.info({ metricsUrl, identity: args.identity }, "pre-pull controller started");
  return {
    prepull,
    metricsUrl,
    async stop() {
      await prepull.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The `prepull:` section of the configuration, with --helper-image taking precedence. */
function settingsFrom(config: Config, args: PrepullControllerArgs): PrepullSettings {
  return args.helperImage === undefined
    ? config.prepull
    : { ...config.prepull, helperImage: args.helperImage };
}

/** Serves GET /metrics and GET /healthz. */
function serveMetrics(metrics: Registry, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method === "GET" && req.url === "/metrics") {
      metrics.metrics().then(
        (text) => res.writeHead(200, { "content-type": metrics.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
      return;
    }
    const found = req.method === "GET" && req.url === "/healthz";
    res.writeHead(found ? 200 : 404, { "content-type": "text/plain" }).end(found ? "ok\n" : "");
  });
  return new Promise((resolve, reject) => {
    server.once("error", (error) =>
      reject(
        new Error(`cannot serve metrics on ${host}:${port}: ${error.message}`, { cause: error }),
      ),
    );
    server.listen(port, host, () => resolve(server));
  });
}

/** Resolves with the first SIGTERM or SIGINT; a second one ends the process at once. */
function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off("SIGTERM", stop);
      process.off("SIGINT", stop);
      resolve(signal);
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
}
