// Registry authentication as registries announce it in WWW-Authenticate: bearer tokens from the
// token service named in the challenge (Docker registry token authentication specification), or
// HTTP Basic. Tokens are cached per registry and repository until shortly before they expire.
import type { BasicCredentials } from "./credentials.ts";
import {
  RegistryUnauthorizedError,
  RegistryUnavailableError,
  type RequestSubject,
} from "./errors.ts";
import { sendRequest, type HttpResult, type RequestEvent } from "./http.ts";

/** One challenge of a WWW-Authenticate header: the scheme (lowercase) and its parameters. */
export interface Challenge {
  readonly scheme: string;
  readonly params: ReadonlyMap<string, string>;
}

/** Everything the authenticator needs from the client that owns it. */
export interface AuthenticatorOptions {
  readonly timeoutMs: number;
  /** Credentials for a registry host, or undefined to ask for tokens anonymously. */
  readonly credentialsFor: (
    host: string,
    subject: RequestSubject,
  ) => Promise<BasicCredentials | undefined>;
  /** True when the host is configured for plain HTTP, so its token service may be too. */
  readonly allowsPlainHTTP: (host: string) => boolean;
  readonly observe?: (event: RequestEvent) => void;
}

interface CachedAuthorization {
  readonly header: string;
  /** performance.now() after which the header is not sent again. */
  readonly expiresAt: number;
}

// The token specification: a token without expires_in lives 60 seconds. Tokens are dropped a
// little early so one does not expire between being attached and reaching the registry.
const DEFAULT_TOKEN_SECONDS = 60;
const EXPIRY_MARGIN_MS = 5_000;
const MAX_TOKEN_BODY_BYTES = 1024 * 1024;
const MAX_CACHED_AUTHORIZATIONS = 1024;

// Basic credentials are sent on every request, so they stay until the registry rejects them.
const BASIC_LIFETIME_MS = Number.POSITIVE_INFINITY;

/**
 * Responds to registry challenges and caches the resulting Authorization header, so later requests
 * to the same repository carry it from the start instead of collecting a 401 first.
 */
export class Authenticator {
  readonly #options: AuthenticatorOptions;
  readonly #cache = new Map<string, CachedAuthorization>();

  constructor(options: AuthenticatorOptions) {
    this.#options = options;
  }

  /** Returns a cached Authorization header for the repository ("" for /v2/), if still valid. */
  cachedAuthorization(host: string, repository: string): string | undefined {
    const key = cacheKey(host, repository);
    const cached = this.#cache.get(key);
    if (cached === undefined || performance.now() >= cached.expiresAt) {
      this.#cache.delete(key);
      return undefined;
    }
    return cached.header;
  }

  /** Forgets the cached header, after the registry rejected it. */
  forget(host: string, repository: string): void {
    this.#cache.delete(cacheKey(host, repository));
  }

  /**
   * Responds to the challenge of a 401 response: fetches a bearer token from the announced realm,
   * or prepares Basic credentials. Returns the Authorization header to retry with, or undefined
   * when the response has no challenge this client supports. Throws RegistryUnauthorizedError
   * when the token service rejects the request.
   */
  async respondToChallenge(
    response: HttpResult,
    host: string,
    repository: string,
    subject: RequestSubject,
  ): Promise<string | undefined> {
    const challenges = parseChallenges(response.headers.get("www-authenticate") ?? "");
    const bearer = challenges.find((challenge) => challenge.scheme === "bearer");
    const realm = bearer?.params.get("realm");
    if (bearer !== undefined && realm !== undefined) {
      const token = await this.#fetchToken(realm, bearer.params, host, subject);
      this.#remember(host, repository, `Bearer ${token.token}`, token.lifetimeMs);
      return `Bearer ${token.token}`;
    }

    const credentials = challenges.some((challenge) => challenge.scheme === "basic")
      ? await this.#options.credentialsFor(host, subject)
      : undefined;
    if (credentials === undefined) {
      return undefined;
    }
    const header = `Basic ${encodeBasic(credentials)}`;
    this.#remember(host, repository, header, BASIC_LIFETIME_MS);
    return header;
  }

  async #fetchToken(
    realm: string,
    params: ReadonlyMap<string, string>,
    host: string,
    subject: RequestSubject,
  ): Promise<{ token: string; lifetimeMs: number }> {
    const url = tokenUrl(realm, params, subject);
    const headers: Record<string, string> = { accept: "application/json" };
    const credentials = await this.#options.credentialsFor(host, subject);
    if (credentials !== undefined) {
      // Security: credentials go to a plain-HTTP realm only for a host configured for plain HTTP.
      if (url.protocol !== "https:" && !this.#options.allowsPlainHTTP(host)) {
        throw new RegistryUnauthorizedError(
          subject,
          `token realm ${url.origin} is not HTTPS, so the credentials were not sent`,
        );
      }
      headers["authorization"] = `Basic ${encodeBasic(credentials)}`;
    }

    const result = await sendRequest(url.href, {
      method: "GET",
      headers,
      timeoutMs: this.#options.timeoutMs,
      maxBodyBytes: MAX_TOKEN_BODY_BYTES,
      subject,
      operation: "token",
      ...(this.#options.observe === undefined ? {} : { observe: this.#options.observe }),
    });
    return readTokenResponse(result, url, subject);
  }

  #remember(host: string, repository: string, header: string, lifetimeMs: number): void {
    if (this.#cache.size >= MAX_CACHED_AUTHORIZATIONS) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) {
        this.#cache.delete(oldest);
      }
    }
    const expiresAt = performance.now() + lifetimeMs;
    this.#cache.set(cacheKey(host, repository), { header, expiresAt });
  }
}

/**
 * Builds the token request URL: the realm with `service` and each `scope` of the challenge as
 * query parameters. A scope parameter may list several scopes separated by spaces, which the
 * token service expects as repeated `scope` parameters.
 */
function tokenUrl(
  realm: string,
  params: ReadonlyMap<string, string>,
  subject: RequestSubject,
): URL {
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw new RegistryUnavailableError(subject, `token realm "${realm}" is not a URL`);
  }
  const service = params.get("service");
  if (service !== undefined) {
    url.searchParams.set("service", service);
  }
  for (const scope of (params.get("scope") ?? "").split(" ")) {
    if (scope !== "") {
      url.searchParams.append("scope", scope);
    }
  }
  return url;
}

/**
 * Reads `token` (or its OAuth 2 spelling `access_token`) and `expires_in` from a token response.
 * The lifetime counts from now rather than from `issued_at`, so a clock difference between us and
 * the token service cannot make a token look valid longer than it is.
 */
function readTokenResponse(
  result: HttpResult,
  url: URL,
  subject: RequestSubject,
): { token: string; lifetimeMs: number } {
  const where = `token service ${url.origin}${url.pathname}`;
  if (result.status === 401 || result.status === 403) {
    throw new RegistryUnauthorizedError(subject, `${where} returned HTTP ${result.status}`);
  }
  if (result.status !== 200) {
    throw new RegistryUnavailableError(subject, `${where} returned HTTP ${result.status}`);
  }

  let body: { token?: unknown; access_token?: unknown; expires_in?: unknown };
  try {
    body = JSON.parse(result.body.toString("utf8")) as typeof body;
  } catch {
    throw new RegistryUnavailableError(subject, `${where} returned invalid JSON`);
  }
  const token = typeof body.token === "string" ? body.token : body.access_token;
  if (typeof token !== "string" || token === "") {
    throw new RegistryUnavailableError(subject, `${where} returned no token`);
  }
  const seconds =
    typeof body.expires_in === "number" && body.expires_in > 0
      ? body.expires_in
      : DEFAULT_TOKEN_SECONDS;
  return { token, lifetimeMs: Math.max(0, seconds * 1000 - EXPIRY_MARGIN_MS) };
}

/**
 * Parses a WWW-Authenticate value into challenges (RFC 7235 section 4.1): a scheme token, then
 * comma-separated `name=value` or `name="quoted value"` parameters. A bare token that is not
 * followed by "=" starts the next challenge.
 */
export function parseChallenges(header: string): Challenge[] {
  const challenges: { scheme: string; params: Map<string, string> }[] = [];
  // Group 1: a parameter name and group 2 or 3 its quoted or bare value; group 4: a scheme.
  const token =
    /\s*,?\s*(?:([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))|([A-Za-z0-9_.-]+))/y;
  let match: RegExpExecArray | null;
  while ((match = token.exec(header)) !== null && match[0] !== "") {
    const [, name, quoted, bare, scheme] = match;
    if (scheme !== undefined) {
      challenges.push({ scheme: scheme.toLowerCase(), params: new Map() });
    } else if (name !== undefined) {
      const value = quoted === undefined ? (bare ?? "") : quoted.replace(/\\(.)/g, "$1");
      challenges.at(-1)?.params.set(name.toLowerCase(), value);
    }
  }
  return challenges;
}

function encodeBasic(credentials: BasicCredentials): string {
  return Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64");
}

function cacheKey(host: string, repository: string): string {
  return `${host}/${repository}`;
}
