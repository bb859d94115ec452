// `kube-image-cache prepull status`: reads the cold-image record and the pre-pull status from
// the cluster (or the record from a file, for local runs) and prints them.
import { existsSync } from "node:fs";

import { CoreV1Api } from "@kubernetes/client-node";

import { defaultConfig, loadConfig } from "../config.ts";
import { loadKubeconfig } from "../inventory/kube-client.ts";
import { rootLogger } from "../logger.ts";
import { ConfigMapDocument } from "../prepull/configmap-document.ts";
import { createApiClient } from "../prepull/kube-api.ts";
import { OBJECT_NAMES } from "../prepull/settings.ts";
import { decodeStatus, STATUS_KEY, type PrepullStatus } from "../prepull/status.ts";
import { ConfigMapRecordStore, FileRecordStore, type RecordStore } from "../prepull/stores.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import type { CliIo } from "./io.ts";
import { buildReport, formatTable } from "./prepull-status.ts";

const COMMAND = "prepull status";
const OUTPUTS = ["table", "json"] as const;
const REQUEST_TIMEOUT_MS = 30_000;

/** Runs `prepull <subcommand>`; only `status` exists. Returns the exit code. */
export async function runPrepull(args: readonly string[], io: CliIo): Promise<number> {
  const [subcommand, ...rest] = args;
  if (subcommand === "--help" || subcommand === "-h" || subcommand === "help") {
    io.stdout.write(
      "usage: kube-image-cache prepull status [--kubeconfig FILE [--context NAME]] [-n NAMESPACE] [--config FILE] [--record-file FILE] [-o table|json]\n",
    );
    return 0;
  }
  if (subcommand !== "status") {
    throw new UsageError(
      `prepull: unknown subcommand ${JSON.stringify(subcommand ?? "")}; expected "status"`,
    );
  }
  return runPrepullStatus(rest, io);
}

/** Prints the record and the status; resolves with the exit code. */
export async function runPrepullStatus(args: string[], io: CliIo): Promise<number> {
  const values = parseCommandArgs(COMMAND, args, {
    config: { type: "string" },
    kubeconfig: { type: "string" },
    context: { type: "string" },
    namespace: { type: "string", short: "n" },
    output: { type: "string", short: "o", default: "table" },
    "record-file": { type: "string" },
  });
  const output = values.output;
  if (!(OUTPUTS as readonly string[]).includes(output)) {
    throw new UsageError(`${COMMAND}: -o "${output}" is not a format; expected table or json`);
  }
  if (values["record-file"] !== undefined && values.kubeconfig !== undefined) {
    throw new UsageError(
      `${COMMAND}: --record-file and --kubeconfig exclude each other; pass --record-file for a ` +
        "local record, or --kubeconfig to read the cluster",
    );
  }

  const abort = new AbortController();
  try {
    const { store, status } = sources(values, abort.signal);
    const report = buildReport(await store.read(), await status());
    if (output === "json") {
      io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    } else if (report.images.length === 0) {
      io.stderr.write(`No cold images recorded in ${store.location}.\n`);
    } else {
      io.stdout.write(formatTable(report));
    }
    return 0;
  } finally {
    abort.abort();
  }
}

interface Sources {
  readonly store: RecordStore;
  readonly status: () => Promise<PrepullStatus | undefined>;
}

function sources(
  values: {
    config?: string;
    kubeconfig?: string;
    context?: string;
    namespace?: string;
    "record-file"?: string;
  },
  signal: AbortSignal,
): Sources {
  const logger = rootLogger();
  const recordFile = values["record-file"];
  if (recordFile !== undefined) {
    if (!existsSync(recordFile)) {
      throw new UsageError(
        `${COMMAND}: record file ${recordFile} does not exist; pass the file serve --record-file writes (npm start uses .tmp/cold-images.json)`,
      );
    }
    // A local run has no controller, so there is no status to show.
    return {
      store: new FileRecordStore(recordFile, logger),
      status: () => Promise.resolve(undefined),
    };
  }
  const config = values.config === undefined ? defaultConfig() : loadConfig(values.config);
  const namespace = values.namespace ?? config.webhook.namespace;
  const { kubeconfig, context } = values;
  const kubeConfig = loadKubeconfig(
    kubeconfig === undefined
      ? { kind: "in-cluster" }
      : { kind: "file", path: kubeconfig, ...(context === undefined ? {} : { context }) },
  );
  const api = createApiClient(CoreV1Api, kubeConfig, signal, REQUEST_TIMEOUT_MS);
  const document = new ConfigMapDocument({
    api,
    namespace,
    name: OBJECT_NAMES.status,
    key: STATUS_KEY,
  });
  return {
    store: new ConfigMapRecordStore({ api, namespace, logger }),
    status: async () => {
      const text = await document.read();
      return text === undefined ? undefined : decodeStatus(text);
    },
  };
}
