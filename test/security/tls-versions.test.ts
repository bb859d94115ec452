// Only TLS 1.2 and 1.3 are accepted, and the admission port speaks nothing but TLS. Clients that
// offer TLS 1.0 or 1.1, or plain HTTP, are rejected before any request is read.
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { connect, type SecureVersion } from "node:tls";
import { after, before, describe, it } from "node:test";

import { startSecurityServer, type SecurityServer } from "./server.ts";

type Handshake =
  { readonly ok: true; readonly protocol: string } | { readonly ok: false; readonly error: string };

describe("TLS versions", () => {
  let target: SecurityServer;

  before(async () => {
    target = await startSecurityServer();
  });

  after(async () => {
    await target.stop();
  });

  /** Attempts a handshake limited to one protocol version. */
  function handshake(version: SecureVersion): Promise<Handshake> {
    return new Promise((resolve) => {
      const socket = connect({
        host: "127.0.0.1",
        port: target.port,
        ca: target.ca,
        servername: "localhost",
        minVersion: version,
        maxVersion: version,
        // OpenSSL 3 disables TLS 1.0 and 1.1 at its default security level, on the client too.
        // Level 0 lets this client offer them, so the rejection seen is the server's.
        ciphers: "DEFAULT@SECLEVEL=0",
      });
      socket.once("secureConnect", () => {
        resolve({ ok: true, protocol: socket.getProtocol() ?? "" });
        socket.end();
      });
      socket.once("error", (error: Error) => resolve({ ok: false, error: error.message }));
    });
  }

  for (const version of ["TLSv1.2", "TLSv1.3"] as const) {
    it(`accepts ${version}`, async () => {
      assert.deepEqual(await handshake(version), { ok: true, protocol: version });
    });
  }

  for (const version of ["TLSv1", "TLSv1.1"] as const) {
    it(`rejects ${version}`, async () => {
      const result = await handshake(version);
      assert.equal(result.ok, false);
      // The server's alert, not a client that declined to offer the version.
      assert.match(result.ok ? "" : result.error, /alert protocol version|unsupported protocol/i);
    });
  }

  it("rejects plain HTTP on admission port", async () => {
    const outcome = await new Promise<string>((resolve) => {
      const req = httpRequest({
        host: "127.0.0.1",
        port: target.port,
        path: "/mutate",
        method: "POST",
      });
      req.on("response", (res) => {
        res.resume();
        resolve(`HTTP ${res.statusCode ?? 0}`);
      });
      req.on("error", (error) => resolve(`error ${error.message}`));
      req.end("{}");
    });
    assert.match(outcome, /^(error|HTTP 400)/);
    assert.doesNotMatch(outcome, /^HTTP 200/);
  });
});
