// A client of the OCI distribution API for what layer hints need: manifests by tag or digest,
// and image config blobs for the platform of single-platform images. A request that gets a 401
// response is authenticated as the registry's challenge requests, then retried once.
import type { RegistryAccess } from "../config.ts";
import { formatPullReference, type ImageReference } from "../image/reference.ts";
import type { Platform } from "../locality/layers.ts";
import { Authenticator } from "./auth.ts";
import { readRegistryCredentials, type BasicCredentials } from "./credentials.ts";
import { digestLike, digestOf } from "./digest.ts";
import { registryOrigin } from "./endpoint.ts";
import { CorruptManifestError, UnsupportedMediaTypeError, type RequestSubject } from "./errors.ts";
import {
  sendRequest,
  statusError,
  type HttpResult,
  type RegistryOperation,
  type RequestEvent,
} from "./http.ts";
import {
  IMAGE_CONFIG_TYPES,
  MANIFEST_ACCEPT,
  parseJsonObject,
  parseManifest,
  type Descriptor,
  type ManifestDocument,
} from "./manifest.ts";
import { readPlatform } from "./platform.ts";

/** Settings of a RegistryClient. */
export interface RegistryClientOptions {
  /** Access settings by registry host: plain HTTP and credentials files. */
  readonly registries: ReadonlyMap<string, RegistryAccess>;
  /** Deadline of each HTTP exchange, in milliseconds (registry.timeoutMs). */
  readonly timeoutMs: number;
  /** Called after every HTTP exchange, for metrics. */
  readonly observe?: (event: RequestEvent) => void;
}

/** Headers of a HEAD response for a manifest; the OCI spec makes each of them optional. */
export interface ManifestHead {
  readonly digest?: string;
  readonly mediaType?: string;
}

/** A manifest fetched and checked against its digest. */
export interface FetchedManifest {
  readonly digest: string;
  /** Length of the manifest JSON in bytes. */
  readonly bytes: number;
  readonly document: ManifestDocument;
}

// Distribution's registry refuses to store manifests over 4 MiB (registry/handlers/manifests.go),
// and containers/image uses the same limit for manifests and image configs.
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/** One call of #send: the API path and how to ask for it. */
interface ApiCall {
  readonly path: string;
  readonly method: "GET" | "HEAD";
  readonly operation: RegistryOperation;
  readonly accept: string;
  readonly maxBodyBytes: number;
}

/** Reads manifests and image configs from any registry the configuration names or not. */
export class RegistryClient {
  readonly #options: RegistryClientOptions;
  readonly #auth: Authenticator;

  constructor(options: RegistryClientOptions) {
    this.#options = options;
    this.#auth = new Authenticator({
      timeoutMs: options.timeoutMs,
      credentialsFor: (host, subject) => this.#credentialsFor(host, subject),
      allowsPlainHTTP: (host) => options.registries.get(host)?.plainHTTP === true,
      ...(options.observe === undefined ? {} : { observe: options.observe }),
    });
  }

  /**
   * Sends HEAD for the image's manifest (by digest when it has one, else by tag, "latest" when
   * neither is given) and returns the digest and media type headers.
   */
  async headManifest(image: ImageReference): Promise<ManifestHead> {
    const subject = subjectOf(image);
    const result = await this.#send(image, manifestCall(image, "HEAD"), subject);
    if (result.status !== 200) {
      throw statusError(result, subject);
    }
    const digest = result.headers.get("docker-content-digest") ?? undefined;
    const mediaType = result.headers.get("content-type") ?? undefined;
    return {
      ...(digest === undefined ? {} : { digest }),
      ...(mediaType === undefined ? {} : { mediaType }),
    };
  }

  /**
   * Fetches and parses the image's manifest. Fetched by digest, the bytes must hash to that
   * digest, since the OCI distribution spec says the client must verify content against the
   * digest it asked for. Fetched by tag, they must match the Docker-Content-Digest header when
   * the registry sends one. A mismatch throws CorruptManifestError.
   */
  async getManifest(image: ImageReference): Promise<FetchedManifest> {
    const subject = subjectOf(image);
    const result = await this.#send(image, manifestCall(image, "GET"), subject);
    if (result.status !== 200) {
      throw statusError(result, subject);
    }

    const digest = verifiedDigest(result, image.digest, subject);
    const contentType = result.headers.get("content-type") ?? undefined;
    const document = parseManifest(result.body, contentType, subject);
    return { digest, bytes: result.body.length, document };
  }

  /**
   * Fetches an image config blob (GET /v2/<name>/blobs/<digest>), checks its digest and returns
   * the platform it declares with its size in bytes. Throws UnsupportedMediaTypeError for a
   * config that is not a container image config, such as an artifact's.
   */
  async getImagePlatform(
    image: ImageReference,
    config: Descriptor,
  ): Promise<{ platform: Platform; bytes: number }> {
    const subject = subjectOf(image);
    if (!IMAGE_CONFIG_TYPES.includes(config.mediaType)) {
      throw new UnsupportedMediaTypeError(
        subject,
        `config media type "${config.mediaType}" is not a container image config; expected one of ${IMAGE_CONFIG_TYPES.join(", ")}`,
      );
    }

    const call: ApiCall = {
      path: `/v2/${image.path}/blobs/${config.digest}`,
      method: "GET",
      operation: "blob_get",
      accept: config.mediaType,
      maxBodyBytes: MAX_CONFIG_BYTES,
    };
    const result = await this.#send(image, call, subject);
    if (result.status !== 200) {
      throw statusError(result, subject);
    }
    const actual = digestLike(result.body, config.digest);
    if (actual !== config.digest) {
      throw new CorruptManifestError(
        subject,
        `config blob ${config.digest} has digest ${actual ?? "of unknown algorithm"}`,
      );
    }
    const platform = readPlatform(parseJsonObject(result.body, subject));
    if (platform === undefined) {
      throw new UnsupportedMediaTypeError(subject, "image config names no os and architecture");
    }
    return { platform, bytes: result.body.length };
  }

  /** Sends one request with cached authorization; on 401, authenticates and retries once. */
  async #send(image: ImageReference, call: ApiCall, subject: RequestSubject): Promise<HttpResult> {
    const url = `${registryOrigin(image.domain, this.#options.registries)}${call.path}`;
    const headers: Record<string, string> = { accept: call.accept };
    const send = (authorization: string | undefined): Promise<HttpResult> =>
      sendRequest(url, {
        method: call.method,
        headers: authorization === undefined ? headers : { ...headers, authorization },
        timeoutMs: this.#options.timeoutMs,
        maxBodyBytes: call.maxBodyBytes,
        subject,
        operation: call.operation,
        ...(this.#options.observe === undefined ? {} : { observe: this.#options.observe }),
      });

    const first = await send(this.#auth.cachedAuthorization(image.domain, image.path));
    if (first.status !== 401) {
      return first;
    }
    this.#auth.forget(image.domain, image.path);
    const authorization = await this.#auth.respondToChallenge(
      first,
      image.domain,
      image.path,
      subject,
    );
    return authorization === undefined ? first : send(authorization);
  }

  async #credentialsFor(
    host: string,
    subject: RequestSubject,
  ): Promise<BasicCredentials | undefined> {
    const path = this.#options.registries.get(host)?.credentials;
    return path === undefined ? undefined : readRegistryCredentials(path, host, subject);
  }
}

function subjectOf(image: ImageReference): RequestSubject {
  return { registry: image.domain, image: formatPullReference(image) };
}

/** Builds a manifest request: by digest when the reference has one, else by tag ("latest"). */
function manifestCall(image: ImageReference, method: "GET" | "HEAD"): ApiCall {
  return {
    path: `/v2/${image.path}/manifests/${image.digest ?? image.tag ?? "latest"}`,
    method,
    operation: method === "GET" ? "manifest_get" : "manifest_head",
    accept: MANIFEST_ACCEPT,
    maxBodyBytes: MAX_MANIFEST_BYTES,
  };
}

function verifiedDigest(
  result: HttpResult,
  requested: string | undefined,
  subject: RequestSubject,
): string {
  const announced = result.headers.get("docker-content-digest") ?? undefined;
  const expected = requested ?? announced;
  if (expected === undefined) {
    return digestOf(result.body);
  }
  const actual = digestLike(result.body, expected);
  if (actual !== expected) {
    const source = requested === undefined ? "Docker-Content-Digest header" : "requested digest";
    throw new CorruptManifestError(
      subject,
      `received bytes hash to ${actual ?? "an unknown algorithm"}, not the ${source} ${expected}`,
    );
  }
  return expected;
}
