// Certificate rotation under load: the serving pair is replaced several times, each time as two
// separate file writes, while admissions stream on reused and on new connections and one request
// is held in flight across every rotation. No handshake fails, every admission gets a response, the
// held request finishes on its old connection, and new connections get the new certificate.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";

import { issueServingCertificate } from "../../src/cli/certs.ts";
import { podWith } from "../support/pods.ts";
import { fieldAt, servedSerial, waitUntil } from "../server/https-client.ts";
import { reviewWithUid, startTestServer } from "../server/test-server.ts";
import { assertAllAdmitted, startAdmissionStream } from "./admission-stream.ts";
import { parkAdmission } from "./parked-request.ts";

const NAMES = { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] };
const ROTATIONS = 4;
const HELD_UID = "7e1d0000-0000-4000-8000-000000000001";
const POD = podWith([{ name: "web", image: "nginx:1.25" }]);

test("rotation under load fails no handshake", async (t) => {
  const server = await startTestServer();
  t.after(() => server.stop());
  const authority = {
    cert: await readFile(server.caCertPath, "utf8"),
    key: await readFile(join(server.certDirectory, "ca.key"), "utf8"),
  };
  const firstSerial = await servedSerial(server.url, server.ca);
  const heldAdmission = await parkAdmission(server.url, server.ca, await reviewWithUid(HELD_UID));
  const reused = startAdmissionStream(server.url, server.ca, POD, { streamId: 1 });
  const fresh = startAdmissionStream(server.url, server.ca, POD, {
    keepAlive: false,
    streamId: 2,
  });

  const serials = [firstSerial];
  for (let rotation = 0; rotation < ROTATIONS; rotation += 1) {
    const pair = issueServingCertificate(authority, NAMES);
    // Two writes, as a secret update that is not atomic makes them. Between the two the files
    // contain a mismatched pair, and a reload that reads them then keeps serving the old pair.
    await writeFile(join(server.certDirectory, "tls.key"), pair.key);
    await writeFile(join(server.certDirectory, "tls.crt"), pair.cert);
    const previous = serials.at(-1);
    await waitUntil(`rotation ${rotation + 1} served`, async () => {
      return (await servedSerial(server.url, server.ca)) !== previous;
    });
    serials.push(await servedSerial(server.url, server.ca));
    await waitUntil("admissions after the rotation", () => fresh.results().length > rotation * 5);
  }
  const heldReply = await heldAdmission.finish();
  const results = [...(await reused.stop()), ...(await fresh.stop())];

  assert.equal(new Set(serials).size, ROTATIONS + 1);
  assert.equal(heldReply.status, 200);
  assert.equal(fieldAt(JSON.parse(heldReply.text), "response", "uid"), HELD_UID);
  assert.equal(heldReply.serialNumber, firstSerial);
  assert.equal(await servedSerial(server.url, server.ca), serials.at(-1));
  assertAllAdmitted(results);
  const handshakeFailures = server.logs
    .lines()
    .filter((line) => line["msg"] === "TLS handshake failed");
  assert.deepEqual(handshakeFailures, []);
});
