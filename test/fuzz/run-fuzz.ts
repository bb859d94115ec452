// The fuzz run shared by the CI test and bench/fuzz/run.ts: inputs generated in chunks from a
// seed, sent through the server, checked, and the first failure of each check shrunk to a
// minimal input by replaying its fast-check path.
import fc from "fast-check";

import { fuzzInput, type FuzzInput } from "./bodies.ts";
import { emptyTally, runBatch, type Failure, type Tally } from "./harness.ts";
import { startFuzzServer, type FuzzServer, type LogCounts } from "./server.ts";

/** Inputs generated, sent and checked together; one apiserver-jsonpatch run per chunk. */
const CHUNK_SIZE = 500;

export interface FuzzOptions {
  readonly seed: number;
  readonly count: number;
  /** Client timeout per request, in milliseconds; far above the server's deadline. */
  readonly timeoutMs?: number;
  /** Failures of each check to shrink; shrinking sends one request per attempt. */
  readonly shrinkPerCheck?: number;
  /** Called after each chunk with the inputs checked so far. */
  readonly progress?: (done: number, tally: Tally) => void;
}

/** A failure, where to replay it, and the smallest input fast-check found for it. */
export interface ShrunkFailure extends Failure {
  readonly seed: number;
  readonly path: string;
  readonly minimal?: string;
}

export interface FuzzResult {
  readonly tally: Tally;
  readonly shrunk: readonly ShrunkFailure[];
  readonly logCounts: LogCounts;
  readonly errorSamples: readonly string[];
  /** Whether the server still responded after the last input, to an empty POST /mutate. */
  readonly aliveAfter: boolean;
}

/** Builds the property the run checks one input at a time, to replay and shrink a failure. */
function singleInputProperty(server: FuzzServer) {
  return fc.asyncProperty(fuzzInput(server.maxBodyBytes), async (input) => {
    const tally = emptyTally();
    await runBatch(server, [input], tally, 1);
    return tally.failures.length === 0;
  });
}

/**
 * Returns the inputs fc.check generates for `seed`, in run order, so run i can be replayed with
 * path "i". fc.sample is not used: in fast-check 4.11 it biases some runs differently from
 * fc.check, so its values do not match a replayed path.
 */
function generateInputs(maxBodyBytes: number, seed: number, count: number): FuzzInput[] {
  const inputs: FuzzInput[] = [];
  const collect = fc.property(fuzzInput(maxBodyBytes), (input) => {
    inputs.push(input);
    return true;
  });
  fc.assert(collect, { seed, numRuns: count });
  return inputs;
}

/** Runs `count` inputs from `seed` through a fresh server and returns what was seen. */
export async function runFuzz(options: FuzzOptions): Promise<FuzzResult> {
  const server = await startFuzzServer(options.timeoutMs ?? 60_000);
  try {
    const property = singleInputProperty(server);
    const tally = emptyTally();
    const located: (Failure & { seed: number; path: string })[] = [];

    for (let start = 0, chunk = 0; start < options.count; start += CHUNK_SIZE, chunk += 1) {
      const size = Math.min(CHUNK_SIZE, options.count - start);
      const seed = options.seed + chunk;
      const inputs = generateInputs(server.maxBodyBytes, seed, size);
      const before = tally.failures.length;
      await runBatch(server, inputs, tally);
      for (const failure of tally.failures.slice(before)) {
        located.push({ ...failure, seed, path: String(failure.index) });
      }
      options.progress?.(start + size, tally);
    }

    const shrunk = await shrinkFailures(property, located, options.shrinkPerCheck ?? 1);
    const probe = await server.post(Buffer.from(""), {});
    return {
      tally,
      shrunk,
      logCounts: server.logCounts,
      errorSamples: server.errorSamples,
      aliveAfter: probe.kind === "response",
    };
  } finally {
    await server.stop();
  }
}

async function shrinkFailures(
  property: fc.IAsyncProperty<[FuzzInput]>,
  located: readonly (Failure & { seed: number; path: string })[],
  perCheck: number,
): Promise<ShrunkFailure[]> {
  const shrunk: ShrunkFailure[] = [];
  const seen = new Map<string, number>();
  for (const failure of located) {
    const count = seen.get(failure.check) ?? 0;
    seen.set(failure.check, count + 1);
    if (count >= perCheck) {
      shrunk.push(failure);
      continue;
    }
    const details = await fc.check(property, { seed: failure.seed, path: failure.path });
    const example = details.counterexample?.[0];
    shrunk.push(example === undefined ? failure : { ...failure, minimal: describeInput(example) });
  }
  return shrunk;
}

/** Shows an input as its source, headers and the start of its body. */
export function describeInput(input: FuzzInput): string {
  const text = input.body.toString("utf8");
  const body = text.length > 2000 ? `${text.slice(0, 2000)}…(${text.length} characters)` : text;
  return `${input.source} ${JSON.stringify(input.headers)} ${body}`;
}

/** Formats the counts of a run as lines of text. */
export function formatTally(result: FuzzResult): string[] {
  const { tally } = result;
  const sorted = <K>(map: Map<K, number>) =>
    [...map].sort((a, b) => b[1] - a[1]).map(([key, value]) => `${String(key)}=${value}`);
  const checks = new Map<string, number>();
  for (const failure of tally.failures) {
    checks.set(failure.check, (checks.get(failure.check) ?? 0) + 1);
  }
  return [
    `inputs: ${tally.inputs}`,
    `by source: ${sorted(tally.bySource).join(" ")}`,
    `by status: ${sorted(tally.byStatus).join(" ")}`,
    `patched responses: ${tally.patched}`,
    `patches applied by apiserver-jsonpatch: ${tally.patchesApplied}`,
    `valid input pods among them: ${tally.validInputPods}`,
    `mutated pods validated: ${tally.mutatedPodsValidated}`,
    `reinvocations: ${tally.reinvocations}`,
    `failures: ${tally.failures.length} ${sorted(checks).join(" ")}`,
    `server alive after the run: ${result.aliveAfter}`,
    `server log lines: ${sorted(result.logCounts).join("; ")}`,
  ];
}
