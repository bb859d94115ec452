// The load generator of the soak benchmark, run as its own process so that its CPU time is not
// charged to the webhook or to the API-server double. It posts AdmissionReviews over HTTPS at a
// fixed rate, verifies the server against the CA, checks every response, and writes one JSON
// line of figures per interval to stdout.
//
// Run by bench/soak/run.ts:
//   node --import tsx bench/soak/load-client.ts URL CA_FILE REVIEWS_FILE RATE SECONDS INTERVAL
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { Agent, request } from "node:https";

import { UID_PLACEHOLDER, type IntervalReport } from "./protocol.ts";

// Beyond this many requests waiting for a response the server is not keeping up. New requests
// are then counted as skipped, so they do not queue without bound in this process.
const MAX_IN_FLIGHT = 2000;
const TICK_MS = 10;

class IntervalStats {
  sent = 0;
  ok = 0;
  non2xx = 0;
  errors = 0;
  missingUid = 0;
  notAllowed = 0;
  patched = 0;
  skipped = 0;
  firstError: string | undefined;
  readonly latencies: number[] = [];

  report(interval: number): IntervalReport {
    const sorted = Float64Array.from(this.latencies).sort();
    const at = (fraction: number) =>
      sorted.length === 0
        ? 0
        : (sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? 0);
    return {
      interval,
      sent: this.sent,
      ok: this.ok,
      non2xx: this.non2xx,
      errors: this.errors,
      missingUid: this.missingUid,
      notAllowed: this.notAllowed,
      patched: this.patched,
      skipped: this.skipped,
      p50: round(at(0.5)),
      p99: round(at(0.99)),
      max: round(sorted.length === 0 ? 0 : (sorted[sorted.length - 1] ?? 0)),
      ...(this.firstError === undefined ? {} : { firstError: this.firstError }),
    };
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** Checks one response body; returns the counter it belongs to. */
function classify(
  status: number,
  text: string,
  uid: string,
): "ok" | "non2xx" | "missingUid" | "notAllowed" {
  if (status !== 200) {
    return "non2xx";
  }
  let response: { uid?: unknown; allowed?: unknown; patch?: unknown } | undefined;
  try {
    response = (JSON.parse(text) as { response?: typeof response }).response;
  } catch {
    return "missingUid";
  }
  if (response?.uid !== uid) {
    return "missingUid";
  }
  return response.allowed === true ? "ok" : "notAllowed";
}

function main(argv: string[]): void {
  const [url, caFile, reviewsFile, rateText, secondsText, intervalText] = argv;
  if (url === undefined || caFile === undefined || reviewsFile === undefined) {
    throw new Error("usage: load-client.ts URL CA_FILE REVIEWS_FILE RATE SECONDS INTERVAL_SECONDS");
  }
  const rate = Number(rateText);
  const durationMs = Number(secondsText) * 1000;
  const intervalMs = Number(intervalText) * 1000;
  const ca = readFileSync(caFile);
  const templates = JSON.parse(readFileSync(reviewsFile, "utf8")) as string[];
  // Connections are reused, as the API server reuses them; a small pool serves 500/s at a few ms.
  const agent = new Agent({ keepAlive: true, maxSockets: 64, ca });
  const target = new URL("/mutate", url);

  let stats = new IntervalStats();
  let inFlight = 0;
  let next = 0;
  const started = performance.now();
  let due = 0;
  let interval = 1;

  const sendOne = (): void => {
    const template = templates[next % templates.length] ?? "";
    next += 1;
    if (inFlight >= MAX_IN_FLIGHT) {
      stats.skipped += 1;
      return;
    }

    const uid = randomUUID();
    const body = template.replace(UID_PLACEHOLDER, uid);
    const sentAt = performance.now();
    inFlight += 1;
    stats.sent += 1;

    const req = request(target, {
      method: "POST",
      agent,
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
    });
    // Outcomes count in the interval in which they arrive, so a report never changes once written.
    req.on("error", (error: Error) => {
      inFlight -= 1;
      stats.errors += 1;
      stats.firstError ??= error.message;
    });
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        inFlight -= 1;
        stats.latencies.push(performance.now() - sentAt);
        const text = Buffer.concat(chunks).toString("utf8");
        const kind = classify(res.statusCode ?? 0, text, uid);
        stats[kind] += 1;
        if (kind === "ok" && text.includes('"patch"')) {
          stats.patched += 1;
        }
        if (kind !== "ok") {
          stats.firstError ??= `HTTP ${res.statusCode ?? 0}: ${text.slice(0, 200)}`;
        }
      });
    });

    req.end(body);
  };

  const timer = setInterval(() => {
    const elapsed = performance.now() - started;
    const dueByNow = Math.min(elapsed, durationMs) * (rate / 1000);
    while (due < dueByNow) {
      sendOne();
      due += 1;
    }
    if (elapsed >= interval * intervalMs) {
      process.stdout.write(`${JSON.stringify(stats.report(interval))}\n`);
      stats = new IntervalStats();
      interval += 1;
    }
    if (elapsed >= durationMs) {
      clearInterval(timer);
      // Responses still in flight belong to the last interval; give them a moment to land.
      setTimeout(() => {
        if (stats.sent > 0 || stats.latencies.length > 0) {
          process.stdout.write(`${JSON.stringify(stats.report(interval))}\n`);
        }
        agent.destroy();
      }, 2000);
    }
  }, TICK_MS);
}

main(process.argv.slice(2));
