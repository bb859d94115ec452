// Kubernetes resource quantities ("250m", "2", "512Mi", "1.5G"), read into plain numbers.

// Suffixes from the Kubernetes quantity format: binary (Ki..Ei), decimal (k..E) and milli.
const MULTIPLIERS: ReadonlyMap<string, number> = new Map([
  ["", 1],
  ["m", 1e-3],
  ["k", 1e3],
  ["M", 1e6],
  ["G", 1e9],
  ["T", 1e12],
  ["P", 1e15],
  ["E", 1e18],
  ["Ki", 2 ** 10],
  ["Mi", 2 ** 20],
  ["Gi", 2 ** 30],
  ["Ti", 2 ** 40],
  ["Pi", 2 ** 50],
  ["Ei", 2 ** 60],
]);

/** Matches a quantity: a signed decimal number, an optional exponent or suffix. */
const QUANTITY =
  /^([+-]?(?:\d+\.?\d*|\.\d+))(?:[eE]([+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E))?$/;

/** Parses a quantity to its value in base units; undefined when it is not a quantity. */
export function parseQuantity(value: unknown): number | undefined {
  if (typeof value === "number") {
    return Number.isFinite(value) ? value : undefined;
  }
  if (typeof value !== "string") {
    return undefined;
  }
  const match = QUANTITY.exec(value.trim());
  if (match === null) {
    return undefined;
  }
  const [, number = "0", exponent, suffix = ""] = match;
  const scale = exponent === undefined ? (MULTIPLIERS.get(suffix) ?? 1) : 10 ** Number(exponent);
  return Number(number) * scale;
}

/** Parses a CPU quantity to millicores, rounding up as the scheduler does. */
export function parseMilliCpu(value: unknown): number | undefined {
  const cores = parseQuantity(value);
  return cores === undefined ? undefined : Math.ceil(cores * 1000 - 1e-9);
}
