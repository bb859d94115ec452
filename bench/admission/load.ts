// The load generator of the admission benchmark, in its own process: autocannon 8 over TLS,
// each request an AdmissionReview from the body templates with a fresh request.uid. Forked by
// run.ts; it receives one LoadRequest per IPC message and replies with a LoadResult.
//
// autocannon 8 connects with rejectUnauthorized forced to false whatever tlsOptions say
// (lib/httpClient.js), so the CA is passed and each response is counted as unverified unless
// its socket's `authorized` flag (chain and host name checked against that CA) is true.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import type { TLSSocket } from "node:tls";

import autocannon from "autocannon";

import { UID_PLACEHOLDER, type BodyTemplate } from "./workload.ts";

/**
 * One measurement: saturation when `rate` is absent, else a fixed rate in requests/s. It ends
 * after `durationSeconds`, or after `amount` requests when that is given.
 */
export interface LoadRequest {
  readonly url: string;
  readonly connections: number;
  readonly durationSeconds: number;
  readonly rate?: number;
  readonly amount?: number;
}

export interface LoadResult {
  readonly completed: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  /** 200 responses whose body carries the uid of their request. */
  readonly uidEchoed: number;
  /** Responses that carry a JSON patch. */
  readonly patched: number;
  /** Responses received on a connection whose certificate did not verify against the CA. */
  readonly unverified: number;
}

interface Split {
  readonly before: string;
  readonly after: string;
}

const [templatesPath, caPath] = process.argv.slice(2);
if (templatesPath === undefined || caPath === undefined) {
  throw new Error("usage: load.ts <templates.json> <ca.crt>, forked by run.ts with IPC");
}
const templates: Split[] = (JSON.parse(readFileSync(templatesPath, "utf8")) as BodyTemplate[]).map(
  (template) => {
    const at = template.text.indexOf(UID_PLACEHOLDER);
    return {
      before: template.text.slice(0, at),
      after: template.text.slice(at + UID_PLACEHOLDER.length),
    };
  },
);
const ca = readFileSync(caPath);

/** Runs one measurement; its body rotation starts where the previous one stopped. */
let next = 0;
async function measure(request: LoadRequest): Promise<LoadResult> {
  let uidEchoed = 0;
  let patched = 0;
  let unverified = 0;

  const result = await autocannon({
    url: request.url,
    connections: request.connections,
    duration: request.durationSeconds,
    ...(request.rate === undefined ? {} : { overallRate: request.rate }),
    ...(request.amount === undefined ? {} : { amount: request.amount }),
    tlsOptions: { ca },
    headers: { "content-type": "application/json" },
    setupClient: (client) => {
      client.on("response", () => {
        const socket = (client as unknown as { conn: TLSSocket }).conn;
        if (!socket.authorized) {
          unverified += 1;
        }
      });
    },
    requests: [
      {
        method: "POST",
        path: "/mutate",
        setupRequest: (req, context) => {
          const template = templates[next % templates.length] as Split;
          next += 1;
          const uid = randomUUID();
          (context as Record<string, string>)["uid"] = uid;
          return { ...req, body: template.before + uid + template.after };
        },
        onResponse: (status, body, context) => {
          const uid = (context as Record<string, string>)["uid"] ?? "";
          if (status === 200 && body.includes(`"uid":"${uid}"`)) {
            uidEchoed += 1;
          }
          if (body.includes('"patch":')) {
            patched += 1;
          }
        },
      },
    ],
  });

  const completed = result["2xx"] + result.non2xx;
  return {
    completed,
    perSecond: completed / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    uidEchoed,
    patched,
    unverified,
  };
}

process.on("message", (message: LoadRequest) => {
  measure(message).then(
    (result) => process.send?.({ ok: true, result }),
    (error: unknown) => process.send?.({ ok: false, error: String(error) }),
  );
});
process.send?.({ ready: true });
