// An admission held in flight on purpose: the headers go out with "Expect: 100-continue", the
// server accepts them, and the body is sent only when the test calls finish().
import { once } from "node:events";
import type { IncomingMessage } from "node:http";
import { Agent, request } from "node:https";
import type { TLSSocket } from "node:tls";

/** The response of a parked request, read to the end. */
export interface ParkedReply {
  readonly status: number;
  readonly text: string;
  /** Serial number of the certificate on the connection that carried the request. */
  readonly serialNumber: string;
}

/** A request whose headers the server has read and whose body is still to come. */
export interface ParkedRequest {
  /** Sends the body and resolves with the response. */
  finish(): Promise<ParkedReply>;
}

/** Sends the headers of POST /mutate for `body`; resolves once the server sends 100 Continue. */
export async function parkAdmission(url: string, ca: Buffer, body: string): Promise<ParkedRequest> {
  const req = request(new URL("/mutate", url), {
    method: "POST",
    ca,
    agent: new Agent({ keepAlive: true, ca }),
    headers: {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      expect: "100-continue",
    },
  });
  const reply = new Promise<ParkedReply>((resolve, reject) => {
    req.on("error", reject);
    req.on("response", (res: IncomingMessage) => {
      const serialNumber = (res.socket as TLSSocket).getPeerCertificate().serialNumber;
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        resolve({
          status: res.statusCode ?? 0,
          text: Buffer.concat(chunks).toString("utf8"),
          serialNumber,
        });
      });
    });
  });
  // Keeps an early failure from going unhandled before finish() is called.
  reply.catch(() => undefined);
  req.flushHeaders();
  await Promise.race([once(req, "continue"), reply]);

  return {
    finish() {
      req.end(body);
      return reply;
    },
  };
}
