// Per-container decisions: whether an image is rewritten, left unchanged or skipped, and why.
import type { Config } from "../config.ts";
import { parseImageReference } from "../image/reference.ts";
import { decideRewrite, rewrittenImage } from "../mirror/rules.ts";
import { field } from "../object-fields.ts";
import type { PodImage } from "../locality/overlap.ts";
import type { ContainerDecision } from "./contract.ts";

export type ContainerField = ContainerDecision["field"];

/**
 * Istio's sidecar injector replaces this placeholder image with its proxy image; a rewritten
 * placeholder is no longer recognised, which breaks injection.
 */
const PLACEHOLDER_IMAGE = "auto";

// Decisions are logged and printed, so strings no valid pod can hold are cut: container names
// are DNS labels of at most 63 characters, and no valid image reference reaches 1024.
const MAX_SHOWN_NAME = 253;
const MAX_SHOWN_IMAGE = 1024;

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…(${text.length} characters)`;
}

/** A container decision, plus the image for locality when the reference is valid and used. */
export interface ContainerOutcome {
  readonly decision: ContainerDecision;
  readonly podImage?: PodImage;
}

/** Decides one container entry of any shape; never throws. */
export function decideContainer(
  container: unknown,
  where: { field: ContainerField; index: number },
  config: Config,
  unavailableMirrors: ReadonlySet<string>,
): ContainerOutcome {
  const rawName = field(container, "name");
  const name =
    typeof rawName === "string" && rawName !== ""
      ? shorten(rawName, MAX_SHOWN_NAME)
      : `${where.field}[${where.index}]`;
  const image = field(container, "image");
  const base = { name, field: where.field, index: where.index };
  const skip = (reason: string, shown = ""): ContainerOutcome => ({
    decision: {
      ...base,
      image: shorten(shown, MAX_SHOWN_IMAGE),
      result: "skipped",
      reason: `skipped: ${reason}`,
    },
  });

  if (image === undefined || image === null) {
    return skip("no image set (another controller or webhook may set it later)");
  }
  if (typeof image !== "string") {
    return skip(`image is not a string (got ${typeof image})`);
  }
  if (image === "") {
    return skip("image is empty (another controller or webhook may set it later)");
  }
  if (field(container, "imagePullPolicy") === "Never") {
    return skip(
      "imagePullPolicy is Never, so the image must keep the name it was loaded under",
      image,
    );
  }
  if (image === PLACEHOLDER_IMAGE) {
    return skip('image "auto" is a placeholder that Istio\'s injector replaces', image);
  }

  const verdict = verdictFor(image, config, unavailableMirrors);
  if (verdict.result === "invalid") {
    return skip(verdict.reason, image);
  }
  return {
    decision: {
      ...base,
      image,
      result: verdict.result,
      ...(verdict.rewrittenImage === undefined ? {} : { rewrittenImage: verdict.rewrittenImage }),
      reason: verdict.reason,
    },
    podImage: verdict.podImage,
  };
}

/** The rules' verdict on one image string, whichever container has it. */
type ImageVerdict =
  | { readonly result: "invalid"; readonly reason: string }
  | {
      readonly result: "unchanged" | "rewritten";
      readonly reason: string;
      readonly rewrittenImage?: string;
      readonly podImage: PodImage;
    };

// Verdicts are cached per configuration and set of unavailable mirrors, which are replaced and
// never changed in place. The replicas of a workload have the same images, and parsing plus rule
// matching was 4 % of the webhook's CPU time at saturation. Only strings of at most 512
// characters are kept (a valid reference is shorter), so odd input cannot fill memory.
const MAX_CACHED_IMAGES = 4096;
const MAX_CACHED_IMAGE_LENGTH = 512;
const verdicts = new WeakMap<
  Config,
  { unavailable: ReadonlySet<string>; byImage: Map<string, ImageVerdict> }
>();

function verdictFor(
  image: string,
  config: Config,
  unavailableMirrors: ReadonlySet<string>,
): ImageVerdict {
  let cache = verdicts.get(config);
  if (cache === undefined || cache.unavailable !== unavailableMirrors) {
    cache = { unavailable: unavailableMirrors, byImage: new Map() };
    verdicts.set(config, cache);
  }
  const cached = cache.byImage.get(image);
  if (cached !== undefined) {
    return cached;
  }
  const verdict = judgeImage(image, config, unavailableMirrors);
  if (image.length <= MAX_CACHED_IMAGE_LENGTH) {
    if (cache.byImage.size >= MAX_CACHED_IMAGES) {
      cache.byImage.clear();
    }
    cache.byImage.set(image, verdict);
  }
  return verdict;
}

function judgeImage(
  image: string,
  config: Config,
  unavailableMirrors: ReadonlySet<string>,
): ImageVerdict {
  const parsed = parseImageReference(image);
  if (!parsed.ok) {
    return { result: "invalid", reason: `invalid image reference: ${parsed.error}` };
  }
  const decision = decideRewrite(
    parsed.reference,
    config.mirror,
    config.exclude.images,
    unavailableMirrors,
  );
  if (!decision.rewritten) {
    return {
      result: "unchanged",
      reason: decision.reason,
      podImage:
        decision.upstream === undefined
          ? { original: parsed.reference }
          : { original: decision.upstream, mirrored: parsed.reference },
    };
  }
  return {
    result: "rewritten",
    rewrittenImage: rewrittenImage(image, decision),
    reason: decision.reason,
    podImage: { original: parsed.reference, mirrored: decision.reference },
  };
}
