// Types and constants shared by the soak benchmark's processes: the placeholder uid of the review
// templates and the figures the load client reports per interval.

// The placeholder uid in the review templates, replaced per request.
export const UID_PLACEHOLDER = "00000000-0000-4000-8000-00000000beef";

/** Figures of one interval; latencies in milliseconds. */
export interface IntervalReport {
  readonly interval: number;
  readonly sent: number;
  /** Responses with status 200, the request's uid and allowed: true. */
  readonly ok: number;
  readonly non2xx: number;
  /** Requests that ended without a response (connection or TLS failures). */
  readonly errors: number;
  readonly missingUid: number;
  readonly notAllowed: number;
  /** Responses that carried a JSON patch. */
  readonly patched: number;
  /** Requests not sent because MAX_IN_FLIGHT were already waiting. */
  readonly skipped: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly firstError?: string;
}
