// The pre-puller's no-op binary, built as the Dockerfile's noop stage builds it: linked
// statically, it must exit 0 and ask for no program interpreter (dynamic loader). Needs gcc and
// the static C library (Debian: gcc and libc6-dev). Without them the test is skipped with the
// reason, except in CI (CI=true), where it fails so that a missing install step shows.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it, type TestContext } from "node:test";

const SOURCE = "src/prepull/noop/noop.c";
// ELF program header type of the interpreter request (PT_INTERP in the System V ABI).
const PT_INTERP = 3;

const directory = mkdtempSync(join(tmpdir(), "kic-noop-"));
const binary = join(directory, "kube-image-cache-noop");

/** Compiles noop.c; returns why it could not, or undefined on success. */
function compile(): string | undefined {
  const run = spawnSync("gcc", ["-static", "-Os", "-s", "-o", binary, SOURCE], {
    encoding: "utf8",
  });
  if (run.error !== undefined) {
    return `gcc could not be started (${run.error.message}); install it with apt-get install gcc`;
  }
  if (run.status !== 0 && /cannot find -lc\b/.test(run.stderr)) {
    return "the static C library (libc.a) is missing; install it with apt-get install libc6-dev";
  }
  if (run.status !== 0) {
    return `gcc -static failed with exit code ${String(run.status)}:\n${run.stderr}`;
  }
  return undefined;
}

/** Program header types of a 64-bit little-endian ELF file. */
function programHeaderTypes(file: Buffer): number[] {
  assert.equal(file.toString("latin1", 0, 4), "\x7fELF", "not an ELF file");
  assert.equal(file[4], 2, "not a 64-bit ELF file");
  assert.equal(file[5], 1, "not a little-endian ELF file");
  const offset = Number(file.readBigUInt64LE(0x20));
  const entrySize = file.readUInt16LE(0x36);
  const count = file.readUInt16LE(0x38);
  return Array.from({ length: count }, (_, index) => file.readUInt32LE(offset + index * entrySize));
}

function skipOrFail(t: TestContext, reason: string): void {
  if (process.env["CI"] === "true") {
    assert.fail(reason);
  }
  t.skip(reason);
}

describe("noop binary", () => {
  const problem = compile();

  after(() => rmSync(directory, { recursive: true, force: true }));

  it("is linked statically", (t) => {
    if (problem !== undefined) {
      skipOrFail(t, problem);
      return;
    }
    assert.ok(!programHeaderTypes(readFileSync(binary)).includes(PT_INTERP));
  });

  it("exits 0", (t) => {
    if (problem !== undefined) {
      skipOrFail(t, problem);
      return;
    }
    const run = spawnSync(binary, ["any", "arguments"]);

    assert.equal(run.status, 0);
  });
});
