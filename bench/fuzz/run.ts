// The admission fuzzer's full run: COUNT inputs from SEED through the real HTTPS server, with
// the same generators and checks as test/fuzz/admission-fuzz.test.ts. Prints the counts and each
// failure with the smallest input that still fails.
//
// Run: node --import tsx bench/fuzz/run.ts [SEED] [COUNT]     (defaults: 7 and 100000)
import { formatTally, runFuzz } from "../../test/fuzz/run-fuzz.ts";

function parseCount(text: string | undefined, fallback: number, name: string): number {
  if (text === undefined) {
    return fallback;
  }
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new Error(`${name} "${text}" is invalid; expected a non-negative integer`);
  }
  return value;
}

const seed = parseCount(process.argv[2], 7, "SEED");
const count = parseCount(process.argv[3], 100_000, "COUNT");
const started = performance.now();

const result = await runFuzz({
  seed,
  count,
  shrinkPerCheck: 1,
  progress: (done, tally) => {
    if (done % 5000 === 0 || done === count) {
      const seconds = ((performance.now() - started) / 1000).toFixed(0);
      console.error(`${done}/${count} inputs, ${tally.failures.length} failures, ${seconds} s`);
    }
  },
});

console.log(
  `seed ${seed}, ${count} inputs, ${((performance.now() - started) / 1000).toFixed(0)} s`,
);
for (const line of formatTally(result)) {
  console.log(line);
}
for (const sample of result.errorSamples.slice(0, 5)) {
  console.log(`\nlogged: ${sample.slice(0, 1500)}`);
}
for (const failure of result.shrunk.slice(0, 50)) {
  console.log(
    `\n${failure.check} (${failure.source}, seed ${failure.seed} path ${failure.path}): ` +
      failure.detail,
  );
  if (failure.minimal !== undefined) {
    console.log(`  minimal input: ${failure.minimal}`);
  }
}
process.exitCode = result.tally.failures.length === 0 && result.aliveAfter ? 0 : 1;
