// The Dockerfile, read as text because no Docker engine runs here: its stages, the order that
// keeps dependency layers cached, npm's cache mounts, what the final stage holds, its user and
// its entrypoint. The build stage's own commands (npm ci, npm run typecheck) are what CI runs,
// and noop.test.ts compiles the no-op binary the way the noop stage does.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";

import { DEFAULT_PREPULL_SETTINGS } from "../../src/prepull/settings.ts";
import { copiesOf, isInContext, readDockerfile, type Stage } from "./dockerfile.ts";

const { text, stages } = readDockerfile("Dockerfile");
const DOCKERIGNORE = readFileSync(".dockerignore", "utf8");

function stage(name: string): Stage {
  const found = stages.find((candidate) => candidate.name === name);
  assert.ok(found, `no stage named ${name}; stages: ${stages.map((s) => s.name).join(", ")}`);
  return found;
}

/** Position of the first instruction of `keyword` whose arguments match `pattern`. */
function indexOf(target: Stage, keyword: string, pattern: RegExp): number {
  const index = target.instructions.findIndex(
    (instruction) => instruction.keyword === keyword && pattern.test(instruction.args),
  );
  assert.ok(index >= 0, `stage ${target.name} has no ${keyword} matching ${String(pattern)}`);
  return index;
}

const FINAL = stages.at(-1) as Stage;

describe("Dockerfile stages", () => {
  it("declares the BuildKit syntax", () => {
    // Cache mounts and COPY --chmod need the dockerfile:1 frontend.
    assert.match(text.split("\n")[0] ?? "", /^# syntax=docker\/dockerfile:1$/);
  });

  it("has the expected stages", () => {
    assert.deepEqual(
      stages.map((s) => s.name),
      ["deps", "build", "noop", "runtime"],
    );
  });

  it("installs dependencies before sources", () => {
    const deps = stage("deps");
    const manifests = indexOf(deps, "COPY", /^package\.json package-lock\.json /);
    const install = indexOf(deps, "RUN", /npm ci/);

    assert.ok(manifests < install);
    assert.ok(
      deps.instructions.every((i) => i.keyword !== "COPY" || !/\bsrc\b/.test(i.args)),
      "the deps stage must not copy sources, or every source change reinstalls",
    );
  });

  it("type-checks in the build stage", () => {
    const build = stage("build");

    assert.equal(build.base, "deps");
    assert.ok(indexOf(build, "RUN", /npm run typecheck/) > indexOf(build, "COPY", /^src /));
  });

  it("caches npm downloads", () => {
    const installs = stages.flatMap((s) =>
      s.instructions.filter((i) => i.keyword === "RUN" && /npm ci/.test(i.args)),
    );

    assert.equal(installs.length, 2);
    for (const install of installs) {
      assert.match(install.args, /--mount=type=cache,target=\/root\/\.npm/, `line ${install.line}`);
    }
  });

  it("copies only what .dockerignore keeps", () => {
    const sources = stages.flatMap((s) =>
      copiesOf(s)
        .filter((copy) => copy.from === undefined)
        .flatMap((copy) => copy.sources),
    );

    for (const source of sources) {
      assert.ok(existsSync(source), `${source} does not exist`);
      assert.ok(isInContext(source, DOCKERIGNORE), `.dockerignore leaves out ${source}`);
    }
  });
});

describe("Dockerfile noop stage", () => {
  const noop = stage("noop");

  it("compiles noop.c statically", () => {
    indexOf(noop, "COPY", /^src\/prepull\/noop\/noop\.c /);
    indexOf(noop, "RUN", /gcc -static .*noop\.c/);
  });

  it("caches apt downloads", () => {
    const install = noop.instructions[indexOf(noop, "RUN", /apt-get install/)];

    assert.match(install?.args ?? "", /--mount=type=cache,target=\/var\/cache\/apt/);
    assert.match(install?.args ?? "", /--mount=type=cache,target=\/var\/lib\/apt/);
  });
});

describe("Dockerfile final stage", () => {
  it("copies exactly these files", () => {
    const copies = copiesOf(FINAL).map(
      (copy) => `${copy.from ?? "context"}: ${copy.sources.join(" ")} -> ${copy.target}`,
    );

    assert.deepEqual(copies, [
      "context: package.json package-lock.json -> ./",
      `noop: /kube-image-cache-noop -> ${DEFAULT_PREPULL_SETTINGS.helperBinaryPath}`,
      "context: tsconfig.json -> ./",
      "build: /app/src -> ./src",
    ]);
  });

  it("installs production dependencies only", () => {
    const installs = FINAL.instructions.filter((i) => i.keyword === "RUN" && /npm /.test(i.args));

    assert.equal(installs.length, 1);
    assert.match(installs[0]?.args ?? "", /npm ci --omit=dev/);
  });

  it("makes the noop binary executable", () => {
    const copy = FINAL.instructions[indexOf(FINAL, "COPY", /--from=noop/)];

    assert.match(copy?.args ?? "", /--chmod=0?755/);
  });

  it("runs as uid 65532", () => {
    const users = FINAL.instructions.filter((i) => i.keyword === "USER");
    const lastRun = FINAL.instructions.findLastIndex((i) => i.keyword === "RUN");
    const userIndex = FINAL.instructions.findLastIndex((i) => i.keyword === "USER");

    assert.deepEqual(
      users.map((user) => user.args),
      ["65532:65532"],
    );
    assert.ok(userIndex > lastRun, "USER must follow the last RUN, or that RUN runs as root");
  });

  it("enters serve through tsx", () => {
    const entrypoint = FINAL.instructions.find((i) => i.keyword === "ENTRYPOINT");
    const command = FINAL.instructions.find((i) => i.keyword === "CMD");

    assert.deepEqual(JSON.parse(entrypoint?.args ?? "null"), [
      "node",
      "--import",
      "tsx",
      "src/cli/main.ts",
    ]);
    assert.deepEqual(JSON.parse(command?.args ?? "null"), ["serve"]);
  });

  it("disables the tsx disk cache", () => {
    indexOf(FINAL, "ENV", /^TSX_DISABLE_CACHE=1$/);
  });
});
