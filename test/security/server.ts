// The webhook's HTTPS server for the security tests: started with startServer itself, so a test
// can shorten the connection timeouts, with the cases' rule set R1 and the C1 nodes.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { writeDevCertificates } from "../../src/cli/certs.ts";
import { loadConfig } from "../../src/config.ts";
import { loadNodeSnapshot } from "../../src/inventory/snapshot.ts";
import type { Logger } from "../../src/logger.ts";
import {
  startServer,
  type ConnectionTimeouts,
  type RunningServer,
} from "../../src/server/serve.ts";
import { fixturePath } from "../support/cases.ts";
import { captureLogs } from "../server/test-server.ts";

export interface SecurityServer {
  readonly server: RunningServer;
  readonly ca: Buffer;
  readonly port: number;
  readonly stop: () => Promise<void>;
}

/** Starts the server on 127.0.0.1 with a fresh development CA and certificate. */
export async function startSecurityServer(
  options: { timeouts?: Partial<ConnectionTimeouts>; logger?: Logger } = {},
): Promise<SecurityServer> {
  const directory = await mkdtemp(join(tmpdir(), "kube-image-cache-security-"));
  const files = await writeDevCertificates(directory, {
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1"],
  });
  const config = loadConfig(fixturePath("configs/r1-offline.yaml"));
  const inventory = loadNodeSnapshot(fixturePath("cases/c1-nodes.json"));
  const server = await startServer({
    config,
    context: () => ({ config, inventory }),
    isReady: () => true,
    tls: { certPath: files.certPath, keyPath: files.keyPath },
    logger: options.logger ?? captureLogs("silent").logger,
    host: "127.0.0.1",
    port: 0,
    shutdownTimeoutMs: 500,
    ...(options.timeouts === undefined ? {} : { timeouts: options.timeouts }),
  });
  return {
    server,
    ca: await readFile(files.caCertPath),
    port: server.port,
    stop: async () => {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
