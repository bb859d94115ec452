// Reading one value of a prom-client metric in tests of registry and mirror components.
import type { Registry } from "prom-client";

/**
 * Returns the value of the series of `name` whose labels include `labels`, or undefined when the
 * metric or series does not exist. Histograms are not supported.
 */
export async function metricValue(
  registry: Registry,
  name: string,
  labels: Readonly<Record<string, string>>,
): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) {
    return undefined;
  }
  const { values } = await metric.get();
  const series = values.find((value) =>
    Object.entries(labels).every(([key, expected]) => value.labels[key] === expected),
  );
  return series?.value;
}
