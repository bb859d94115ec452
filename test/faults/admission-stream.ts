// A steady stream of admissions against a running webhook while a test injects a fault: a few
// workers post reviews back to back on keep-alive connections and keep every response.
import assert from "node:assert/strict";
import { Agent } from "node:https";

import { isDeadlineWarning, patchProblems, sendAdmission, type Admission } from "./admissions.ts";

/** One request of the stream and what came back. */
export interface StreamedAdmission {
  readonly uid: string;
  /** The decoded response, or undefined when the request failed without one. */
  readonly admission?: Admission;
  /** The error code and message of a request that failed without a response. */
  readonly error?: string;
}

/** A running stream. */
export interface AdmissionStream {
  /** Every request sent so far, in completion order. */
  readonly results: () => readonly StreamedAdmission[];
  /** The most recent response, if any. */
  readonly latest: () => Admission | undefined;
  /** Stops the workers after their current request and returns every result. */
  readonly stop: () => Promise<readonly StreamedAdmission[]>;
}

/** Settings of a stream. */
export interface StreamOptions {
  /** Loops posting at once; default 4. */
  readonly workers?: number;
  /** Reuse connections (default), or open a new one, with a new TLS handshake, per request. */
  readonly keepAlive?: boolean;
  /** Distinguishes the uids of streams running at once; default 0. */
  readonly streamId?: number;
}

/** Starts loops posting reviews of `pod`; each request gets a new uid. */
export function startAdmissionStream(
  url: string,
  ca: Buffer,
  pod: Record<string, unknown>,
  { workers = 4, keepAlive = true, streamId = 0 }: StreamOptions = {},
): AdmissionStream {
  const results: StreamedAdmission[] = [];
  let latest: Admission | undefined;
  let stopped = false;
  let sequence = 0;

  const work = async (agent: Agent | undefined): Promise<void> => {
    while (!stopped) {
      sequence += 1;
      const stream = String(streamId).padStart(4, "0");
      const uid = `5ea11e55-${stream}-4000-8000-${String(sequence).padStart(12, "0")}`;
      try {
        const admission = await sendAdmission(url, ca, pod, uid, agent);
        latest = admission;
        results.push({ uid, admission });
      } catch (error: unknown) {
        results.push({ uid, error: describeError(error) });
      }
      // Yield, so the event loop also serves the inventory's watches between requests.
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  const agents = Array.from({ length: workers }, () =>
    keepAlive ? new Agent({ keepAlive: true, ca }) : undefined,
  );
  const running = Promise.all(agents.map(work));

  return {
    results: () => [...results],
    latest: () => latest,
    stop: async () => {
      stopped = true;
      await running;
      agents.forEach((agent) => agent?.destroy());
      return [...results];
    },
  };
}

/** Returns the error's code (such as ECONNRESET) and message. */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) {
    return String(error);
  }
  const code = (error as NodeJS.ErrnoException).code;
  return code === undefined ? error.message : `${code}: ${error.message}`;
}

/**
 * Asserts every streamed request got a 200 echoing its uid, admitted the pod before the
 * deadline, and carried a patch the API server's library applies to a valid pod.
 */
export function assertAllAdmitted(results: readonly StreamedAdmission[]): void {
  assert.ok(results.length > 0);
  const admissions: Admission[] = [];
  for (const { uid, admission, error } of results) {
    assert.equal(error, undefined);
    assert.equal(admission?.status, 200);
    assert.equal(admission.uid, uid);
    assert.equal(admission.allowed, true);
    assert.deepEqual(admission.warnings.filter(isDeadlineWarning), []);
    admissions.push(admission);
  }
  assert.deepEqual(patchProblems(admissions), []);
}
