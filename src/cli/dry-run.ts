// `kube-image-cache dry-run`: runs the admission pipeline on files and prints the decisions and
// the patch, without a server or a cluster.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

import jsonpatch from "fast-json-patch";
import { parseAllDocuments } from "yaml";

import type { MutationContext, MutationResult } from "../admission/contract.ts";
import { mutatePod, skipped } from "../admission/pod-mutation.ts";
import { reviewAdmission, serializeReview } from "../admission/review.ts";
import { patchUnderPath } from "../admission/patch.ts";
import { field, stringField } from "../object-fields.ts";
import { UsageError } from "./args.ts";
import { loadDryRunContext, type ContextSources } from "./dry-run-context.ts";
import { formatSummary } from "./dry-run-format.ts";
import { reportCommandError } from "./command-errors.ts";
import type { CliIo } from "./io.ts";
import { classifyDocuments, describeObject, valueAtPath, type InputItem } from "./workloads.ts";

const OUTPUT_FORMATS = ["summary", "patch", "pod", "review", "json"] as const;
type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** One input item after the pipeline ran, as -o json prints it (plus fields for the summary). */
export interface DryRunEntry {
  readonly label: string;
  readonly result: MutationResult;
  /** The response review, for AdmissionReview inputs. */
  readonly review?: Record<string, unknown>;
}

export const DRY_RUN_USAGE = `usage: kube-image-cache dry-run [--config FILE] [--nodes FILE | --kubeconfig FILE [--context NAME]] [--offline] [-n NAMESPACE] [-o FORMAT] FILE|-
  --config FILE     configuration (YAML or JSON); default: built-in defaults, which rewrite nothing
  --nodes FILE      node snapshot (a NodeList); default: none, so no hints and no cold images
  --kubeconfig FILE list the cluster's nodes once instead (--context NAME picks a context)
  --offline         read no image manifests from registries; hints then match whole images
  -n, --namespace   namespace for objects that do not name one; default: "default"
  -o, --output      summary (default), patch, pod, review (AdmissionReview input only) or json
  FILE|-            a Pod, workload, List, multi-document YAML or AdmissionReview; - reads stdin`;

/** Runs dry-run and returns the exit code: 0 ok, 2 invalid arguments or input, 3 invalid configuration, 1 internal error. */
export async function runDryRun(args: string[], io: CliIo): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    io.stdout.write(`${DRY_RUN_USAGE}\n`);
    return 0;
  }
  try {
    const options = parseDryRunArgs(args);
    const text = await readInput(options.file, io);
    const documents = parseDocuments(text, options.file);
    const context = await loadDryRunContext(options.sources, documents);
    const entries = processItems(documents, options.namespace, context);
    io.stdout.write(render(entries, options.output, options.file));
    return 0;
  } catch (error: unknown) {
    return reportCommandError("dry-run", error, io);
  }
}

interface DryRunOptions {
  readonly file: string;
  readonly sources: ContextSources;
  readonly namespace: string;
  readonly output: OutputFormat;
}

function parseDryRunArgs(args: string[]): DryRunOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: {
        config: { type: "string" },
        nodes: { type: "string" },
        kubeconfig: { type: "string" },
        context: { type: "string" },
        offline: { type: "boolean" },
        namespace: { type: "string", short: "n" },
        output: { type: "string", short: "o" },
      },
    });
  } catch (error: unknown) {
    throw new UsageError(
      `dry-run: ${error instanceof Error ? error.message : String(error)}\n${DRY_RUN_USAGE}`,
    );
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1 || positionals[0] === undefined) {
    throw new UsageError(
      `dry-run: expected exactly one input FILE (or - for stdin), got ${positionals.length}\n${DRY_RUN_USAGE}`,
    );
  }
  const output = values.output ?? "summary";
  if (!(OUTPUT_FORMATS as readonly string[]).includes(output)) {
    throw new UsageError(
      `dry-run: -o "${output}" is not an output format; expected one of ${OUTPUT_FORMATS.join(", ")}`,
    );
  }
  return {
    file: positionals[0],
    namespace: values.namespace ?? "default",
    output: output as OutputFormat,
    sources: contextSources(values),
  };
}

function contextSources(values: {
  config?: string;
  nodes?: string;
  kubeconfig?: string;
  context?: string;
  offline?: boolean;
}): ContextSources {
  if (values.nodes !== undefined && values.kubeconfig !== undefined) {
    throw new UsageError("dry-run: --nodes and --kubeconfig exclude each other; pass one");
  }
  if (values.context !== undefined && values.kubeconfig === undefined) {
    throw new UsageError("dry-run: --context needs --kubeconfig FILE");
  }
  return {
    offline: values.offline === true,
    ...(values.config === undefined ? {} : { configPath: values.config }),
    ...(values.nodes === undefined ? {} : { nodesPath: values.nodes }),
    ...(values.kubeconfig === undefined ? {} : { kubeconfigPath: values.kubeconfig }),
    ...(values.context === undefined ? {} : { kubeContext: values.context }),
  };
}

async function readInput(file: string, io: CliIo): Promise<string> {
  if (file !== "-") {
    try {
      return readFileSync(file, "utf8");
    } catch (error: unknown) {
      throw new UsageError(
        `dry-run: cannot read input file ${file}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  const chunks: Buffer[] = [];
  for await (const chunk of io.stdin) {
    chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function parseDocuments(text: string, file: string): unknown[] {
  const start = text.trimStart()[0];
  if (start === "{" || start === "[") {
    try {
      // JSON as the API server reads it: duplicate keys resolve to the last, deep nesting is fine.
      return checkObjects([JSON.parse(text) as unknown], file);
    } catch (error: unknown) {
      if (error instanceof UsageError) {
        throw error;
      }
      // Not JSON after all (YAML flow style also starts with "{"); the YAML parser decides.
    }
  }
  const documents = parseAllDocuments(text);
  const list = Array.isArray(documents) ? documents : [documents];
  const values: unknown[] = [];
  for (const document of list) {
    const problem = document.errors[0];
    if (problem !== undefined) {
      throw new UsageError(`dry-run: ${file} is not valid YAML or JSON: ${problem.message}`);
    }
    const value: unknown = document.toJS();
    if (value !== null && value !== undefined) {
      values.push(value);
    }
  }
  return checkObjects(values, file);
}

function checkObjects(values: unknown[], file: string): unknown[] {
  if (values.length === 0) {
    throw new UsageError(
      `dry-run: ${file} contains no objects; expected a Pod, workload, List or AdmissionReview`,
    );
  }
  const index = values.findIndex((value) => typeof value !== "object" || value === null);
  if (index >= 0) {
    throw new UsageError(
      `dry-run: document ${index + 1} of ${file} is not a Kubernetes object (got ${JSON.stringify(values[index])?.slice(0, 40) ?? "nothing"}); expected a Pod, workload, List or AdmissionReview`,
    );
  }
  return values;
}

/** Runs the pipeline on every item: the same functions the server calls. */
export function processItems(
  documents: readonly unknown[],
  namespace: string,
  context: MutationContext,
): DryRunEntry[] {
  return classifyDocuments(documents).map((item) => processItem(item, namespace, context));
}

function processItem(
  item: InputItem,
  fallbackNamespace: string,
  context: MutationContext,
): DryRunEntry {
  const namespace = stringField(field(item.object, "metadata"), "namespace") ?? fallbackNamespace;
  switch (item.type) {
    case "review": {
      const outcome = reviewAdmission(item.object, context);
      if (outcome.kind === "invalid") {
        throw new UsageError(`dry-run: AdmissionReview is not valid: ${outcome.message}`);
      }
      const label = describeObject(
        field(field(item.object, "request"), "object"),
        outcome.request.namespace,
      );
      return {
        label: `AdmissionReview ${outcome.request.uid}: ${label}`,
        result: outcome.result,
        review: outcome.review,
      };
    }
    case "pod":
      return {
        label: describeObject(item.object, namespace),
        result: mutatePod(item.object, namespace, { kind: "create" }, context),
      };
    case "workload":
      return {
        label: describeObject(item.object, namespace),
        result: mutateTemplate(item.object, item.templatePath, namespace, context),
      };
    case "unsupported":
      return {
        label: describeObject(item.object, undefined),
        result: skipped(item.object, item.reason),
      };
  }
}

/** Mutates a workload's pod template; the patch paths and the object are the workload's. */
function mutateTemplate(
  workload: Record<string, unknown>,
  templatePath: string,
  namespace: string,
  context: MutationContext,
): MutationResult {
  const template = valueAtPath(workload, templatePath);
  if (typeof template !== "object" || template === null) {
    const kind = String(workload["kind"]);
    return skipped(workload, `${kind} has no pod template at ${templatePath}`);
  }
  const result = mutatePod(template, namespace, { kind: "create" }, context);
  const patch = patchUnderPath(result.patch, templatePath);
  const object =
    patch.length === 0
      ? workload
      : jsonpatch.applyPatch(structuredClone(workload), patch, false, true).newDocument;
  return { ...result, patch, object };
}

function render(entries: readonly DryRunEntry[], output: OutputFormat, file: string): string {
  switch (output) {
    case "summary":
      return formatSummary(entries);
    case "patch":
      // One input object prints its patch; several print one JSON array of patches, in order.
      return `${JSON.stringify(entries.length === 1 ? entries[0]?.result.patch : entries.map((entry) => entry.result.patch), null, 2)}\n`;
    case "pod":
      return `${JSON.stringify(entries.length === 1 ? entries[0]?.result.object : { apiVersion: "v1", kind: "List", items: entries.map((entry) => entry.result.object) }, null, 2)}\n`;
    case "review":
      return renderReviews(entries, file);
    case "json":
      return `${JSON.stringify(entries.map(toJsonEntry), null, 2)}\n`;
  }
}

function renderReviews(entries: readonly DryRunEntry[], file: string): string {
  const reviews = entries.map((entry) => entry.review);
  if (reviews.length === 0 || reviews.some((review) => review === undefined)) {
    throw new UsageError(
      `dry-run: -o review needs AdmissionReview input, but ${file} contains other objects; use -o json or -o patch`,
    );
  }
  return reviews.map((review) => serializeReview(review ?? {})).join("\n");
}

/** Builds the -o json element, a contract that scripts rely on. */
export function toJsonEntry(entry: DryRunEntry): Record<string, unknown> {
  const { result } = entry;
  return {
    patch: result.patch,
    object: result.object,
    containers: result.containers.map((container) => ({
      name: container.name,
      image: container.image,
      result: container.result,
      rewrittenImage: container.rewrittenImage ?? null,
      reason: container.reason,
    })),
    preferredNodes: result.preferredNodes,
    coldImages: result.coldImages,
    warnings: result.warnings,
    ...(result.skipReason === undefined ? {} : { skipReason: result.skipReason }),
    ...(result.localityReason === undefined ? {} : { localityReason: result.localityReason }),
    ...(result.localityBasis === undefined ? {} : { localityBasis: result.localityBasis }),
  };
}
