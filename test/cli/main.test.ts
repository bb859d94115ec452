// Command dispatch and exit codes, run in-process: 0 success, 2 invalid arguments, 3 invalid
// configuration or input file.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { writeDevCertificates } from "../../src/cli/certs.ts";
import { runCli } from "../../src/cli/main.ts";
import { LOCAL_DEFAULTS } from "../../src/cli/start-local.ts";
import { captureIo } from "./capture-io.ts";

describe("command line", () => {
  let directory: string;
  const tlsArgs = ["--tls-cert", "tls.crt", "--tls-key", "tls.key"];
  const nodesArgs = ["--nodes", LOCAL_DEFAULTS.nodesPath];

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), "kube-image-cache-cli-"));
  });
  after(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  test("help prints usage", async () => {
    const io = captureIo();

    assert.equal(await runCli(["help"], io), 0);
    assert.match(io.output(), /^Usage: kube-image-cache <command>/);
  });

  test("missing command exits 2", async () => {
    const io = captureIo();

    assert.equal(await runCli([], io), 2);
    assert.match(io.errors(), /a command is required/);
  });

  test("unknown command exits 2", async () => {
    const io = captureIo();

    assert.equal(await runCli(["server"], io), 2);
    assert.match(io.errors(), /unknown command "server"/);
  });

  test("serve nodes with kubeconfig exits 2", async () => {
    const io = captureIo();
    const args = ["serve", ...nodesArgs, "--kubeconfig", "kubeconfig", ...tlsArgs];

    assert.equal(await runCli(args, io), 2);
    assert.match(io.errors(), /--nodes and --kubeconfig exclude each other/);
  });

  test("serve context without kubeconfig exits 2", async () => {
    const io = captureIo();

    assert.equal(await runCli(["serve", "--context", "prod", ...tlsArgs], io), 2);
    assert.match(io.errors(), /--context needs --kubeconfig FILE/);
  });

  test("serve without key exits 2", async () => {
    const io = captureIo();

    assert.equal(await runCli(["serve", ...nodesArgs, "--tls-cert", "tls.crt"], io), 2);
    assert.match(io.errors(), /--tls-key is required/);
  });

  test("serve invalid port exits 2", async () => {
    const io = captureIo();

    assert.equal(await runCli(["serve", ...nodesArgs, ...tlsArgs, "--port", "70000"], io), 2);
    assert.match(io.errors(), /--port "70000" is not a TCP port/);
  });

  test("serve host name exits 2", async () => {
    const io = captureIo();

    assert.equal(await runCli(["serve", ...nodesArgs, ...tlsArgs, "--host", "localhost"], io), 2);
    assert.match(io.errors(), /--host "localhost" is not an IP address/);
  });

  test("serve unknown option exits 2", async () => {
    const io = captureIo();

    assert.equal(await runCli(["serve", ...nodesArgs, ...tlsArgs, "--verbose"], io), 2);
    assert.match(io.errors(), /serve: .*--verbose/);
  });

  test("serve invalid config exits 3", async () => {
    const configPath = join(directory, "invalid.yaml");
    await writeFile(configPath, "server:\n  deadlineMs: 0\n");
    const io = captureIo();

    const code = await runCli(["serve", "--config", configPath, ...nodesArgs, ...tlsArgs], io);

    assert.equal(code, 3);
    assert.match(io.errors(), /server\.deadlineMs/);
  });

  test("serve missing snapshot exits 3", async () => {
    const missing = join(directory, "no-such-nodes.json");
    const io = captureIo();

    assert.equal(await runCli(["serve", "--nodes", missing, ...tlsArgs], io), 3);
    assert.match(io.errors(), /no-such-nodes\.json/);
  });
});

describe("port in use", () => {
  test("serve exits 2 naming --port", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const address = blocker.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    const directory = await mkdtemp(join(tmpdir(), "kube-image-cache-port-"));
    try {
      await writeDevCertificates(directory, {
        dnsNames: ["localhost"],
        ipAddresses: ["127.0.0.1"],
      });
      const io = captureIo();
      const args = [
        ...["serve", "--config", LOCAL_DEFAULTS.configPath, "--nodes", LOCAL_DEFAULTS.nodesPath],
        ...["--tls-cert", join(directory, "tls.crt"), "--tls-key", join(directory, "tls.key")],
        ...["--host", "127.0.0.1", "--port", String(port)],
      ];
      assert.equal(await runCli(args, io), 2);
      assert.match(io.errors(), /pick another with --port/);
    } finally {
      blocker.close();
      await rm(directory, { recursive: true, force: true });
    }
  });
});
