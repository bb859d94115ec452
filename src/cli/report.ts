// `kube-image-cache report`: reads the nodes of a cluster (a snapshot file or one list through a
// kubeconfig) and the manifests of the images they hold, and prints the layer report.
import { Registry } from "prom-client";

import { defaultConfig, loadConfig, type Config } from "../config.ts";
import type { ImageReference } from "../image/reference.ts";
import type { Inventory } from "../inventory/inventory.ts";
import { loadNodeSnapshot } from "../inventory/snapshot.ts";
import type { LayerSource } from "../locality/layers.ts";
import { createLogger } from "../logger.ts";
import { ManifestStore } from "../registry/manifest-store.ts";
import { buildLayerReport } from "../report/layer-report.ts";
import { formatReportTable } from "../report/report-format.ts";
import { locateImage } from "../server/locality-runtime.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import { reportCommandError } from "./command-errors.ts";
import type { CliIo } from "./io.ts";

const OUTPUT_FORMATS = ["table", "json"] as const;
type OutputFormat = (typeof OUTPUT_FORMATS)[number];

const DEFAULT_TOP = 10;

export const REPORT_USAGE = `usage: kube-image-cache report (--nodes FILE | --kubeconfig FILE [--context NAME]) [--config FILE] [--offline] [--top N] [-o table|json]
  --nodes FILE      node snapshot (a NodeList, as kubectl get nodes -o json prints it)
  --kubeconfig FILE list the cluster's nodes once instead (--context NAME picks a context)
  --config FILE     configuration: mirror rules and registry access decide where manifests
                    are read; default: built-in defaults
  --offline         read no manifests; every image is then listed as not read
  --top N           pre-pull candidates to list (default ${DEFAULT_TOP})
  -o, --output      table (default) or json; sizes in json are bytes`;

/** Checked arguments of `report`. */
interface ReportOptions {
  readonly configPath?: string;
  readonly nodesPath?: string;
  readonly kubeconfigPath?: string;
  readonly kubeContext?: string;
  readonly offline: boolean;
  readonly top: number;
  readonly output: OutputFormat;
}

/**
 * Runs `report` and returns the exit code: 0 ok, 2 invalid arguments, 3 invalid configuration,
 * node snapshot or kubeconfig, 1 when the nodes cannot be listed or on an internal error.
 */
export async function runReport(args: string[], io: CliIo): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    io.stdout.write(`${REPORT_USAGE}\n`);
    return 0;
  }
  try {
    const options = parseReportArgs(args);
    const config =
      options.configPath === undefined ? defaultConfig() : loadConfig(options.configPath);
    const inventory = await loadInventory(options);
    const layers = await readManifests(inventory, config, options.offline, io);
    const report = buildLayerReport(inventory, layers, { top: options.top });
    io.stdout.write(
      options.output === "json"
        ? `${JSON.stringify(report, null, 2)}\n`
        : formatReportTable(report),
    );
    return 0;
  } catch (error: unknown) {
    return reportCommandError("report", error, io, REPORT_USAGE);
  }
}

function parseReportArgs(args: string[]): ReportOptions {
  const values = parseCommandArgs("report", args, {
    config: { type: "string" },
    nodes: { type: "string" },
    kubeconfig: { type: "string" },
    context: { type: "string" },
    offline: { type: "boolean" },
    top: { type: "string" },
    output: { type: "string", short: "o" },
  });
  if ((values.nodes === undefined) === (values.kubeconfig === undefined)) {
    throw new UsageError(
      "report: pass exactly one of --nodes FILE (a node snapshot) and --kubeconfig FILE (list " +
        "the cluster's nodes)",
    );
  }
  if (values.context !== undefined && values.kubeconfig === undefined) {
    throw new UsageError("report: --context needs --kubeconfig FILE");
  }
  const output = values.output ?? "table";
  if (!(OUTPUT_FORMATS as readonly string[]).includes(output)) {
    throw new UsageError(`report: -o "${output}" is not an output format; expected table or json`);
  }
  return {
    ...(values.config === undefined ? {} : { configPath: values.config }),
    ...(values.nodes === undefined ? {} : { nodesPath: values.nodes }),
    ...(values.kubeconfig === undefined ? {} : { kubeconfigPath: values.kubeconfig }),
    ...(values.context === undefined ? {} : { kubeContext: values.context }),
    offline: values.offline === true,
    top: parseTop(values.top),
    output: output as OutputFormat,
  };
}

function parseTop(value: string | undefined): number {
  if (value === undefined) {
    return DEFAULT_TOP;
  }
  const top = Number(value);
  if (!/^\d+$/.test(value) || top < 1 || top > 1000) {
    throw new UsageError(`report: --top "${value}" is not a count; expected 1 to 1000`);
  }
  return top;
}

async function loadInventory(options: ReportOptions): Promise<Inventory> {
  if (options.nodesPath !== undefined) {
    return loadNodeSnapshot(options.nodesPath);
  }
  // The Kubernetes client takes seconds to load, so it is imported only when needed.
  const { loadClusterInventoryOnce } = await import("../inventory/cluster.ts");
  return loadClusterInventoryOnce(options.kubeconfigPath ?? "", options.kubeContext);
}

/**
 * Fetches the manifest of every image the nodes report, from the mirror for images the rules
 * rewrite (the mirror caches what nodes pull) and from the image's own registry otherwise.
 * Failures are logged to stderr at warn level and shown in the report as not read.
 */
async function readManifests(
  inventory: Inventory,
  config: Config,
  offline: boolean,
  io: CliIo,
): Promise<LayerSource> {
  if (offline || !config.registry.enabled) {
    const cause = offline ? "--offline" : "registry.enabled is false in the configuration";
    return unreadable(`manifest not read: ${cause}`);
  }
  const store = new ManifestStore({
    registries: config.registries,
    settings: config.registry,
    locate: (image) => locateImage(image, config, new Set()),
    metrics: new Registry(),
    // The report names every image whose manifest could not be read, so the store's per-image
    // warnings are not printed; errors still go to stderr.
    logger: createLogger({ level: "error", destination: io.stderr }),
  });
  // Every request has its own timeout; twice that lets an index and its platform manifests
  // arrive one after the other.
  const waitMs = 2 * config.registry.timeoutMs;
  await store.prefetch(nodeImages(inventory), waitMs);
  return {
    lookup: (image) =>
      store.lookup(image) ?? {
        status: "failed",
        reason: `manifest not read within ${waitMs / 1000} s, or the registry was unavailable (see the warnings on stderr)`,
      },
  };
}

/** Returns a layer source that reports every image as not read, for the given reason. */
function unreadable(reason: string): LayerSource {
  return { lookup: () => ({ status: "failed", reason }) };
}

/** Collects every name of every node image, so a lookup by any of them finds the fetched data. */
function nodeImages(inventory: Inventory): ImageReference[] {
  const seen = new Set<ImageReference>();
  for (const node of inventory.nodes) {
    for (const entry of inventory.imagesOf(node.name)) {
      for (const reference of entry.references) {
        seen.add(reference);
      }
    }
  }
  return [...seen];
}
