// Runs fuzz inputs through the real HTTPS server and checks the admission contract on each: a
// response in time, the status the body calls for, the request's own uid, a patch the API server's
// library applies, a valid pod out of a valid pod, and nothing more changed on reinvocation.
import { isDeepStrictEqual } from "node:util";

import { applyPatches, type PatchItem } from "../support/apiserver-jsonpatch.ts";
import { decodePatch } from "../support/admission-expectations.ts";
import { validateObject } from "../support/schema.ts";
import type { FuzzInput } from "./bodies.ts";
import { jsonClone } from "./mutations.ts";
import type { FuzzServer, Reply } from "./server.ts";

/** One broken promise, with the input's index in its batch. */
export interface Failure {
  readonly index: number;
  readonly source: string;
  readonly check: string;
  readonly detail: string;
}

/** Counts of one run; `failures` lists every broken check. */
export interface Tally {
  inputs: number;
  readonly bySource: Map<string, number>;
  readonly byStatus: Map<number, number>;
  patched: number;
  patchesApplied: number;
  validInputPods: number;
  mutatedPodsValidated: number;
  reinvocations: number;
  readonly failures: Failure[];
}

export function emptyTally(): Tally {
  return {
    inputs: 0,
    bySource: new Map(),
    byStatus: new Map(),
    patched: 0,
    patchesApplied: 0,
    validInputPods: 0,
    mutatedPodsValidated: 0,
    reinvocations: 0,
    failures: [],
  };
}

/** A 200 response whose patch is to be applied to the request's object. */
interface Patched {
  readonly index: number;
  readonly input: FuzzInput;
  readonly review: Record<string, unknown>;
  readonly patch: unknown[];
}

/** Sends `inputs` with at most `concurrency` requests in flight, then checks each response. */
export async function runBatch(
  server: FuzzServer,
  inputs: readonly FuzzInput[],
  tally: Tally,
  concurrency = 8,
): Promise<void> {
  const replies = await sendAll(server, inputs, concurrency);
  const patched: Patched[] = [];
  inputs.forEach((input, index) => {
    tally.inputs += 1;
    increment(tally.bySource, input.source);
    const reply = replies[index] as Reply;
    if (reply.kind === "response") {
      increment(tally.byStatus, reply.status);
    }
    const fail = (check: string, detail: string) =>
      tally.failures.push({ index, source: input.source, check, detail });
    const found = checkReply(input, reply, fail);
    if (found !== undefined) {
      patched.push({ index, input, review: found.review, patch: found.patch });
    }
  });
  await checkPatches(server, patched, tally);
}

async function sendAll(
  server: FuzzServer,
  inputs: readonly FuzzInput[],
  concurrency: number,
): Promise<Reply[]> {
  const replies: Reply[] = new Array<Reply>(inputs.length);
  let next = 0;
  const worker = async () => {
    while (next < inputs.length) {
      const index = next;
      next += 1;
      const input = inputs[index] as FuzzInput;
      replies[index] = await server.post(input.body, input.headers);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return replies;
}

/** Checks status, uid and shape; returns the review and its patch when there is one to apply. */
function checkReply(
  input: FuzzInput,
  reply: Reply,
  fail: (check: string, detail: string) => void,
): { review: Record<string, unknown>; patch: unknown[] } | undefined {
  if (reply.kind === "timeout") {
    fail("hang", "no response within the client timeout");
    return undefined;
  }
  if (reply.kind === "transport-error") {
    fail("crash", `connection failed: ${reply.message}`);
    return undefined;
  }
  if (reply.status !== input.expectedStatus) {
    fail(
      "status",
      `expected ${input.expectedStatus}, got ${reply.status}: ${reply.text.slice(0, 300)}`,
    );
    return undefined;
  }
  let body: unknown;
  try {
    body = JSON.parse(reply.text);
  } catch {
    fail("response-json", `response body is not JSON: ${reply.text.slice(0, 300)}`);
    return undefined;
  }
  if (reply.status !== 200) {
    if (typeof (body as { error?: unknown }).error !== "string") {
      fail("error-body", `error response without an error message: ${reply.text.slice(0, 300)}`);
    }
    return undefined;
  }
  return checkReview(input.document as Record<string, unknown>, body, fail);
}

function checkReview(
  request: Record<string, unknown>,
  body: unknown,
  fail: (check: string, detail: string) => void,
): { review: Record<string, unknown>; patch: unknown[] } | undefined {
  const review = body as Record<string, unknown>;
  const response = (review["response"] ?? {}) as Record<string, unknown>;
  const uid = (request["request"] as Record<string, unknown>)["uid"];
  if (review["apiVersion"] !== request["apiVersion"] || review["kind"] !== "AdmissionReview") {
    fail(
      "review-type",
      `apiVersion ${String(review["apiVersion"])} kind ${String(review["kind"])}`,
    );
  }
  if (response?.["uid"] !== uid) {
    fail(
      "uid",
      `response uid ${JSON.stringify(response?.["uid"])} for request uid ${JSON.stringify(uid)}`,
    );
    return undefined;
  }
  if (response["allowed"] !== true) {
    fail("allowed", "response does not allow the pod");
  }
  const warnings = response["warnings"];
  if (Array.isArray(warnings) && warnings.some((w) => String(w).includes("internal error"))) {
    fail(
      "internal-error",
      `admitted unchanged after an internal error: ${JSON.stringify(warnings)}`,
    );
  }
  if ((response["patch"] === undefined) !== (response["patchType"] === undefined)) {
    fail("patch-type", "patch and patchType must come together");
  }
  const patch = decodePatch(review);
  return patch.length === 0 ? undefined : { review, patch };
}

/** Applies every patch with apiserver-jsonpatch, validates, then sends each patched pod again. */
async function checkPatches(server: FuzzServer, patched: readonly Patched[], tally: Tally) {
  tally.patched += patched.length;
  const objectOf = (item: Patched) =>
    (item.input.document as { request: { object: unknown } }).request.object;
  const results = applyPatches(patched.map((item) => ({ doc: objectOf(item), patch: item.patch })));

  const again: { item: Patched; doc: unknown }[] = [];
  patched.forEach((item, position) => {
    const fail = (check: string, detail: string) =>
      tally.failures.push({ index: item.index, source: item.input.source, check, detail });
    const result = results[position];
    if (result?.ok !== true) {
      fail(
        "patch-rejected",
        `${result?.error ?? "no result"}; patch ${JSON.stringify(item.patch).slice(0, 400)}`,
      );
      return;
    }
    tally.patchesApplied += 1;
    if (validateObject(objectOf(item)).length === 0) {
      tally.validInputPods += 1;
      const problems = validateObject(result.doc);
      tally.mutatedPodsValidated += 1;
      if (problems.length > 0) {
        fail("invalid-pod", `valid pod became invalid: ${problems.join("; ").slice(0, 400)}`);
      }
    }
    again.push({ item, doc: result.doc });
  });
  await checkReinvocation(server, again, tally);
}

/** Sends each patched pod as its request's object again; its patch must change nothing. */
async function checkReinvocation(
  server: FuzzServer,
  again: readonly { item: Patched; doc: unknown }[],
  tally: Tally,
): Promise<void> {
  const inputs = again.map(({ item, doc }) => {
    const document = jsonClone(item.input.document) as { request: { object: unknown } };
    document.request.object = doc;
    return {
      ...item.input,
      document,
      body: Buffer.from(JSON.stringify(document)),
      headers: { "content-type": "application/json" },
    };
  });
  const replies = await sendAll(server, inputs, 8);
  const items: PatchItem[] = [];
  const owners: { item: Patched; doc: unknown }[] = [];
  replies.forEach((reply, position) => {
    const { item, doc } = again[position] as { item: Patched; doc: unknown };
    const fail = (check: string, detail: string) =>
      tally.failures.push({
        index: item.index,
        source: item.input.source,
        check,
        detail: `reinvocation: ${detail}`,
      });
    const found = checkReply(inputs[position] as FuzzInput, reply, fail);
    tally.reinvocations += 1;
    if (found !== undefined) {
      items.push({ doc, patch: found.patch });
      owners.push({ item, doc });
    }
  });
  applyPatches(items).forEach((result, position) => {
    const { item, doc } = owners[position] as { item: Patched; doc: unknown };
    if (!result.ok || !isDeepStrictEqual(result.doc, doc)) {
      const detail = result.ok
        ? JSON.stringify(items[position]?.patch).slice(0, 400)
        : result.error;
      tally.failures.push({
        index: item.index,
        source: item.input.source,
        check: "reinvocation-changed",
        detail,
      });
    }
  });
}

function increment<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}
