// Development certificates: what the CA and serving certificate contain, how they are written,
// and the `certs` command's argument checks.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import forge from "node-forge";

import { UsageError } from "../../src/cli/args.ts";
import { checkNames, writeDevCertificates } from "../../src/cli/certs.ts";
import { runCli } from "../../src/cli/main.ts";
import { captureIo } from "./capture-io.ts";

const NAMES = { dnsNames: ["localhost", "webhook.example.svc"], ipAddresses: ["127.0.0.1", "::1"] };
const DAY_MS = 24 * 60 * 60 * 1000;

describe("development certificates", () => {
  let directory: string;
  let ca: X509Certificate;
  let leaf: X509Certificate;

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), "kube-image-cache-certs-"));
    await writeDevCertificates(directory, NAMES);
    ca = new X509Certificate(await readFile(join(directory, "ca.crt")));
    leaf = new X509Certificate(await readFile(join(directory, "tls.crt")));
  });
  after(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  test("leaf chains to the CA", () => {
    assert.equal(leaf.checkIssued(ca), true);
    assert.equal(leaf.verify(ca.publicKey), true);
  });

  test("CA may sign certificates", async () => {
    const parsed = forge.pki.certificateFromPem(await readFile(join(directory, "ca.crt"), "utf8"));
    const keyUsage: unknown = parsed.getExtension("keyUsage");

    assert.equal(ca.ca, true);
    assert.equal((keyUsage as { keyCertSign?: boolean } | undefined)?.keyCertSign, true);
    assert.equal(ca.checkIssued(ca), true);
  });

  test("leaf lists every name", () => {
    const names = leaf.subjectAltName ?? "";

    assert.equal(leaf.ca, false);
    assert.match(names, /DNS:localhost/);
    assert.match(names, /DNS:webhook\.example\.svc/);
    assert.match(names, /IP Address:127\.0\.0\.1/);
    assert.equal(leaf.checkIP("::1"), "::1");
  });

  test("leaf is for TLS servers", () => {
    // 1.3.6.1.5.5.7.3.1 is the serverAuth extended key usage (RFC 5280, section 4.2.1.12).
    assert.deepEqual(leaf.keyUsage, ["1.3.6.1.5.5.7.3.1"]);
  });

  test("leaf valid for one year", () => {
    const days = (Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)) / DAY_MS;

    assert.equal(Math.round(days), 365);
  });

  test("leaf key is RSA 2048", () => {
    assert.equal(leaf.publicKey.asymmetricKeyType, "rsa");
    assert.equal(leaf.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
  });

  test("leaf signed with SHA-256", async () => {
    const parsed = forge.pki.certificateFromPem(await readFile(join(directory, "tls.crt"), "utf8"));

    assert.equal(parsed.siginfo.algorithmOid, forge.pki.oids["sha256WithRSAEncryption"]);
  });

  test("keys readable by owner only", async () => {
    assert.equal((await stat(join(directory, "ca.key"))).mode & 0o777, 0o600);
    assert.equal((await stat(join(directory, "tls.key"))).mode & 0o777, 0o600);
  });

  test("rerun keeps CA, renews leaf", async () => {
    const files = await writeDevCertificates(directory, NAMES);
    const renewed = new X509Certificate(await readFile(files.certPath));
    const sameCa = new X509Certificate(await readFile(files.caCertPath));

    assert.equal(files.createdAuthority, false);
    assert.equal(sameCa.fingerprint256, ca.fingerprint256);
    assert.notEqual(renewed.serialNumber, leaf.serialNumber);
    assert.equal(renewed.checkIssued(ca), true);
  });
});

describe("certificate names", () => {
  const valid = ["localhost", "kube-image-cache.kube-image-cache.svc", "*.example.com", "a1-b2"];
  const invalid = [
    "",
    "-leading.example",
    "trailing-.example",
    "two..dots",
    "under_score",
    "a.*.b",
  ];

  for (const name of valid) {
    test(`accepts DNS name "${name}"`, () => {
      assert.doesNotThrow(() => checkNames({ dnsNames: [name], ipAddresses: [] }));
    });
  }
  for (const name of invalid) {
    test(`rejects DNS name "${name}"`, () => {
      assert.throws(() => checkNames({ dnsNames: [name], ipAddresses: [] }), UsageError);
    });
  }

  test("rejects label over 63 characters", () => {
    const name = `${"a".repeat(64)}.example`;
    assert.throws(() => checkNames({ dnsNames: [name], ipAddresses: [] }), UsageError);
  });

  test("rejects invalid IP address", () => {
    assert.throws(() => checkNames({ dnsNames: [], ipAddresses: ["300.1.1.1"] }), UsageError);
  });
});

describe("certs command", () => {
  test("writes all four files", async () => {
    const directory = await mkdtemp(join(tmpdir(), "kube-image-cache-certs-cli-"));
    try {
      const io = captureIo();
      const args = ["certs", "--out", directory, "--dns", "localhost", "--ip", "127.0.0.1"];
      const code = await runCli(args, io);

      assert.equal(code, 0);
      for (const file of ["ca.crt", "ca.key", "tls.crt", "tls.key"]) {
        assert.equal((await stat(join(directory, file))).isFile(), true);
      }
      assert.match(io.output(), /created CA/);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  test("missing --out exits 2", async () => {
    const io = captureIo();
    const code = await runCli(["certs", "--dns", "localhost"], io);

    assert.equal(code, 2);
    assert.match(io.errors(), /--out DIR is required/);
  });

  test("no names exits 2", async () => {
    const io = captureIo();
    const code = await runCli(["certs", "--out", "unused"], io);

    assert.equal(code, 2);
    assert.match(io.errors(), /--dns NAME or --ip ADDR/);
  });

  test("invalid address exits 2", async () => {
    const io = captureIo();
    const code = await runCli(["certs", "--out", "unused", "--ip", "localhost"], io);

    assert.equal(code, 2);
    assert.match(io.errors(), /"localhost" is not an IPv4 or IPv6 address/);
  });
});
