// Certificate reload: a new pair on disk is served without a restart, open connections keep
// working, and a broken or mismatched pair never replaces the certificate being served.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import { Agent } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import type { MutationContext } from "../../src/admission/contract.ts";
import { issueServingCertificate, writeDevCertificates } from "../../src/cli/certs.ts";
import { LOCAL_DEFAULTS } from "../../src/cli/start-local.ts";
import { defaultConfig } from "../../src/config.ts";
import { loadNodeSnapshot } from "../../src/inventory/snapshot.ts";
import { startServer } from "../../src/server/serve.ts";
import { fieldAt, send, servedSerial, waitUntil } from "./https-client.ts";
import { captureLogs, reviewWithUid, startTestServer, type TestServer } from "./test-server.ts";

const NAMES = { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] };
const BROKEN_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n";

describe("certificate reload", () => {
  let server: TestServer;
  let certPath: string;
  let keyPath: string;

  before(async () => {
    server = await startTestServer();
    certPath = join(server.certDirectory, "tls.crt");
    keyPath = join(server.certDirectory, "tls.key");
  });
  after(async () => {
    await server.stop();
  });

  test("replaced certificate served without restart", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const before = await send(server.url, "/healthz", { ca: server.ca, agent });

    await writeDevCertificates(server.certDirectory, NAMES);
    await waitUntil("the new certificate to be served", async () => {
      return (await servedSerial(server.url, server.ca)) !== before.serialNumber;
    });
    const body = await reviewWithUid("0d15ea5e-0000-4000-8000-000000000001");
    const onOldConnection = await send(server.url, "/mutate", { ca: server.ca, agent, body });
    agent.destroy();

    assert.notEqual(await servedSerial(server.url, server.ca), before.serialNumber);
    assert.equal(onOldConnection.reusedSocket, true);
    assert.equal(onOldConnection.status, 200);
    assert.equal(onOldConnection.serialNumber, before.serialNumber);
  });

  test("broken key keeps old certificate", async () => {
    const serving = await servedSerial(server.url, server.ca);
    await writeFile(keyPath, BROKEN_KEY);

    assert.equal(await server.server.reloadCertificate(), "rejected");
    assert.equal(await servedSerial(server.url, server.ca), serving);
    const failure = errorLines(server).find((line) =>
      String(line["msg"]).includes("reload failed"),
    );
    assert.equal(typeof fieldAt(failure, "err", "message"), "string");
  });

  test("repeated failure logged once", async () => {
    await writeFile(keyPath, BROKEN_KEY);
    const before = errorLines(server).length;

    await server.server.reloadCertificate();
    await server.server.reloadCertificate();

    assert.equal(errorLines(server).length, before);
  });

  test("mismatched pair keeps old certificate", async () => {
    const serving = await servedSerial(server.url, server.ca);
    const authority = await readAuthority(server);
    const certificate = issueServingCertificate(authority, NAMES).cert;
    const unrelatedKey = issueServingCertificate(authority, NAMES).key;
    await writeFile(certPath, certificate);
    await writeFile(keyPath, unrelatedKey);

    assert.equal(await server.server.reloadCertificate(), "rejected");
    assert.equal(await servedSerial(server.url, server.ca), serving);
    const failure = errorLines(server).at(-1);
    assert.match(String(fieldAt(failure, "err", "message")), /does not match the certificate/);
  });

  test("valid pair accepted after rejection", async () => {
    const serving = await servedSerial(server.url, server.ca);
    const fresh = issueServingCertificate(await readAuthority(server), NAMES);
    await writeFile(keyPath, fresh.key);
    await writeFile(certPath, fresh.cert);

    const result = await server.server.reloadCertificate();
    const served = await servedSerial(server.url, server.ca);

    // A watch event may have installed the pair first, which leaves nothing to change.
    assert.ok(result === "reloaded" || result === "unchanged");
    assert.notEqual(served, serving);
  });
});

describe("certificate reload from a mounted secret", () => {
  let directory: string;

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), "kube-image-cache-secret-"));
  });
  after(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  // The kubelet writes a secret volume as timestamped directories, a `..data` symlink to the
  // current one, and per-key symlinks through `..data`. An update swaps `..data` by rename.
  test("..data symlink swap reloads", async () => {
    const source = join(directory, "source");
    const mount = join(directory, "mount");
    const files = await writeDevCertificates(source, NAMES);
    const authority = {
      cert: await readFile(files.caCertPath, "utf8"),
      key: await readFile(files.caKeyPath, "utf8"),
    };
    await mkdir(mount);
    await writeVersion(mount, "..2025_01_01_00_00_00.000000001", {
      cert: await readFile(files.certPath, "utf8"),
      key: await readFile(files.keyPath, "utf8"),
    });
    await symlink("..2025_01_01_00_00_00.000000001", join(mount, "..data"));
    await symlink("..data/tls.crt", join(mount, "tls.crt"));
    await symlink("..data/tls.key", join(mount, "tls.key"));

    const ca = Buffer.from(authority.cert);
    const server = await startServer({
      config: defaultConfig(),
      context: () => localContext,
      isReady: () => true,
      tls: { certPath: join(mount, "tls.crt"), keyPath: join(mount, "tls.key") },
      logger: captureLogs().logger,
      host: "127.0.0.1",
      port: 0,
      // Long enough that only the directory watch can notice the swap during the test.
      tlsPollIntervalMs: 600_000,
    });
    try {
      const before = await servedSerial(server.url, ca);
      await writeVersion(
        mount,
        "..2025_01_02_00_00_00.000000002",
        issueServingCertificate(authority, NAMES),
      );
      await symlink("..2025_01_02_00_00_00.000000002", join(mount, "..data_tmp"));
      await rename(join(mount, "..data_tmp"), join(mount, "..data"));

      await waitUntil("the swapped certificate to be served", async () => {
        return (await servedSerial(server.url, ca)) !== before;
      });
      assert.notEqual(await servedSerial(server.url, ca), before);
    } finally {
      await server.close();
    }
  });
});

const localContext: MutationContext = {
  config: defaultConfig(),
  inventory: loadNodeSnapshot(LOCAL_DEFAULTS.nodesPath),
};

async function writeVersion(mount: string, name: string, pair: { cert: string; key: string }) {
  await mkdir(join(mount, name));
  await writeFile(join(mount, name, "tls.crt"), pair.cert);
  await writeFile(join(mount, name, "tls.key"), pair.key, { mode: 0o600 });
}

async function readAuthority(server: TestServer) {
  return {
    cert: await readFile(server.caCertPath, "utf8"),
    key: await readFile(join(server.certDirectory, "ca.key"), "utf8"),
  };
}

function errorLines(server: TestServer) {
  return server.logs.lines().filter((line) => line["level"] === 50);
}
