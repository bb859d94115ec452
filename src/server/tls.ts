// The serving certificate: loading tls.crt and tls.key, and replacing the server's secure context
// when they change on disk, without a restart and without closing open connections.
import { createHash, createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync, watch, type FSWatcher } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { createSecureContext, type SecureContextOptions } from "node:tls";

import type { Logger } from "../logger.ts";

/** Paths of the PEM certificate chain and private key, as in a cert-manager secret. */
export interface TlsFiles {
  readonly certPath: string;
  readonly keyPath: string;
}

/** Options for CertificateReloader. */
export interface ReloadOptions {
  readonly logger: Logger;
  /** Interval between re-reads of both files, in case a watch event is missed; default 10 000 ms. */
  readonly pollIntervalMs?: number;
}

/** Anything whose secure context can be replaced: https.Server and tls.Server. */
export interface SecureContextTarget {
  setSecureContext(options: SecureContextOptions): void;
}

/** Outcome of one check of the files. */
export type ReloadResult = "unchanged" | "reloaded" | "rejected";

/** Raised at startup when the certificate or key cannot be read or do not form a valid pair. */
export class InvalidTlsFilesError extends Error {
  constructor(files: TlsFiles, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      `invalid TLS files ${files.certPath} and ${files.keyPath}: ${reason}; ` +
        "expected a PEM certificate chain and its matching PEM private key",
      { cause },
    );
    this.name = "InvalidTlsFilesError";
  }
}

const MIN_TLS_VERSION = "TLSv1.2";
const DEFAULT_POLL_INTERVAL_MS = 10_000;
// A writer replaces the certificate and the key one after the other. Waiting briefly after the
// first event lets both land before they are read, which avoids rejecting a half-replaced pair.
const WATCH_SETTLE_MS = 100;

interface KeyPair {
  readonly options: SecureContextOptions;
  readonly digest: string;
  readonly certificate: X509Certificate;
}

/**
 * Keeps a server's certificate in step with tls.crt and tls.key on disk.
 *
 * The kubelet updates a mounted secret, such as the one cert-manager renews, by writing a new
 * directory and swapping the `..data` symlink to it. A watch on the file itself follows the old
 * target and stops reporting after the first swap, so the reloader watches the directories that
 * contain the files. It also polls, because watch events can be missed (network file systems,
 * some container runtimes). A new pair is validated with tls.createSecureContext before it
 * replaces the old one. An unreadable, half-written or mismatched pair is logged once, and the
 * old certificate keeps serving.
 */
export class CertificateReloader {
  private current: KeyPair;
  private lastRejected: string | undefined;
  private readonly watchers: FSWatcher[] = [];
  private pollTimer: NodeJS.Timeout | undefined;
  private settleTimer: NodeJS.Timeout | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private target: SecureContextTarget | undefined;

  /** Reads and validates the files; throws InvalidTlsFilesError if they are not a valid pair. */
  constructor(
    readonly files: TlsFiles,
    private readonly options: ReloadOptions,
  ) {
    try {
      this.current = toKeyPair(readFileSync(files.certPath), readFileSync(files.keyPath));
    } catch (error: unknown) {
      throw new InvalidTlsFilesError(files, error);
    }
  }

  /** The certificate currently served. */
  get certificate(): X509Certificate {
    return this.current.certificate;
  }

  /** Options for https.createServer: the current pair and the minimum TLS version. */
  get secureContextOptions(): SecureContextOptions {
    return this.current.options;
  }

  /** Starts watching and polling; each valid new pair is installed on `target`. */
  start(target: SecureContextTarget): void {
    this.target = target;
    for (const directory of new Set([dirname(this.files.certPath), dirname(this.files.keyPath)])) {
      this.watchDirectory(directory);
    }

    const interval = this.options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.pollTimer = setInterval(() => void this.check(), interval);
    this.pollTimer.unref();
  }

  /**
   * Re-reads both files and installs them if they changed and form a valid pair. Calls run one
   * after another, so a change made while a read is in progress is seen by the next call.
   */
  check(): Promise<ReloadResult> {
    const run = this.queue.then(() => this.readAndInstall());
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Stops watching and polling. */
  stop(): void {
    for (const watcher of this.watchers.splice(0)) {
      watcher.close();
    }
    clearInterval(this.pollTimer);
    clearTimeout(this.settleTimer);
  }

  private watchDirectory(directory: string): void {
    const { logger } = this.options;
    try {
      const watcher = watch(directory, { persistent: false }, () => this.scheduleCheck());
      watcher.on("error", (err) => {
        logger.warn({ err, directory }, "TLS directory watch failed; relying on polling");
        watcher.close();
      });
      this.watchers.push(watcher);
    } catch (err: unknown) {
      logger.warn({ err, directory }, "cannot watch TLS directory; relying on polling");
    }
  }

  private scheduleCheck(): void {
    clearTimeout(this.settleTimer);
    this.settleTimer = setTimeout(() => void this.check(), WATCH_SETTLE_MS);
    this.settleTimer.unref();
  }

  private async readAndInstall(): Promise<ReloadResult> {
    const { logger } = this.options;
    let pair: KeyPair;
    try {
      const [cert, key] = await Promise.all([
        readFile(this.files.certPath),
        readFile(this.files.keyPath),
      ]);
      if (digestOf(cert, key) === this.current.digest) {
        this.lastRejected = undefined;
        return "unchanged";
      }
      pair = toKeyPair(cert, key);
    } catch (err: unknown) {
      return this.reject(err);
    }

    this.target?.setSecureContext(pair.options);
    this.current = pair;
    this.lastRejected = undefined;
    logger.info({ certificate: describeCertificate(pair.certificate) }, "TLS certificate reloaded");
    return "reloaded";
  }

  // Logs a failed reload once per distinct failure, so a broken file left in place does not
  // log on every poll.
  private reject(err: unknown): ReloadResult {
    const message = err instanceof Error ? err.message : String(err);
    if (message !== this.lastRejected) {
      this.lastRejected = message;
      this.options.logger.error(
        { err, certPath: this.files.certPath, keyPath: this.files.keyPath },
        "TLS certificate reload failed; still serving the previous certificate",
      );
    }
    return "rejected";
  }
}

/**
 * Parses and checks a pair: the first certificate must match the key, and OpenSSL must accept
 * both in a secure context. Otherwise throws an Error that gives the reason.
 */
function toKeyPair(cert: Buffer, key: Buffer): KeyPair {
  const certificate = new X509Certificate(cert);
  if (!certificate.checkPrivateKey(createPrivateKey(key))) {
    throw new Error(`the private key does not match the certificate ${certificate.serialNumber}`);
  }

  const options: SecureContextOptions = { cert, key, minVersion: MIN_TLS_VERSION };
  createSecureContext(options);
  return { options, digest: digestOf(cert, key), certificate };
}

function digestOf(cert: Buffer, key: Buffer): string {
  return createHash("sha256").update(cert).update("\0").update(key).digest("hex");
}

/** Fields that identify a certificate in log lines. */
export function describeCertificate(certificate: X509Certificate): Record<string, string> {
  return {
    subject: certificate.subject,
    serialNumber: certificate.serialNumber,
    validTo: certificate.validTo,
  };
}
