// Registry API locations: the scheme from registries[host].plainHTTP, and Docker Hub's API host
// for docker.io.
import type { RegistryAccess } from "../config.ts";

// Image references name Docker Hub "docker.io", but its registry API is served from this host
// (the host `docker pull` connects to).
const DOCKER_HUB_API_HOST = "registry-1.docker.io";

/** Returns the origin of a registry's API, e.g. "https://registry-1.docker.io". */
export function registryOrigin(
  host: string,
  registries: ReadonlyMap<string, RegistryAccess>,
): string {
  const scheme = registries.get(host)?.plainHTTP === true ? "http" : "https";
  const apiHost = host === "docker.io" ? DOCKER_HUB_API_HOST : host;
  return `${scheme}://${apiHost}`;
}

/** Returns the URL of GET /v2/, the API version check every registry serves. */
export function pingUrl(host: string, registries: ReadonlyMap<string, RegistryAccess>): string {
  return `${registryOrigin(host, registries)}/v2/`;
}
