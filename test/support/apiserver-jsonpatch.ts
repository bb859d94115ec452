// Applies JSON patches the way the Kubernetes API server applies a mutating webhook's patch, by
// running the Go tool apiserver-jsonpatch (evanphx/json-patch v4: DecodePatch, then Apply).
// fast-json-patch accepts patches the API server rejects (an add under a missing parent, a
// remove of a missing key, a replace past the end of an array), so tests of our patches use this.
// NOTE: the tool links Debian's json-patch 5.2.0 through its v4 API. The API server pins v4.12.0,
// which also accepts replace and test on the root path "", so the tool rejects those two wrongly.
import { accessSync, constants } from "node:fs";
import { spawnSync } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const DEFAULT_TOOL = resolve(REPO_ROOT, "..", "shared", "tools", "bin", "apiserver-jsonpatch");
const BUILD_SCRIPT = resolve(REPO_ROOT, "..", "shared", "tools", "apiserver-jsonpatch", "build.sh");

/** Maximum size of the tool's output for one batch, far above what a batch of large pods needs. */
const MAX_OUTPUT_BYTES = 256 * 1024 * 1024;

/** One document and the RFC 6902 patch to apply to it. */
export interface PatchItem {
  readonly doc: unknown;
  readonly patch: unknown;
}

/** The patched document, or the library's error message when the API server would reject it. */
export type PatchResult =
  | { readonly ok: true; readonly doc: unknown; readonly error?: undefined }
  | { readonly ok: false; readonly doc?: undefined; readonly error: string };

/**
 * Returns the path of the apiserver-jsonpatch binary: $APISERVER_JSONPATCH when set, otherwise
 * `<repo>/../shared/tools/bin/apiserver-jsonpatch`. Throws when the file is missing or not
 * executable, with the command that builds it.
 */
export function resolveApiserverJsonpatch(): string {
  const override = process.env.APISERVER_JSONPATCH;
  const path = override !== undefined && override !== "" ? resolve(override) : DEFAULT_TOOL;

  try {
    accessSync(path, constants.X_OK);
  } catch (err: unknown) {
    const source = path === DEFAULT_TOOL ? "default path" : "$APISERVER_JSONPATCH";
    throw new Error(
      `apiserver-jsonpatch not found or not executable at ${path} (${source}); ` +
        `build it with ${BUILD_SCRIPT}, or set APISERVER_JSONPATCH to a built binary`,
      { cause: err },
    );
  }
  return path;
}

/** Applies one patch to one document, as applyPatches does for many. */
export function applyPatch(doc: unknown, patch: unknown): PatchResult {
  const [result] = applyPatches([{ doc, patch }]);
  if (result === undefined) {
    throw new Error("apiserver-jsonpatch returned no result for a single patch");
  }
  return result;
}

/**
 * Applies each item's patch to its document through one `apiserver-jsonpatch --lines` process and
 * returns one result per item, in input order. A rejected patch is a result with `ok: false`.
 * Throws when the tool is missing, exits non-zero, or returns the wrong number of lines.
 */
export function applyPatches(items: readonly PatchItem[]): PatchResult[] {
  if (items.length === 0) {
    return [];
  }
  const tool = resolveApiserverJsonpatch();
  // JSON.stringify escapes newlines inside strings, so each item is exactly one line.
  const input = items
    .map((item) => JSON.stringify({ doc: item.doc, patch: item.patch }))
    .join("\n");

  const run = spawnSync(tool, ["--lines"], {
    input: `${input}\n`,
    encoding: "utf8",
    maxBuffer: MAX_OUTPUT_BYTES,
  });
  if (run.error !== undefined) {
    throw new Error(`failed to run ${tool} --lines: ${run.error.message}`, { cause: run.error });
  }
  if (run.status !== 0) {
    const exit = run.status === null ? `signal ${run.signal}` : `exit code ${run.status}`;
    throw new Error(`${tool} --lines failed with ${exit}: ${run.stderr.trim()}`);
  }

  const lines = run.stdout.split("\n").filter((line) => line !== "");
  if (lines.length !== items.length) {
    throw new Error(`${tool} --lines returned ${lines.length} results for ${items.length} patches`);
  }
  return lines.map((line, index) => parseResultLine(line, index));
}

function parseResultLine(line: string, index: number): PatchResult {
  const raw: unknown = JSON.parse(line);
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new Error(`apiserver-jsonpatch result ${index} is not a JSON object: ${line}`);
  }

  const { ok, doc, error } = raw as Record<string, unknown>;
  if (ok === true && doc !== undefined) {
    return { ok: true, doc };
  }
  if (ok === false && typeof error === "string") {
    return { ok: false, error };
  }
  throw new Error(`apiserver-jsonpatch result ${index} has an unexpected shape: ${line}`);
}
