// A deadline for one asynchronous call, as an AbortSignal that the call passes to fetch.

/**
 * Runs `work` with a signal that aborts after `timeoutMs` with a DOMException named
 * "TimeoutError" (as AbortSignal.timeout does), or when `outer` aborts. The timer is cleared when
 * `work` settles.
 *
 * A plain timer is used instead of AbortSignal.timeout because on Node 20 a timeout signal
 * combined through AbortSignal.any did not always fire. Under load, a mirror probe in the tests
 * waited for undici's 300 s headers timeout instead.
 */
export async function withDeadline<T>(
  timeoutMs: number,
  work: (signal: AbortSignal) => Promise<T>,
  outer?: AbortSignal,
): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => {
    controller.abort(new DOMException(`timed out after ${timeoutMs} ms`, "TimeoutError"));
  }, timeoutMs);
  const forward = (): void => controller.abort(outer?.reason);
  if (outer?.aborted === true) {
    forward();
  }
  outer?.addEventListener("abort", forward, { once: true });
  try {
    return await work(controller.signal);
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener("abort", forward);
  }
}
