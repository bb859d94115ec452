// `kube-image-cache serve`: loads the configuration and a node snapshot, then runs the HTTPS
// webhook until SIGTERM or SIGINT.
import type { MutationContext } from "../admission/contract.ts";
import { defaultConfig, loadConfig, type Config } from "../config.ts";
import { loadNodeSnapshot } from "../inventory/snapshot.ts";
import { rootLogger, type Logger } from "../logger.ts";
import { startServer, type RunningServer } from "../server/serve.ts";
import type { TlsFiles } from "../server/tls.ts";
import { parseCommandArgs, parseHost, parsePort, requireOption, UsageError } from "./args.ts";

export const DEFAULT_PORT = 8443;
export const DEFAULT_HOST = "0.0.0.0";

/** Everything `serve` needs, after its arguments are checked. */
export interface ServeSettings {
  readonly configPath?: string;
  readonly nodesPath: string;
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
    "tls-cert": { type: "string" },
    "tls-key": { type: "string" },
    port: { type: "string" },
    host: { type: "string" },
  });
  if (values.nodes === undefined || values.nodes === "") {
    // TODO: serve from a live list-and-watch of the cluster's nodes when --nodes is absent.
    throw new UsageError(
      "serve: --nodes FILE is required because a live cluster inventory is not available yet; " +
        "pass a node snapshot such as the output of `kubectl get nodes -o json`",
    );
  }

  const certPath = requireOption("serve", "tls-cert", values["tls-cert"], "pass tls.crt");
  const keyPath = requireOption("serve", "tls-key", values["tls-key"], "pass tls.key");
  return {
    ...(values.config !== undefined ? { configPath: values.config } : {}),
    nodesPath: values.nodes,
    tls: { certPath, keyPath },
    host: parseHost("serve", values.host, DEFAULT_HOST),
    port: parsePort("serve", values.port, DEFAULT_PORT),
  };
}

/**
 * Loads the configuration and node snapshot named in `settings` and starts the server.
 * Throws InvalidConfigError, InvalidNodeSnapshotError or InvalidTlsFilesError for bad files.
 */
export async function startFromSettings(
  settings: ServeSettings,
  logger: Logger,
  extra: { readonly tlsPollIntervalMs?: number } = {},
): Promise<RunningServer> {
  const config: Config =
    settings.configPath === undefined ? defaultConfig() : loadConfig(settings.configPath);
  const context: MutationContext = { config, inventory: loadNodeSnapshot(settings.nodesPath) };
  logger.info(
    { config: settings.configPath ?? "built-in defaults", nodes: settings.nodesPath },
    "loaded configuration and node snapshot",
  );

  return startServer({
    config,
    context: () => context,
    // The snapshot is loaded before the server starts, so it is ready from the first request.
    isReady: () => true,
    tls: settings.tls,
    logger,
    host: settings.host,
    port: settings.port,
    ...extra,
  });
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
