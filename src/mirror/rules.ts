// Mirror rules: which mirror repository an image goes to, decided per registry host.
import { formatReference, MAX_PATH_LENGTH, type ImageReference } from "../image/reference.ts";
import type { Config } from "../config.ts";
import { matchesImageGlob } from "./image-glob.ts";

/** The outcome of applying the mirror rules to one valid reference. */
export type RewriteDecision =
  | { readonly rewritten: true; readonly reference: ImageReference; readonly reason: string }
  | {
      readonly rewritten: false;
      readonly reason: string;
      /** For an image already on a mirror: the upstream image it mirrors, when a rule tells. */
      readonly upstream?: ImageReference;
    };

/** A mirror target split into its host and repository path prefix. */
interface MirrorTarget {
  readonly prefix: string;
  readonly host: string;
  readonly pathPrefix: string;
}

/**
 * Decides where an image should be pulled from. Images already on a mirror host are never
 * rewritten (so a second pass changes nothing), nor images excluded by pattern, nor images
 * whose mirror is known to be down, nor images whose mirrored path would be too long.
 */
export function decideRewrite(
  reference: ImageReference,
  mirror: Config["mirror"],
  excludedImages: readonly string[],
  unavailableMirrors: ReadonlySet<string> = new Set(),
): RewriteDecision {
  const host = reference.domain.toLowerCase();
  if (isMirrorHost(host, mirror)) {
    const upstream = upstreamOf(reference, mirror);
    return {
      rewritten: false,
      reason: `unchanged: already on mirror host ${reference.domain}`,
      ...(upstream === undefined ? {} : { upstream }),
    };
  }
  const pattern = excludedImages.find((glob) => matchesImageGlob(glob, reference));
  if (pattern !== undefined) {
    return { rewritten: false, reason: `unchanged: excluded by image pattern "${pattern}"` };
  }

  const ruleHost = mirror.registries.has(host) ? host : undefined;
  const prefix = ruleHost === undefined ? mirror.default : mirror.registries.get(ruleHost);
  if (prefix === undefined) {
    return { rewritten: false, reason: `unchanged: no rule for domain ${reference.domain}` };
  }
  const target = splitTarget(prefix);
  const rule = `${ruleHost ?? "default"} -> ${prefix}`;
  if (unavailableMirrors.has(target.host)) {
    return {
      rewritten: false,
      reason: `unchanged: mirror unavailable (${target.host}, rule ${rule})`,
    };
  }

  const hostPath = ruleHost === undefined ? hostAsPathComponent(reference.domain) : "";
  if (hostPath === undefined) {
    return {
      rewritten: false,
      reason: `unchanged: host ${reference.domain} cannot be a mirror path component (rule ${rule})`,
    };
  }
  const path = `${target.pathPrefix}/${hostPath}${reference.path}`;
  if (path.length > MAX_PATH_LENGTH) {
    return {
      rewritten: false,
      reason: `unchanged: mirrored path would be ${path.length} characters, over the ${MAX_PATH_LENGTH}-character limit (rule ${rule})`,
    };
  }
  const rewritten: ImageReference = { ...reference, domain: target.host, path };
  return { rewritten: true, reference: rewritten, reason: `rewritten by rule ${rule}` };
}

/**
 * The default mirror keeps images of many registries apart by putting the source host first in
 * the path, with the port separated by "_": "registry.example.org:5000" becomes
 * "registry.example.org_5000/". Host names cannot contain "_", so the mapping can be reversed.
 * Returns undefined for hosts that cannot be written as a path component (IPv6 literals).
 */
function hostAsPathComponent(host: string): string | undefined {
  const component = host.toLowerCase().replace(":", "_");
  return PATH_COMPONENT.test(component) ? `${component}/` : undefined;
}

/** Matches one path component of the reference grammar. */
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$/;

/**
 * Maps a mirrored image back to its source, by the per-registry rules or the default prefix's
 * host component, so a node that reports the upstream name still counts as warm on a second pass.
 */
function upstreamOf(
  reference: ImageReference,
  mirror: Config["mirror"],
): ImageReference | undefined {
  const domain = reference.domain.toLowerCase();
  for (const [host, prefix] of mirror.registries) {
    const target = splitTarget(prefix);
    const start = `${target.pathPrefix}/`;
    if (domain === target.host && reference.path.startsWith(start)) {
      return { ...reference, domain: host, path: reference.path.slice(start.length) };
    }
  }
  if (mirror.default === undefined) {
    return undefined;
  }
  const target = splitTarget(mirror.default);
  const start = `${target.pathPrefix}/`;
  if (domain !== target.host || !reference.path.startsWith(start)) {
    return undefined;
  }
  const rest = reference.path.slice(start.length);
  const slash = rest.indexOf("/");
  if (slash <= 0) {
    return undefined;
  }
  const host = rest.slice(0, slash).replace("_", ":");
  return { ...reference, domain: host, path: rest.slice(slash + 1) };
}

/** True when the host is the host of any mirror target (rules or default). */
export function isMirrorHost(host: string, mirror: Config["mirror"]): boolean {
  return mirrorHosts(mirror).has(host);
}

const hostsByMirror = new WeakMap<Config["mirror"], Set<string>>();

/** Hosts of every mirror target in the configuration, computed once per configuration. */
export function mirrorHosts(mirror: Config["mirror"]): ReadonlySet<string> {
  const cached = hostsByMirror.get(mirror);
  if (cached !== undefined) {
    return cached;
  }
  const hosts = new Set<string>();
  for (const prefix of mirror.registries.values()) {
    hosts.add(splitTarget(prefix).host);
  }
  if (mirror.default !== undefined) {
    hosts.add(splitTarget(mirror.default).host);
  }
  hostsByMirror.set(mirror, hosts);
  return hosts;
}

function splitTarget(prefix: string): MirrorTarget {
  const slash = prefix.indexOf("/");
  return { prefix, host: prefix.slice(0, slash), pathPrefix: prefix.slice(slash + 1) };
}

/** Formats a decision's image: the rewritten reference, or the original string unchanged. */
export function rewrittenImage(original: string, decision: RewriteDecision): string {
  return decision.rewritten ? formatReference(decision.reference) : original;
}
