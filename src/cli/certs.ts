// Development certificates: a self-signed CA and a serving certificate it signs, for local runs
// and tests. In a cluster, cert-manager issues the serving certificate instead.
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";

import forge from "node-forge";

import { parseCommandArgs, UsageError } from "./args.ts";
import type { CliIo } from "./io.ts";

/** A PEM certificate and its PEM private key. */
export interface PemPair {
  readonly cert: string;
  readonly key: string;
}

/** The names a serving certificate is valid for (its subject alternative names). */
export interface CertificateNames {
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
}

/** Paths written by writeDevCertificates. */
export interface DevCertificateFiles {
  readonly caCertPath: string;
  readonly caKeyPath: string;
  readonly certPath: string;
  readonly keyPath: string;
  /** Whether a new CA was created, as opposed to reusing ca.crt and ca.key from the directory. */
  readonly createdAuthority: boolean;
}

const RSA_BITS = 2048;
const LEAF_VALIDITY_DAYS = 365;
// The CA outlives many leaves, so a leaf can be re-issued without clients trusting a new CA.
const AUTHORITY_VALIDITY_DAYS = 5 * 365;
// Backdating notBefore tolerates clocks a few minutes behind the one that signed.
const CLOCK_SKEW_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

// A DNS name of RFC 1123 labels (letters, digits, inner hyphens, at most 63 characters each),
// optionally starting with a "*." wildcard label.
const DNS_NAME =
  /^(\*\.)?[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/i;

/** Creates a self-signed CA certificate (RSA 2048, SHA-256) that may sign certificates only. */
export function createCertificateAuthority(
  commonName = "kube-image-cache development CA",
): PemPair {
  const keys = forge.pki.rsa.generateKeyPair({ bits: RSA_BITS });
  const cert = newCertificate(keys.publicKey, AUTHORITY_VALIDITY_DAYS);
  const subject = [{ name: "commonName", value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return toPem(cert, keys.privateKey);
}

/**
 * Issues a serving certificate signed by `authority` for the given names, valid for one year,
 * with a new RSA 2048 key and a random serial number. Throws UsageError for an invalid name.
 */
export function issueServingCertificate(authority: PemPair, names: CertificateNames): PemPair {
  checkNames(names);
  const caCert = forge.pki.certificateFromPem(authority.cert);
  const caKey = forge.pki.privateKeyFromPem(authority.key);
  const keys = forge.pki.rsa.generateKeyPair({ bits: RSA_BITS });

  const cert = newCertificate(keys.publicKey, LEAF_VALIDITY_DAYS);
  const commonName = names.dnsNames[0] ?? names.ipAddresses[0] ?? "kube-image-cache";
  cert.setSubject([{ name: "commonName", value: commonName }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: "basicConstraints", cA: false, critical: true },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true },
    { name: "subjectAltName", altNames: altNamesOf(names) },
    { name: "subjectKeyIdentifier" },
    {
      name: "authorityKeyIdentifier",
      keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes(),
    },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return toPem(cert, keys.privateKey);
}

/**
 * Writes ca.crt, ca.key, tls.crt and tls.key to `directory`, creating it if needed. A CA already
 * there (ca.crt and ca.key) is reused, so calling this again re-issues only the serving
 * certificate. Each file is replaced by a rename, so a reader never sees half a file; keys get
 * mode 0600.
 */
export async function writeDevCertificates(
  directory: string,
  names: CertificateNames,
): Promise<DevCertificateFiles> {
  checkNames(names);
  await mkdir(directory, { recursive: true });
  const caCertPath = join(directory, "ca.crt");
  const caKeyPath = join(directory, "ca.key");

  let authority = await readAuthority(caCertPath, caKeyPath);
  const createdAuthority = authority === undefined;
  if (authority === undefined) {
    authority = createCertificateAuthority();
    await writeAtomically(caKeyPath, authority.key, 0o600);
    await writeAtomically(caCertPath, authority.cert, 0o644);
  }

  const leaf = issueServingCertificate(authority, names);
  const certPath = join(directory, "tls.crt");
  const keyPath = join(directory, "tls.key");
  await writeAtomically(keyPath, leaf.key, 0o600);
  await writeAtomically(certPath, leaf.cert, 0o644);
  return { caCertPath, caKeyPath, certPath, keyPath, createdAuthority };
}

/** Runs `kube-image-cache certs`; returns the exit code. */
export async function runCerts(args: string[], io: CliIo): Promise<number> {
  const values = parseCommandArgs("certs", args, {
    out: { type: "string" },
    dns: { type: "string", multiple: true },
    ip: { type: "string", multiple: true },
  });
  if (values.out === undefined || values.out === "") {
    throw new UsageError("certs: --out DIR is required; it names the directory to write to");
  }
  const names = { dnsNames: values.dns ?? [], ipAddresses: values.ip ?? [] };
  if (names.dnsNames.length === 0 && names.ipAddresses.length === 0) {
    throw new UsageError(
      "certs: give at least one --dns NAME or --ip ADDR for the certificate to be valid for, " +
        "such as --dns kube-image-cache.kube-image-cache.svc",
    );
  }

  const files = await writeDevCertificates(values.out, names);
  const authority = files.createdAuthority ? "created" : "reused";
  io.stdout.write(
    `${authority} CA ${files.caCertPath} (key ${files.caKeyPath})\n` +
      `wrote serving certificate ${files.certPath} (key ${files.keyPath}) for ` +
      `${[...names.dnsNames, ...names.ipAddresses].join(", ")}\n`,
  );
  return 0;
}

/** Throws UsageError naming the first DNS name or IP address that is not valid. */
export function checkNames(names: CertificateNames): void {
  for (const name of names.dnsNames) {
    if (name.length > 253 || !DNS_NAME.test(name)) {
      throw new UsageError(
        `certs: "${name}" is not a valid DNS name; expected labels of letters, digits and ` +
          'hyphens separated by dots, such as "kube-image-cache.kube-image-cache.svc"',
      );
    }
  }
  for (const address of names.ipAddresses) {
    if (isIP(address) === 0) {
      throw new UsageError(`certs: "${address}" is not an IPv4 or IPv6 address`);
    }
  }
}

function newCertificate(publicKey: forge.pki.PublicKey, validityDays: number) {
  const cert = forge.pki.createCertificate();
  const now = Date.now();
  cert.publicKey = publicKey;
  cert.serialNumber = randomSerialNumber();
  cert.validity.notBefore = new Date(now - CLOCK_SKEW_MS);
  cert.validity.notAfter = new Date(now + validityDays * DAY_MS);
  return cert;
}

// 128 random bits as hex. The top bit is cleared so the DER integer is positive, and the next
// set so the first byte is never zero, which DER forbids as a leading byte.
function randomSerialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return bytes.toString("hex");
}

function altNamesOf(names: CertificateNames) {
  return [
    ...names.dnsNames.map((value) => ({ type: 2, value })),
    ...names.ipAddresses.map((ip) => ({ type: 7, ip })),
  ];
}

function toPem(cert: forge.pki.Certificate, key: forge.pki.PrivateKey): PemPair {
  return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(key) };
}

async function readAuthority(certPath: string, keyPath: string): Promise<PemPair | undefined> {
  try {
    const [cert, key] = await Promise.all([readFile(certPath, "utf8"), readFile(keyPath, "utf8")]);
    return { cert, key };
  } catch (error: unknown) {
    if (isNotFound(error)) {
      return undefined;
    }
    throw error;
  }
}

async function writeAtomically(path: string, content: string, mode: number): Promise<void> {
  const temporary = `${path}.${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(temporary, content, { mode });
  // writeFile applies `mode` through the umask; chmod sets it exactly.
  await chmod(temporary, mode);
  await rename(temporary, path);
}

function isNotFound(error: unknown): boolean {
  return error instanceof Error && "code" in error && error.code === "ENOENT";
}
