// An HTTPS proxy in front of the API-server double that responds to the requests a test picks with
// an error Status. It does so before forwarding (the request never reaches the double) or after
// (the double applied it, and the client never learns so). A kubeconfig for the proxy replaces
// the double's own.
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, request } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

import { stringify as stringifyYaml } from "yaml";

import { createCertificateAuthority, issueServingCertificate } from "../../src/cli/certs.ts";
import type { ApiServerDouble } from "../support/apiserver-double.ts";

/** An error Status sent in place of the double's response. */
export interface ApiFault {
  /** HTTP status and Status code, such as 409, 500 or 503. */
  readonly status: number;
  /**
   * "before": the double never receives the request. "after": the double applies it, and its
   * reply is lost.
   */
  readonly when: "before" | "after";
}

/** Picks the fault for a request by method and path; undefined forwards it unchanged. */
export type ApiFaultRule = (method: string, path: string) => ApiFault | undefined;

/** A running proxy. */
export interface ApiFaultProxy {
  readonly url: string;
  /** Requests given a fault, as "METHOD path status when". */
  readonly faulted: readonly string[];
  setRule(rule: ApiFaultRule | undefined): void;
  /** Writes a kubeconfig that reaches the double through the proxy; returns its path. */
  kubeconfig(): Promise<string>;
  close(): Promise<void>;
}

const REASONS: Readonly<Record<number, string>> = {
  409: "Conflict",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

/** Starts a proxy on 127.0.0.1 with its own CA, forwarding to `double`. */
export async function startApiFaultProxy(double: ApiServerDouble): Promise<ApiFaultProxy> {
  const authority = createCertificateAuthority("apiserver fault proxy CA");
  const serving = issueServingCertificate(authority, { dnsNames: [], ipAddresses: ["127.0.0.1"] });
  const faulted: string[] = [];
  let rule: ApiFaultRule | undefined;

  const server = createServer({ cert: serving.cert, key: serving.key }, (incoming, outgoing) => {
    const method = incoming.method ?? "GET";
    const path = incoming.url ?? "/";
    const fault = rule?.(method, path);
    if (fault !== undefined) {
      faulted.push(`${method} ${path} ${fault.status} ${fault.when}`);
    }
    if (fault?.when === "before") {
      incoming.resume();
      sendStatus(outgoing, fault.status, method, path);
      return;
    }
    forward(incoming, outgoing, double, fault);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    faulted,
    setRule(next) {
      rule = next;
    },
    async kubeconfig() {
      const document = {
        apiVersion: "v1",
        kind: "Config",
        clusters: [
          {
            name: "proxy",
            cluster: {
              server: url,
              "certificate-authority-data": Buffer.from(authority.cert).toString("base64"),
            },
          },
        ],
        users: [{ name: "proxy", user: { token: double.token } }],
        contexts: [{ name: "proxy", context: { cluster: "proxy", user: "proxy" } }],
        "current-context": "proxy",
      };
      const path = join(double.directory, `proxy-${randomBytes(4).toString("hex")}.yaml`);
      await writeFile(path, stringifyYaml(document), { mode: 0o600 });
      return path;
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function forward(
  incoming: IncomingMessage,
  outgoing: ServerResponse,
  double: ApiServerDouble,
  fault: ApiFault | undefined,
): void {
  const forwarded = request(
    new URL(incoming.url ?? "/", double.url),
    { method: incoming.method, headers: incoming.headers, ca: double.caCertificate },
    (response) => {
      if (fault !== undefined) {
        // The double has applied the request, but the client gets an error instead of its response.
        response.resume();
        response.on("end", () =>
          sendStatus(outgoing, fault.status, incoming.method ?? "", incoming.url ?? ""),
        );
        return;
      }
      outgoing.writeHead(response.statusCode ?? 502, response.headers);
      response.pipe(outgoing);
    },
  );
  forwarded.on("error", () => {
    if (!outgoing.headersSent) {
      sendStatus(outgoing, 502, incoming.method ?? "", incoming.url ?? "");
    } else {
      outgoing.destroy();
    }
  });
  incoming.pipe(forwarded);
}

/** Sends a v1 Status failure, as the API server does. */
function sendStatus(outgoing: ServerResponse, status: number, method: string, path: string): void {
  const body = JSON.stringify({
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: `injected by the test proxy for ${method} ${path}`,
    reason: REASONS[status] ?? "InternalError",
    code: status,
  });
  outgoing.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  });
  outgoing.end(body);
}
