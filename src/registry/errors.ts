// Errors of registry calls, one class per condition. Each names the image and the registry so a
// log line alone shows what to check, and carries a `kind` that metrics use as a label value.

/** The condition behind a failed registry call; also the `kind` label of the error counter. */
export type RegistryErrorKind =
  | "not_found"
  | "unauthorized"
  | "timeout"
  | "corrupt_manifest"
  | "unsupported_media_type"
  | "too_large"
  | "unavailable"
  | "invalid_credentials";

export const REGISTRY_ERROR_KINDS: readonly RegistryErrorKind[] = [
  "not_found",
  "unauthorized",
  "timeout",
  "corrupt_manifest",
  "unsupported_media_type",
  "too_large",
  "unavailable",
  "invalid_credentials",
];

/** Subject of a call: the registry host and the image as text for messages. */
export interface RequestSubject {
  /** Registry host as in the image reference, e.g. "docker.io" or "127.0.0.1:5000". */
  readonly registry: string;
  /** The image, e.g. "127.0.0.1:5000/app:v1", or "<registry>/v2/" for a ping. */
  readonly image: string;
}

/** Base class of every registry failure; `kind` names the condition without instanceof chains. */
export abstract class RegistryError extends Error {
  abstract readonly kind: RegistryErrorKind;
  readonly registry: string;
  readonly image: string;

  constructor(subject: RequestSubject, message: string, options?: ErrorOptions) {
    super(message, options);
    this.registry = subject.registry;
    this.image = subject.image;
  }

  /**
   * True when the registry gave a definite response about the image (it is missing, may not be
   * read, or is not an image we can read), as opposed to a failure that may pass on a retry.
   */
  get isDefinite(): boolean {
    return (
      this.kind === "not_found" ||
      this.kind === "unauthorized" ||
      this.kind === "corrupt_manifest" ||
      this.kind === "unsupported_media_type" ||
      this.kind === "too_large" ||
      this.kind === "invalid_credentials"
    );
  }
}

/** The registry returned 404 for the manifest or blob. */
export class ImageNotFoundError extends RegistryError {
  readonly kind = "not_found";

  constructor(subject: RequestSubject, detail: string) {
    super(
      subject,
      `image ${subject.image} not found on registry ${subject.registry} (${detail}); check that the tag or digest exists there, or that the mirror holds it`,
    );
    this.name = "ImageNotFoundError";
  }
}

/** The registry returned 401 or 403 after authentication, or the token service rejected us. */
export class RegistryUnauthorizedError extends RegistryError {
  readonly kind = "unauthorized";

  constructor(subject: RequestSubject, detail: string) {
    super(
      subject,
      `registry ${subject.registry} denied access to image ${subject.image} (${detail}); set registries["${subject.registry}"].credentials to a dockerconfigjson file with pull access`,
    );
    this.name = "RegistryUnauthorizedError";
  }
}

/** A call got no complete response within registry.timeoutMs. */
export class RegistryTimeoutError extends RegistryError {
  readonly kind = "timeout";

  constructor(subject: RequestSubject, timeoutMs: number, options?: ErrorOptions) {
    super(
      subject,
      `request to registry ${subject.registry} for image ${subject.image} timed out after ${timeoutMs} ms; check that the registry is reachable, or raise the timeout`,
      options,
    );
    this.name = "RegistryTimeoutError";
  }
}

/** A manifest or blob whose bytes do not match its digest, or that is not valid JSON. */
export class CorruptManifestError extends RegistryError {
  readonly kind = "corrupt_manifest";

  constructor(subject: RequestSubject, detail: string) {
    super(
      subject,
      `corrupt manifest for image ${subject.image} from registry ${subject.registry}: ${detail}; the registry or a proxy in between altered the content`,
    );
    this.name = "CorruptManifestError";
  }
}

/** A manifest of a type this client does not read (Docker schema 1, artifacts, unknown). */
export class UnsupportedMediaTypeError extends RegistryError {
  readonly kind = "unsupported_media_type";

  constructor(subject: RequestSubject, detail: string) {
    super(
      subject,
      `unsupported manifest for image ${subject.image} from registry ${subject.registry}: ${detail}`,
    );
    this.name = "UnsupportedMediaTypeError";
  }
}

/** A manifest or config over a size limit: the download limit or the cache's byte bound. */
export class ManifestTooLargeError extends RegistryError {
  readonly kind = "too_large";

  constructor(subject: RequestSubject, detail: string) {
    super(
      subject,
      `manifest for image ${subject.image} from registry ${subject.registry} is too large: ${detail}`,
    );
    this.name = "ManifestTooLargeError";
  }
}

/** Connection failures, 5xx and 429 responses, and any other unexpected status. */
export class RegistryUnavailableError extends RegistryError {
  readonly kind = "unavailable";

  constructor(subject: RequestSubject, detail: string, options?: ErrorOptions) {
    super(
      subject,
      `registry ${subject.registry} failed for image ${subject.image}: ${detail}`,
      options,
    );
    this.name = "RegistryUnavailableError";
  }
}

/** A credentials file that cannot be read or is not a dockerconfigjson document. */
export class InvalidCredentialsFileError extends RegistryError {
  readonly kind = "invalid_credentials";

  constructor(subject: RequestSubject, path: string, detail: string) {
    super(
      subject,
      `credentials file ${path} for registry ${subject.registry} is invalid: ${detail}; expected a kubernetes.io/dockerconfigjson document {"auths": {"<host>": {"auth": "<base64 user:password>"}}}`,
    );
    this.name = "InvalidCredentialsFileError";
  }
}
