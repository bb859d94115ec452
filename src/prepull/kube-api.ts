// API clients for the record, the pull pods and the lease: each request ends after a timeout or
// when the owner's abort signal fires, and failures become ClusterRequestErrors with the HTTP
// status and the API server's message.
import { ApiException } from "@kubernetes/client-node";

import { ClusterRequestError } from "../inventory/cluster-errors.ts";
import { field, stringField } from "../object-fields.ts";

// The inventory's client factory serves the pre-puller too.
export { createApiClient } from "../inventory/kube-client.ts";

/** Returns the HTTP status of a failed client call, or undefined when no response came back. */
export function statusOf(error: unknown): number | undefined {
  if (error instanceof ClusterRequestError) {
    return error.code;
  }
  const code = error instanceof ApiException ? field(error, "code") : undefined;
  return typeof code === "number" ? code : undefined;
}

/**
 * Wraps a failed client call as "<context>: HTTP <status>: <message>", with the API server's
 * Status message when it sent one.
 */
export function requestError(context: string, error: unknown): ClusterRequestError {
  if (error instanceof ClusterRequestError) {
    return error;
  }
  const status = statusOf(error);
  if (status !== undefined) {
    const message = stringField(parsedBody(error), "message");
    const detail = message === undefined ? "" : `: ${message}`;
    return new ClusterRequestError(`${context}: HTTP ${status}${detail}`, status, {
      cause: error,
    });
  }
  const reason = error instanceof Error ? error.message : String(error);
  return new ClusterRequestError(`${context}: ${reason}`, undefined, { cause: error });
}

/** The Status body of an ApiException; client-node passes it parsed, or as text. */
function parsedBody(error: unknown): unknown {
  const body = field(error, "body");
  if (typeof body !== "string") {
    return body;
  }
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}

/** Sleeps `ms` milliseconds, or less when `signal` aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) {
      resolve();
      return;
    }
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
