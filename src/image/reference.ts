// Image references: parsing and normalisation by the distribution reference grammar
// (github.com/distribution/reference, the grammar kubelet and containerd use), and formatting.
//
// Grammar, from distribution/reference's regexp.go:
//   reference        := name [ ":" tag ] [ "@" digest ]
//   name             := [domain "/"] path-component ["/" path-component]*
//   domain           := host [":" port-number]
//   host             := domain-name | "[" IPv6address "]"
//   domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
//   path-component   := alpha-numeric [separator alpha-numeric]*
//   alpha-numeric    := /[a-z0-9]+/
//   separator        := /[_.]|__|[-]+/
//   tag              := /[\w][\w.-]{0,127}/
//   digest           := algorithm ":" hex, algorithm components /[A-Za-z][A-Za-z0-9]*/ joined
//                       by [-_+.], hex /[0-9a-fA-F]{32,}/

/** A parsed, normalised image reference; the tag and digest are exactly as written. */
export interface ImageReference {
  /** Registry host with optional port, e.g. "docker.io", "registry.example.net:5000". */
  readonly domain: string;
  /** Repository path within the registry, e.g. "library/nginx". */
  readonly path: string;
  readonly tag?: string;
  /** "<algorithm>:<hex>", e.g. "sha256:…". */
  readonly digest?: string;
}

export type ParseResult =
  | { readonly ok: true; readonly reference: ImageReference }
  | { readonly ok: false; readonly error: string };

export const DEFAULT_DOMAIN = "docker.io";
const LEGACY_DEFAULT_DOMAIN = "index.docker.io";
const OFFICIAL_REPOSITORY_PREFIX = "library/";

/** Maximum length of the repository path, domain not counted (distribution/reference). */
export const MAX_PATH_LENGTH = 255;

// No valid reference is this long: path 255, tag 128, a sha512 digest 135 and a domain of at most
// 253 characters plus a port add up to well under it. Longer strings are refused before any
// regular expression runs, so a huge image string costs nothing.
const MAX_REFERENCE_LENGTH = 1024;

// Hex lengths of the digest algorithms we accept: the ones github.com/opencontainers/go-digest
// registers, which the container runtimes use to verify content.
const DIGEST_HEX_LENGTHS: ReadonlyMap<string, number> = new Map([
  ["sha256", 64],
  ["sha384", 96],
  ["sha512", 128],
]);

const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN_NAME = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*`;
const IPV6_ADDRESS = "\\[(?:[a-fA-F0-9:]+)\\]";
const DOMAIN_AND_PORT = `(?:${DOMAIN_NAME}|${IPV6_ADDRESS})(?::[0-9]+)?`;
const PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*";
const PATH = `${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const TAG = "[\\w][\\w.-]{0,127}";
const DIGEST = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";

/** Matches a whole reference: group 1 the name, 2 the tag, 3 the digest. */
const REFERENCE_PATTERN = new RegExp(
  `^((?:${DOMAIN_AND_PORT}/)?${PATH})(?::(${TAG}))?(?:@(${DIGEST}))?$`,
);
/** Splits a name into group 1 the domain and group 2 the path. */
const NAME_PATTERN = new RegExp(`^(?:(${DOMAIN_AND_PORT})/)?(${PATH})$`);
/** Matches a bare 64-character hex string, which looks like an image ID, not a name. */
const IMAGE_ID_PATTERN = /^[a-f0-9]{64}$/;

/**
 * Parses an image string the way the container runtime will, expanding familiar names
 * ("nginx" -> docker.io/library/nginx) and folding index.docker.io into docker.io.
 * Invalid strings yield the grammar's error message; nothing is guessed.
 */
export function parseImageReference(input: string): ParseResult {
  if (input.length > MAX_REFERENCE_LENGTH) {
    return invalid(`invalid reference format: longer than ${MAX_REFERENCE_LENGTH} characters`);
  }
  if (IMAGE_ID_PATTERN.test(input)) {
    return invalid(
      `invalid repository name (${input}), cannot specify 64-byte hexadecimal strings`,
    );
  }

  const { domain, remainder } = splitDockerDomain(input);
  const tagSeparator = remainder.indexOf(":");
  const remoteName = tagSeparator >= 0 ? remainder.slice(0, tagSeparator) : remainder;
  if (remoteName.toLowerCase() !== remoteName) {
    return invalid(`invalid reference format: repository name (${remoteName}) must be lowercase`);
  }

  return parseQualified(`${domain}/${remainder}`);
}

/** Parses a reference whose domain is explicit (no familiar-name expansion). */
function parseQualified(input: string): ParseResult {
  const match = REFERENCE_PATTERN.exec(input);
  if (match === null) {
    if (input === "") {
      return invalid("repository name must have at least one component");
    }
    if (REFERENCE_PATTERN.test(input.toLowerCase())) {
      return invalid("repository name must be lowercase");
    }
    return invalid("invalid reference format");
  }

  const [, name = "", tag, digest] = match;
  const nameMatch = NAME_PATTERN.exec(name);
  const domain = nameMatch?.[1] ?? "";
  const path = nameMatch?.[2] ?? name;
  if (path.length > MAX_PATH_LENGTH) {
    return invalid(`repository name must not be more than ${MAX_PATH_LENGTH} characters`);
  }
  if (digest !== undefined) {
    const digestError = validateDigest(digest);
    if (digestError !== undefined) {
      return invalid(digestError);
    }
  }

  return {
    ok: true,
    reference: {
      domain,
      path,
      ...(tag === undefined ? {} : { tag }),
      ...(digest === undefined ? {} : { digest }),
    },
  };
}

/** Checks the algorithm and encoding of a digest the pattern already accepted. */
function validateDigest(digest: string): string | undefined {
  const colon = digest.indexOf(":");
  const algorithm = digest.slice(0, colon);
  const hex = digest.slice(colon + 1);
  const expectedLength = DIGEST_HEX_LENGTHS.get(algorithm);
  if (expectedLength === undefined) {
    return "unsupported digest algorithm";
  }
  if (hex.length !== expectedLength) {
    return "invalid checksum digest length";
  }
  if (!/^[a-f0-9]+$/.test(hex)) {
    return "invalid checksum digest format";
  }
  return undefined;
}

/**
 * Splits the registry host off a familiar name. The first component is a host only when it
 * contains "." or ":", is "localhost", or has an uppercase letter; otherwise the name is on
 * Docker Hub, where single-component names live under "library/".
 */
function splitDockerDomain(name: string): { domain: string; remainder: string } {
  const slash = name.indexOf("/");
  const first = slash >= 0 ? name.slice(0, slash) : "";
  const isHost =
    slash >= 0 && (/[.:]/.test(first) || first === "localhost" || first.toLowerCase() !== first);

  let domain = isHost ? first : DEFAULT_DOMAIN;
  let remainder = isHost ? name.slice(slash + 1) : name;
  if (domain === LEGACY_DEFAULT_DOMAIN) {
    domain = DEFAULT_DOMAIN;
  }
  if (domain === DEFAULT_DOMAIN && !remainder.includes("/")) {
    remainder = OFFICIAL_REPOSITORY_PREFIX + remainder;
  }
  return { domain, remainder };
}

function invalid(error: string): ParseResult {
  return { ok: false, error };
}

/** Formats "domain/path", the repository name without tag or digest. */
export function formatName(reference: ImageReference): string {
  return `${reference.domain}/${reference.path}`;
}

/** Formats the reference with its tag and digest exactly as written; adds no tag. */
export function formatReference(reference: ImageReference): string {
  const tag = reference.tag === undefined ? "" : `:${reference.tag}`;
  const digest = reference.digest === undefined ? "" : `@${reference.digest}`;
  return `${formatName(reference)}${tag}${digest}`;
}

/** Formats the normalised form: ":latest" is implied when neither tag nor digest is given. */
export function formatNormalized(reference: ImageReference): string {
  if (reference.tag === undefined && reference.digest === undefined) {
    return `${formatName(reference)}:latest`;
  }
  return formatReference(reference);
}

/** Formats what the runtime pulls: by digest when there is one, else by (implied) tag. */
export function formatPullReference(reference: ImageReference): string {
  if (reference.digest !== undefined) {
    return `${formatName(reference)}@${reference.digest}`;
  }
  return `${formatName(reference)}:${reference.tag ?? "latest"}`;
}

/** Formats the short form Docker prints: Docker Hub's domain and "library/" are dropped. */
export function formatFamiliar(reference: ImageReference): string {
  let name = formatName(reference);
  if (reference.domain === DEFAULT_DOMAIN) {
    const path = reference.path;
    const official =
      path.startsWith(OFFICIAL_REPOSITORY_PREFIX) &&
      !path.slice(OFFICIAL_REPOSITORY_PREFIX.length).includes("/");
    name = official ? path.slice(OFFICIAL_REPOSITORY_PREFIX.length) : path;
  }
  const tag = reference.tag === undefined ? "" : `:${reference.tag}`;
  const digest = reference.digest === undefined ? "" : `@${reference.digest}`;
  return `${name}${tag}${digest}`;
}
