// Registry credentials from kubernetes.io/dockerconfigjson files, the format of image pull
// secrets: {"auths": {"<host>": {"auth": base64("user:password")}}} or with "username" and
// "password" fields. Values read here are never logged or put into error messages.
import { readFile } from "node:fs/promises";

import { InvalidCredentialsFileError, type RequestSubject } from "./errors.ts";

/** A user name and password for HTTP Basic authentication. */
export interface BasicCredentials {
  readonly username: string;
  readonly password: string;
}

// Docker Hub appears in config files under its legacy index URL, and sometimes its API host.
const DOCKER_HUB_ALIASES: ReadonlySet<string> = new Set([
  "index.docker.io",
  "registry-1.docker.io",
  "docker.io",
]);

/**
 * Reads the credentials for registry `host` from the dockerconfigjson file at `path`. Returns
 * undefined when the file has no entry for the host, so the call goes out anonymously. The file
 * is read on every call, so a rotated secret takes effect at the next token request. Throws
 * InvalidCredentialsFileError when the file is unreadable or malformed.
 */
export async function readRegistryCredentials(
  path: string,
  host: string,
  subject: RequestSubject,
): Promise<BasicCredentials | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error: unknown) {
    const code = (error as NodeJS.ErrnoException).code ?? "read failed";
    throw new InvalidCredentialsFileError(subject, path, `cannot read it (${code})`);
  }
  return parseDockerConfig(text, path, subject).get(hostOfAuthKey(host));
}

/** Parses a dockerconfigjson document into credentials by normalised registry host. */
export function parseDockerConfig(
  text: string,
  path: string,
  subject: RequestSubject,
): ReadonlyMap<string, BasicCredentials> {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    // The parser's message quotes part of the input, which may be a secret.
    throw new InvalidCredentialsFileError(subject, path, "not valid JSON");
  }
  const auths = (document as { auths?: unknown } | null)?.auths;
  if (typeof auths !== "object" || auths === null) {
    throw new InvalidCredentialsFileError(subject, path, 'no "auths" mapping');
  }

  const credentials = new Map<string, BasicCredentials>();
  for (const [key, entry] of Object.entries(auths)) {
    const parsed = readEntry(entry);
    if (parsed === undefined) {
      throw new InvalidCredentialsFileError(
        subject,
        path,
        `entry "${key}" has neither "auth" ("<user>:<password>" in base64) nor "username" and "password"`,
      );
    }
    credentials.set(hostOfAuthKey(key), parsed);
  }
  return credentials;
}

/**
 * Reduces a key of `auths` to a registry host as image references write it: the scheme and
 * path are dropped ("https://index.docker.io/v1/" is "docker.io").
 */
export function hostOfAuthKey(key: string): string {
  const host = key.replace(/^[a-z]+:\/\//i, "").split("/")[0] ?? "";
  return DOCKER_HUB_ALIASES.has(host) ? "docker.io" : host;
}

// NOTE: an entry with only "identitytoken" (an OAuth refresh token, written by `docker login` for
// some cloud registries) is rejected as invalid, because the token exchange is not implemented.
function readEntry(entry: unknown): BasicCredentials | undefined {
  if (typeof entry !== "object" || entry === null) {
    return undefined;
  }
  const { auth, username, password } = entry as Record<string, unknown>;
  if (typeof auth === "string" && auth !== "") {
    const decoded = Buffer.from(auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    return colon > 0
      ? { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
      : undefined;
  }
  if (typeof username === "string" && username !== "" && typeof password === "string") {
    return { username, password };
  }
  return undefined;
}
