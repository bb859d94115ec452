// The uncompressed body reader of POST /mutate, over real TLS: bodies streamed in pieces, bodies
// past the limit without a declared length, declared lengths the client does not keep, and
// clients that leave mid-body. After each, the server still responds to reviews.
import assert from "node:assert/strict";
import { request } from "node:https";
import { connect } from "node:tls";
import { after, before, describe, test } from "node:test";

import { fieldAt, json, send, waitUntil } from "./https-client.ts";
import { reviewWithUid, startTestServer, type TestServer } from "./test-server.ts";

const MAX_BODY_BYTES = 4096;

interface StreamedReply {
  readonly status: number;
  readonly connection: string | undefined;
  readonly text: string;
}

/** Posts `pieces` one after another without Content-Length (chunked), waiting between them. */
function postInPieces(server: TestServer, pieces: readonly string[]): Promise<StreamedReply> {
  return new Promise((resolve, reject) => {
    const req = request(new URL("/mutate", server.url), {
      method: "POST",
      ca: server.ca,
      agent: false,
      headers: { "content-type": "application/json" },
    });
    req.on("error", reject);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        resolve({
          status: res.statusCode ?? 0,
          connection: res.headers.connection,
          text: Buffer.concat(chunks).toString("utf8"),
        });
      });
    });
    const writeNext = (index: number): void => {
      const piece = pieces[index];
      if (piece === undefined) {
        req.end();
        return;
      }
      req.write(piece, () => setTimeout(() => writeNext(index + 1), 5));
    };
    writeNext(0);
  });
}

/** Sends raw request bytes on a verified TLS connection; returns what came back before close. */
function rawExchange(server: TestServer, head: string, body: string, endEarly: boolean) {
  return new Promise<string>((resolve, reject) => {
    const { hostname, port } = new URL(server.url);
    const socket = connect({ host: hostname, port: Number(port), ca: server.ca });
    const received: Buffer[] = [];
    socket.on("error", reject);
    socket.on("data", (chunk: Buffer) => received.push(chunk));
    socket.on("close", () => resolve(Buffer.concat(received).toString("utf8")));
    socket.on("secureConnect", () => {
      socket.write(head + body);
      if (endEarly) {
        socket.destroy();
      }
    });
  });
}

describe("plain request bodies", () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ maxBodyBytes: MAX_BODY_BYTES });
  });
  after(async () => {
    await server.stop();
  });

  const stillServes = async (uid: string): Promise<void> => {
    const reply = await send(server.url, "/mutate", {
      ca: server.ca,
      body: await reviewWithUid(uid),
      headers: { "content-type": "application/json" },
    });
    assert.equal(reply.status, 200);
    assert.equal(fieldAt(json(reply), "response", "uid"), uid);
  };

  test("a body streamed in pieces is joined and reviewed", async () => {
    const uid = "b0d1e5a1-0000-4000-8000-000000000001";
    const body = await reviewWithUid(uid);
    const third = Math.ceil(body.length / 3);
    const reply = await postInPieces(server, [
      body.slice(0, third),
      body.slice(third, 2 * third),
      body.slice(2 * third),
    ]);

    assert.equal(reply.status, 200);
    assert.equal(fieldAt(JSON.parse(reply.text), "response", "uid"), uid);
  });

  test("a chunked body past the limit gets 413 and the connection closes", async () => {
    const piece = " ".repeat(1024);
    const reply = await postInPieces(
      server,
      Array.from({ length: 8 }, () => piece),
    );

    assert.equal(reply.status, 413);
    assert.equal(reply.connection, "close");
    assert.match(String(fieldAt(JSON.parse(reply.text), "error")), /server\.maxBodyBytes/);
    await stillServes("b0d1e5a1-0000-4000-8000-000000000002");
  });

  test("a declared length past the limit gets 413 before the body is read", async () => {
    const head =
      "POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" +
      `Content-Length: ${MAX_BODY_BYTES + 1}\r\n\r\n`;
    const answer = await rawExchange(server, head, "{", false);

    assert.match(answer, /^HTTP\/1\.1 413 /);
    assert.match(answer, /connection: close/i);
    await stillServes("b0d1e5a1-0000-4000-8000-000000000003");
  });

  test("a client that leaves mid-body gets no answer and the server keeps serving", async () => {
    const head =
      "POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" +
      "Content-Length: 2000\r\n\r\n";
    const answer = await rawExchange(server, head, '{"apiVersion":', true);

    assert.equal(answer, "");
    await waitUntil("the server logs the aborted body", () =>
      server.logs
        .lines()
        .some((line) =>
          String(line["reason"]).includes("cannot read request body: request aborted"),
        ),
    );
    await stillServes("b0d1e5a1-0000-4000-8000-000000000004");
  });
});
