// A reader for the Dockerfile's instructions, enough for tests to check its stages without a
// Docker engine: comments and blank lines dropped, backslash continuations joined, and the
// instructions grouped by the FROM that starts each stage.
import { readFileSync } from "node:fs";

/** One instruction: its keyword in upper case, its arguments, and its first line number. */
export interface Instruction {
  readonly keyword: string;
  readonly args: string;
  readonly line: number;
}

/** One build stage: the instructions after its FROM, up to the next FROM. */
export interface Stage {
  readonly name: string;
  /** The FROM argument before " AS name". */
  readonly base: string;
  readonly instructions: readonly Instruction[];
}

/** Reads the Dockerfile at `path` into its stages, in order. */
export function readDockerfile(path: string): { text: string; stages: Stage[] } {
  const text = readFileSync(path, "utf8");
  return { text, stages: groupStages(parseInstructions(text)) };
}

/** Splits Dockerfile text into instructions. Heredocs are not supported; the file has none. */
export function parseInstructions(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = "";
  let start = 0;
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    if (pending === "" && (line === "" || line.startsWith("#"))) {
      return;
    }
    if (pending === "") {
      start = index + 1;
    }
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1).trim()} `;
      return;
    }
    const whole = `${pending}${line}`.trim();
    pending = "";
    const space = whole.search(/\s/);
    const keyword = (space < 0 ? whole : whole.slice(0, space)).toUpperCase();
    instructions.push({
      keyword,
      args: space < 0 ? "" : whole.slice(space + 1).trim(),
      line: start,
    });
  });
  return instructions;
}

function groupStages(instructions: readonly Instruction[]): Stage[] {
  const stages: { name: string; base: string; instructions: Instruction[] }[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === "FROM") {
      // "FROM <image> AS <name>"; an unnamed stage is named by its index, as Docker does.
      const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      const base = match?.[1] ?? instruction.args;
      stages.push({ name: match?.[2] ?? String(stages.length), base, instructions: [] });
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return stages;
}

/** The COPY instructions of a stage, with their --from and --chmod flags, sources and target. */
export function copiesOf(stage: Stage): { from?: string; sources: string[]; target: string }[] {
  return stage.instructions
    .filter((instruction) => instruction.keyword === "COPY")
    .map((instruction) => {
      const words = instruction.args.split(/\s+/);
      const flags = words.filter((word) => word.startsWith("--"));
      const paths = words.filter((word) => !word.startsWith("--"));
      const from = flags.find((flag) => flag.startsWith("--from="))?.slice("--from=".length);
      return {
        ...(from === undefined ? {} : { from }),
        sources: paths.slice(0, -1),
        target: paths.at(-1) ?? "",
      };
    });
}

/**
 * Whether .dockerignore keeps `path` in the build context. Patterns are applied in order and
 * the last match decides; "*" matches every top-level entry, a directory pattern its contents.
 */
export function isInContext(path: string, dockerignore: string): boolean {
  let included = true;
  for (const raw of dockerignore.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) {
      continue;
    }
    const negated = line.startsWith("!");
    const pattern = (negated ? line.slice(1) : line).replace(/\/+$/, "");
    if (pattern === "*" || path === pattern || path.startsWith(`${pattern}/`)) {
      included = negated;
    }
  }
  return included;
}
