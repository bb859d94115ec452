// Slow clients are cut off by the server's timeouts while other clients still get responses.
// The clients are raw TLS sockets that dribble a request's headers or body a few bytes at a
// time, that never finish the TLS handshake, or that hold an idle keep-alive connection.
import assert from "node:assert/strict";
import { connect as connectTcp, type Socket } from "node:net";
import { connect, type TLSSocket } from "node:tls";
import { after, before, describe, it } from "node:test";

import { createReview, podWith } from "../support/pods.ts";
import { fieldAt, json, send } from "../server/https-client.ts";
import { startSecurityServer, type SecurityServer } from "./server.ts";

// Short timeouts keep the test quick. Production uses 10 s, 30 s, 10 s and 60 s.
const TIMEOUTS = { headersMs: 1000, requestMs: 2000, handshakeMs: 1000, keepAliveMs: 1000 };
// Far above every timeout: a socket still open by then was not cut off.
const CLOSE_BOUND_MS = 20_000;
const DRIBBLE_INTERVAL_MS = 100;

describe("slow clients", () => {
  let target: SecurityServer;

  before(async () => {
    target = await startSecurityServer({ timeouts: TIMEOUTS });
  });

  after(async () => {
    await target.stop();
  });

  function openTls(): Promise<TLSSocket> {
    return new Promise((resolve, reject) => {
      const socket = connect({
        host: "127.0.0.1",
        port: target.port,
        ca: target.ca,
        servername: "localhost",
      });
      socket.once("secureConnect", () => resolve(socket));
      socket.once("error", reject);
    });
  }

  /** Writes `text` one byte per interval until the socket closes, and returns what it received. */
  function dribble(socket: TLSSocket, text: string): Promise<string> {
    let received = "";
    socket.on("data", (chunk: Buffer) => (received += chunk.toString("utf8")));
    socket.on("error", () => undefined);
    let position = 0;
    const timer = setInterval(() => {
      if (position < text.length && socket.writable) {
        socket.write(text[position] as string);
        position += 1;
      }
    }, DRIBBLE_INTERVAL_MS);
    return closedWithin(socket, CLOSE_BOUND_MS)
      .then(
        () => received,
        (error: unknown) => {
          socket.destroy();
          throw error;
        },
      )
      .finally(() => clearInterval(timer));
  }

  async function admissionStillAnswered(): Promise<void> {
    const body = JSON.stringify(createReview(podWith([{ name: "web", image: "nginx:1.25" }])));
    const reply = await send(target.server.url, "/mutate", {
      ca: target.ca,
      body,
      headers: { "content-type": "application/json" },
    });
    assert.equal(reply.status, 200);
    assert.equal(fieldAt(json(reply), "response", "allowed"), true);
  }

  it("cuts off slow headers", async () => {
    const socket = await openTls();
    const headers = "POST /mutate HTTP/1.1\r\nHost: localhost\r\n" + "X-Slow: ".padEnd(400, "x");
    const closed = dribble(socket, headers);
    await admissionStillAnswered();
    const received = await closed;
    assert.match(received, /^(HTTP\/1\.1 408|$)/);
  });

  it("cuts off slow body", async () => {
    const socket = await openTls();
    const body = "{".padEnd(400, " ");
    socket.write(
      "POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" +
        `Content-Length: ${body.length}\r\n\r\n`,
    );
    const closed = dribble(socket, body);
    await admissionStillAnswered();
    const received = await closed;
    assert.match(received, /^(HTTP\/1\.1 408|$)/);
  });

  it("cuts off many slow clients at once", async () => {
    const sockets = await Promise.all(Array.from({ length: 50 }, openTls));
    const closed = sockets.map((socket) =>
      dribble(socket, "POST /mutate HTTP/1.1\r\n".padEnd(400, "x")),
    );
    await admissionStillAnswered();
    await Promise.all(closed);
    await admissionStillAnswered();
  });

  it("cuts off unfinished TLS handshake", async () => {
    const socket = connectTcp({ host: "127.0.0.1", port: target.port });
    socket.on("error", () => undefined);
    // A TLS record header that announces a ClientHello whose bytes never come.
    socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]));
    const closed = closedWithin(socket, CLOSE_BOUND_MS);
    await admissionStillAnswered();
    await closed;
  });

  it("closes idle keep-alive connection", async () => {
    const socket = await openTls();
    socket.on("error", () => undefined);
    let received = "";
    socket.on("data", (chunk: Buffer) => (received += chunk.toString("utf8")));
    socket.write("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
    await closedWithin(socket, CLOSE_BOUND_MS);
    assert.match(received, /^HTTP\/1\.1 200/);
  });

  it("cuts off slow second request on kept-alive connection", async () => {
    const socket = await openTls();
    const request = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
    socket.write(request);
    const closed = dribble(socket, "GET /healthz HTTP/1.1\r\nX-Slow: ".padEnd(400, "x"));
    const received = await closed;
    assert.match(received, /^HTTP\/1\.1 200/);
  });
});

/** Resolves when the socket closes, and rejects if it is still open after `ms`. */
function closedWithin(socket: Socket, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
