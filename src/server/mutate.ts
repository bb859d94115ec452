// POST /mutate: reads the AdmissionReview, runs the pipeline under the admission deadline, sends
// the response, and records one log line and the metrics for the decision.
import express from "express";
import type { Request, RequestHandler, Response } from "express";

import type { MutationContext, ReviewOutcome } from "../admission/contract.ts";
import { allowUnchanged, reviewAdmission, serializeReview } from "../admission/review.ts";
import type { Logger } from "../logger.ts";
import { logReviewed, requestFieldsOf } from "./admission-log.ts";
import { isPlainBody, readPlainBody } from "./read-body.ts";
import type { AdmissionCounts, AdmissionResult, ServerMetrics } from "./metrics.ts";

/** The pipeline entry point; reviewAdmission unless a caller supplies another stage. */
export type ReviewFunction = (
  body: unknown,
  context: MutationContext,
) => ReviewOutcome | Promise<ReviewOutcome>;

/** Settings of the /mutate handler. */
export interface MutateOptions {
  /** Internal deadline for one review in milliseconds; past it the pod is admitted unchanged. */
  readonly deadlineMs: number;
  /** Largest request body accepted, in bytes; larger bodies get 413. */
  readonly maxBodyBytes: number;
  /** Returns the configuration and inventory snapshot to review against; called per request. */
  readonly context: () => MutationContext;
  readonly logger: Logger;
  readonly metrics: ServerMetrics;
  /** Defaults to reviewAdmission. */
  readonly review?: ReviewFunction;
}

/** The response to send and what to record about it. */
interface PreparedResponse {
  readonly status: number;
  /** The JSON response body; reviews are serialised by serializeReview, as dry-run prints them. */
  readonly json: string;
  readonly result: AdmissionResult;
  readonly counts?: AdmissionCounts;
}

export const INTERNAL_ERROR_WARNING = "kube-image-cache internal error; pod admitted unchanged";

/** Creates the POST /mutate handler. */
export function createMutateHandler(options: MutateOptions): RequestHandler {
  // The API server always sends JSON, but the body is judged by its content, so any content
  // type is read as raw bytes.
  const readRaw = express.raw({ type: () => true, limit: options.maxBodyBytes });

  return async (req: Request, res: Response) => {
    const started = performance.now();
    const response = await admit(req, res, readRaw, options);

    // Written directly: express's send() would also work out freshness and ETag rules that an
    // AdmissionReview response never uses.
    res.writeHead(response.status, {
      "content-type": "application/json; charset=utf-8",
      "content-length": Buffer.byteLength(response.json),
    });
    res.end(response.json);
    const seconds = (performance.now() - started) / 1000;
    options.metrics.recordAdmission(response.result, seconds, response.counts);
  };
}

async function admit(
  req: Request,
  res: Response,
  readRaw: RequestHandler,
  options: MutateOptions,
): Promise<PreparedResponse> {
  const bytes = await readBody(req, res, readRaw, options);
  if (!Buffer.isBuffer(bytes)) {
    return bytes;
  }

  let body: unknown;
  try {
    body = JSON.parse(bytes.toString("utf8"));
  } catch (error: unknown) {
    const reason = describeJsonError(error);
    return reject(options.logger, 400, `request body is not valid JSON: ${reason}`);
  }

  return review(body, options);
}

/** Returns the body, or the 4xx response when it is empty, too large or unreadable. */
async function readBody(
  req: Request,
  res: Response,
  readRaw: RequestHandler,
  options: MutateOptions,
): Promise<Buffer | PreparedResponse> {
  let body: unknown;
  try {
    body = isPlainBody(req)
      ? await readPlainBody(req, options.maxBodyBytes)
      : await readInflated(req, res, readRaw);
  } catch (error: unknown) {
    return bodyError(error, res, options);
  }

  if (!Buffer.isBuffer(body) || body.length === 0) {
    return reject(options.logger, 400, "request body is empty; expected an AdmissionReview");
  }
  return body;
}

/** Reads a compressed body through express.raw(), which inflates it and applies the limit. */
async function readInflated(
  req: Request,
  res: Response,
  readRaw: RequestHandler,
): Promise<unknown> {
  await new Promise<void>((resolve, reject) => {
    void readRaw(req, res, (err?: unknown) => {
      if (err === undefined) {
        resolve();
      } else {
        reject(err instanceof Error ? err : new Error("reading the body failed", { cause: err }));
      }
    });
  });
  return req.body;
}

function bodyError(error: unknown, res: Response, options: MutateOptions): PreparedResponse {
  const type = fieldOf(error, "type");
  if (type === "entity.too.large") {
    // The rest of the body is left unread, so the connection cannot carry another request.
    res.set("Connection", "close");
    const message =
      `request body exceeds the limit of ${options.maxBodyBytes} bytes; ` +
      "raise server.maxBodyBytes to accept larger reviews";
    return reject(options.logger, 413, message);
  }

  const status = fieldOf(error, "status");
  if (typeof status === "number" && status >= 400 && status < 500 && error instanceof Error) {
    return reject(options.logger, status, `cannot read request body: ${error.message}`);
  }
  throw error;
}

async function review(body: unknown, options: MutateOptions): Promise<PreparedResponse> {
  const started = performance.now();
  // Only failures log through this child, so it is built on first use: pino serialises and
  // redacts a child's bindings when it is created.
  let child: Logger | undefined;
  const requestLogger = (): Logger => (child ??= options.logger.child(requestFieldsOf(body)));
  const reviewer = options.review ?? reviewAdmission;

  let timed: Timed<ReviewOutcome>;
  try {
    timed = await withDeadline(
      () => reviewer(body, options.context()),
      options.deadlineMs,
      requestLogger,
    );
  } catch (err: unknown) {
    requestLogger().error({ err }, "admission review failed; pod admitted unchanged");
    return admitUnchanged(body, INTERNAL_ERROR_WARNING, "error");
  }

  if (timed.kind === "timeout") {
    const warning =
      `kube-image-cache did not decide within ${options.deadlineMs} ms ` +
      "(server.deadlineMs); pod admitted unchanged";
    requestLogger().warn({ deadlineMs: options.deadlineMs }, "admission review timed out");
    return admitUnchanged(body, warning, "timeout");
  }

  const outcome = timed.value;
  if (outcome.kind === "invalid") {
    return reject(requestLogger(), outcome.status, outcome.message);
  }
  const durationMs = performance.now() - started;
  const decision = logReviewed(options.logger, outcome.request, outcome.result, durationMs);
  return { status: 200, json: serializeReview(outcome.review), ...decision };
}

function admitUnchanged(body: unknown, warning: string, result: AdmissionResult): PreparedResponse {
  const response = allowUnchanged(body, warning);
  if (response === undefined) {
    return {
      status: 400,
      json: errorJson("request.uid is missing; expected an AdmissionReview"),
      result,
    };
  }
  return { status: 200, json: serializeReview(response), result };
}

function reject(logger: Logger, status: number, message: string): PreparedResponse {
  logger.info({ status, reason: message }, "admission request rejected");
  return { status, json: errorJson(message), result: "invalid" };
}

function errorJson(message: string): string {
  return JSON.stringify({ error: message });
}

type Timed<T> = { readonly kind: "done"; readonly value: T } | { readonly kind: "timeout" };

/**
 * Runs `task` and returns its value, or "timeout" once `ms` milliseconds pass first. The task is
 * not cancelled, and an asynchronous task that fails after the deadline is logged at warn.
 * NOTE: the timer cannot fire while synchronous code runs, so the deadline bounds only the
 * asynchronous parts of the pipeline. Today's pipeline is wholly synchronous, so a task that
 * returns a plain value is done without a timer.
 */
async function withDeadline<T>(
  task: () => T | Promise<T>,
  ms: number,
  logger: () => Logger,
): Promise<Timed<T>> {
  const value = task();
  if (!isThenable(value)) {
    return { kind: "done", value };
  }
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  const deadline = new Promise<Timed<T>>((resolve) => {
    timer = setTimeout(() => {
      timedOut = true;
      resolve({ kind: "timeout" });
    }, ms);
  });

  const work = Promise.resolve(value);
  work.catch((err: unknown) => {
    if (timedOut) {
      logger().warn({ err }, "admission review failed after its deadline");
    }
  });

  try {
    return await Promise.race([
      work.then((value): Timed<T> => ({ kind: "done", value })),
      deadline,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function isThenable<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

/**
 * Describes a JSON.parse error by position only. V8's own message quotes the text around the
 * error, which may be part of a secret in the pod, and the message is logged and sent back.
 */
function describeJsonError(error: unknown): string {
  const message = error instanceof Error ? error.message : "";
  const position = /at position (\d+)/.exec(message)?.[1];
  if (position !== undefined) {
    return `syntax error at position ${position}`;
  }
  return message === "Unexpected end of JSON input" ? "unexpected end of input" : "syntax error";
}

function fieldOf(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null && key in value
    ? (value as Record<string, unknown>)[key]
    : undefined;
}
