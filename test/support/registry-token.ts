// A token service for a registry with token authentication (Docker registry token authentication
// specification): it responds to GET /token with an RS256 JWT whose `access` claim grants the
// requested repository actions. docker-registry 2.8 checks the token's `x5c` header first: the
// certificate must chain to its `rootcertbundle`, and its key must have signed the token.
import {
  createPrivateKey,
  generateKeyPairSync,
  randomUUID,
  sign,
  type KeyObject,
} from "node:crypto";
import { writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { join } from "node:path";

import forge from "node-forge";

import type { TokenAuthSettings } from "./registry.ts";

/** Who may do what: users by name and password, and repositories anyone may pull. */
export interface TokenPolicy {
  readonly users: Readonly<Record<string, string>>;
  /** Repositories whose name starts with this prefix may be pulled without credentials. */
  readonly publicPrefix: string;
  /** Lifetime of issued tokens, in seconds (the `expires_in` of the response). */
  readonly expiresInSeconds: number;
}

/** One request the token service handled. */
export interface TokenRequest {
  readonly user?: string;
  readonly scopes: readonly string[];
  readonly status: number;
}

/** A running token service and the settings a registry needs to trust it. */
export interface TokenServer {
  readonly settings: TokenAuthSettings;
  readonly requests: readonly TokenRequest[];
  close(): Promise<void>;
}

const SERVICE = "kic-test-registry";
const ISSUER = "kic-test-token-service";

/** Starts the token service on 127.0.0.1 and writes its certificate into `dir`. */
export async function startTokenServer(dir: string, policy: TokenPolicy): Promise<TokenServer> {
  const { privateKey, certificatePem, certificateDer } = createSigningCertificate();
  const rootCertBundle = join(dir, "token-root.pem");
  await writeFile(rootCertBundle, certificatePem);

  const requests: TokenRequest[] = [];
  const issue = (request: IncomingMessage, response: ServerResponse): void => {
    const result = handleTokenRequest(request, policy, privateKey, certificateDer);
    requests.push(result.record);
    response.writeHead(result.record.status, { "content-type": "application/json" });
    response.end(JSON.stringify(result.body));
  };
  const server = createServer(issue);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));

  return {
    settings: {
      realm: `http://127.0.0.1:${portOf(server)}/token`,
      service: SERVICE,
      issuer: ISSUER,
      rootCertBundle,
    },
    requests,
    close: () => closeServer(server),
  };
}

function handleTokenRequest(
  request: IncomingMessage,
  policy: TokenPolicy,
  key: KeyObject,
  certificateDer: string,
): { record: TokenRequest; body: unknown } {
  const url = new URL(request.url ?? "/", "http://127.0.0.1");
  const scopes = url.searchParams.getAll("scope");
  const user = basicUser(request.headers.authorization);
  if (user === null || (user !== undefined && policy.users[user.name] !== user.password)) {
    return { record: { scopes, status: 401 }, body: { details: "invalid credentials" } };
  }

  const access = scopes.flatMap((scope) => grant(scope, user?.name, policy));
  const token = signToken(key, certificateDer, {
    iss: ISSUER,
    sub: user?.name ?? "",
    aud: url.searchParams.get("service") ?? "",
    access,
  });
  const record = { ...(user === undefined ? {} : { user: user.name }), scopes, status: 200 };
  return { record, body: { token, expires_in: policy.expiresInSeconds } };
}

/**
 * Grants the actions a scope "repository:<name>:<actions>" requests: all of them to users, and
 * pull of public repositories to anonymous clients.
 */
function grant(scope: string, user: string | undefined, policy: TokenPolicy): unknown[] {
  const [type, name, actions] = scope.split(":");
  if (type !== "repository" || name === undefined || actions === undefined) {
    return [];
  }
  const requested = actions.split(",");
  const allowed =
    user !== undefined
      ? requested
      : requested.filter((action) => action === "pull" && name.startsWith(policy.publicPrefix));
  return allowed.length === 0 ? [] : [{ type, name, actions: allowed }];
}

/** Returns the Basic user, undefined without an Authorization header, null when malformed. */
function basicUser(
  header: string | undefined,
): { name: string; password: string } | undefined | null {
  if (header === undefined) {
    return undefined;
  }
  const match = /^Basic (.+)$/i.exec(header);
  const decoded = match?.[1] === undefined ? "" : Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon > 0 ? { name: decoded.slice(0, colon), password: decoded.slice(colon + 1) } : null;
}

function signToken(
  key: KeyObject,
  certificateDer: string,
  claims: Record<string, unknown>,
): string {
  const now = Math.floor(Date.now() / 1000);
  const header = { typ: "JWT", alg: "RS256", x5c: [certificateDer] };
  const payload = { ...claims, iat: now, nbf: now - 10, exp: now + 300, jti: randomUUID() };
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
  const signature = sign("sha256", Buffer.from(signingInput), key);
  return `${signingInput}.${signature.toString("base64url")}`;
}

function base64url(text: string): string {
  return Buffer.from(text).toString("base64url");
}

/** Creates an RSA key and a self-signed certificate for it, valid for one day. */
function createSigningCertificate(): {
  privateKey: KeyObject;
  certificatePem: string;
  certificateDer: string;
} {
  const pair = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const privatePem = pair.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const publicPem = pair.publicKey.export({ type: "spki", format: "pem" }).toString();

  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicPem);
  cert.serialNumber = "01";
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 24 * 60 * 60 * 1000);
  const subject = [{ name: "commonName", value: ISSUER }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([{ name: "basicConstraints", cA: true }]);
  cert.sign(forge.pki.privateKeyFromPem(privatePem), forge.md.sha256.create());

  const der = forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes();
  return {
    privateKey: createPrivateKey(privatePem),
    certificatePem: forge.pki.certificateToPem(cert),
    certificateDer: Buffer.from(der, "binary").toString("base64"),
  };
}

function portOf(server: Server): number {
  const address = server.address();
  if (address === null || typeof address === "string") {
    throw new Error("token server has no TCP address");
  }
  return address.port;
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
