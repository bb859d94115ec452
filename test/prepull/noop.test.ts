// The static no-op binary of the pull container: it must build without a libc in the target
// image and exit 0. The Dockerfile builds the same way.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

const SOURCE = "src/prepull/noop/noop.c";

test("noop builds static and exits 0", async (t) => {
  const directory = await mkdtemp(join(tmpdir(), "noop-"));
  t.after(() => rm(directory, { recursive: true, force: true }));
  const binary = join(directory, "noop");

  const build = spawnSync("gcc", ["-static", "-Os", "-s", "-o", binary, SOURCE], {
    encoding: "utf8",
  });
  if (build.error !== undefined || build.status !== 0) {
    // Without gcc or a static libc (Debian: libc6-dev) the binary cannot be built here.
    const reason = build.error?.message ?? build.stderr.trim();
    t.skip(`cannot build ${SOURCE} with gcc -static: ${reason}`);
    return;
  }
  const run = spawnSync(binary, [], { encoding: "utf8" });
  const file = spawnSync("file", [binary], { encoding: "utf8" });

  assert.ok(existsSync(binary));
  assert.equal(run.status, 0);
  assert.equal(run.stdout, "");
  if (file.error === undefined) {
    assert.match(file.stdout, /statically linked/);
  }
});
