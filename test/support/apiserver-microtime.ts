// Decoding checks of the API-server double for fields the real API server parses strictly.
// A Lease's spec.acquireTime and spec.renewTime are metav1.MicroTime, which the API server
// decodes with the layout "2006-01-02T15:04:05.000000Z07:00": exactly six fractional digits.
// It rejects the three digits of JavaScript's Date.toISOString before any validation runs.
import { ApiFailure, type ResourceType } from "./apiserver-resources.ts";
import type { KubeObject } from "./apiserver-store.ts";

// RFC 3339 with exactly six fractional digits and a zone: "Z" or "+hh:mm".
const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(?:Z|[+-]\d{2}:\d{2})$/;

const MICRO_TIME_FIELDS: Readonly<Record<string, readonly string[]>> = {
  leases: ["acquireTime", "renewTime"],
};

/** Throws ApiFailure 400 when a MicroTime field of a written object has another format. */
export function checkMicroTimes(type: ResourceType, object: KubeObject): void {
  const spec = object["spec"];
  if (typeof spec !== "object" || spec === null) {
    return;
  }
  for (const name of MICRO_TIME_FIELDS[type.name] ?? []) {
    const value = (spec as Record<string, unknown>)[name];
    if (
      value !== undefined &&
      value !== null &&
      !(typeof value === "string" && MICRO_TIME.test(value))
    ) {
      throw new ApiFailure(
        "BadRequest",
        `${type.kind} in version "${type.version}" cannot be handled as a ${type.kind}: parsing ` +
          `time ${JSON.stringify(value)} as "2006-01-02T15:04:05.000000Z07:00"`,
      );
    }
  }
}
