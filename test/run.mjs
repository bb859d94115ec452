// Runs every *.test.ts under test/ with Node's test runner and tsx:
//   node --import tsx --test [options] <files>
// Node 20 does not expand globs in --test arguments, so this script finds the files itself and
// passes them in sorted order. Arguments starting with "-" go to Node before the files (use the
// --name=value form, e.g. --test-name-pattern=weight); any other argument keeps only the test
// files whose path relative to the repository contains it, e.g. `npm run test:unit -- schema`.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const TEST_DIR = join(REPO_ROOT, "test");
const TEST_FILE_SUFFIX = ".test.ts";

/** Lists test files under `dir`, depth first, skipping node_modules and dot folders. */
function findTestFiles(dir) {
  const files = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== "node_modules" && !entry.name.startsWith(".")) {
      files.push(...findTestFiles(path));
    } else if (entry.isFile() && entry.name.endsWith(TEST_FILE_SUFFIX)) {
      files.push(path);
    }
  }
  return files;
}

function main(args) {
  const nodeOptions = args.filter((arg) => arg.startsWith("-"));
  const filters = args.filter((arg) => !arg.startsWith("-"));

  // The default sort compares UTF-16 code units, not the locale, so the order is the same on
  // every machine.
  const all = findTestFiles(TEST_DIR)
    .map((path) => relative(REPO_ROOT, path).split(sep).join("/"))
    .sort();
  const selected = all.filter(
    (file) => filters.length === 0 || filters.some((filter) => file.includes(filter)),
  );

  // Node's runner would otherwise search its own default patterns, or report success on nothing.
  if (selected.length === 0) {
    const matching = filters.length === 0 ? "" : ` matching ${filters.join(", ")}`;
    console.error(`test/run.mjs: no *${TEST_FILE_SUFFIX} files${matching} under ${TEST_DIR}`);
    return 1;
  }

  const run = spawnSync(
    process.execPath,
    ["--import", "tsx", "--test", ...nodeOptions, ...selected],
    { cwd: REPO_ROOT, stdio: "inherit" },
  );
  if (run.error !== undefined) {
    console.error(`test/run.mjs: failed to start ${process.execPath}: ${run.error.message}`);
    return 1;
  }
  if (run.status === null) {
    console.error(`test/run.mjs: the test runner was stopped by ${run.signal}`);
    return 1;
  }
  return run.status;
}

process.exitCode = main(process.argv.slice(2));
