// The pure mutation of one pod or pod template: mirror rewrites, the original-images
// annotation, preferred node affinity toward warm nodes, and the list of cold images.
import jsonpatch from "fast-json-patch";
import type { Operation } from "fast-json-patch";

import { buildPreferredTerms } from "../locality/affinity.ts";
import { planHints, type HintPlan } from "../locality/hints.ts";
import { arrayField, field, isObject, stringField, stringRecord } from "../object-fields.ts";
import { decideContainer, type ContainerField, type ContainerOutcome } from "./containers.ts";
import type { ContainerDecision, MutationContext, MutationResult } from "./contract.ts";
import {
  appendPreferredTermsOps,
  copyAlongPaths,
  nodesAlreadyPreferred,
  setAnnotationOps,
} from "./patch.ts";

/** Annotation holding a JSON object from container name to the image as originally written. */
export const ORIGINAL_IMAGES_ANNOTATION = "kube-image-cache.io/original-images";
/** Pods carrying this label with value "true" are never mutated. */
export const SKIP_LABEL = "kube-image-cache.io/skip";
/** The API server rejects a pod whose annotation keys and values exceed 256 KiB in total. */
const MAX_ANNOTATIONS_BYTES = 256 * 1024;
/** The kubelet marks the API copy of a static pod with this annotation. */
const MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror";

// One shared empty set, so the per-configuration cache of image verdicts is kept between calls.
const NO_MIRROR_DOWN: ReadonlySet<string> = new Set();

/** Kind of change that brought the pod: created, or gaining ephemeral containers (kubectl debug). */
export type MutationMode =
  { readonly kind: "create" } | { readonly kind: "ephemeral"; readonly oldPod: unknown };

/**
 * Mutates one pod (or a workload's pod template, which has the same metadata and spec shape).
 * The patch paths are relative to the pod. Never throws on malformed input: what cannot be read
 * is skipped with a reason.
 */
export function mutatePod(
  pod: unknown,
  namespace: string | undefined,
  mode: MutationMode,
  context: MutationContext,
): MutationResult {
  const skipReason = podSkipReason(pod, namespace, context);
  if (skipReason !== undefined || !isObject(pod)) {
    return skipped(pod, skipReason ?? "object is not a pod");
  }
  const spec = pod["spec"] as Record<string, unknown>;
  const fields: ContainerField[] =
    mode.kind === "create" ? ["initContainers", "containers"] : ["ephemeralContainers"];
  const outcomes = decideContainers(spec, fields, mode, context);
  const decisions = outcomes.map((outcome) => outcome.decision);

  const patch: Operation[] = imageOps(decisions);
  const warnings = invalidImageWarnings(decisions);
  if (mode.kind === "ephemeral") {
    return finish(pod, patch, decisions, warnings);
  }

  const annotation = annotationOps(pod, decisions);
  patch.push(...annotation.operations);
  warnings.push(...annotation.warnings);
  const podImages = outcomes.flatMap((outcome) =>
    outcome.podImage === undefined ? [] : [outcome.podImage],
  );
  // A pod that already carries single-node preferred terms was hinted by an earlier pass
  // (reinvocation): a second plan, made against load that now counts the first, would add
  // different nodes, so no new terms are added.
  const alreadyPreferred = nodesAlreadyPreferred(spec);
  const plan =
    alreadyPreferred.size > 0
      ? {
          ...planHints(spec, podImages, context),
          preferences: [],
          reason:
            "pod already has single-node preferred terms (from an earlier pass or its author)",
        }
      : planHints(spec, podImages, context);
  const preferences = plan.preferences;
  patch.push(...appendPreferredTermsOps(spec, buildPreferredTerms(preferences)));
  return finish(pod, patch, decisions, warnings, { ...plan, preferences });
}

/** Returns why the whole pod is left alone, or undefined when it is processed. */
function podSkipReason(
  pod: unknown,
  namespace: string | undefined,
  context: MutationContext,
): string | undefined {
  if (!isObject(pod)) {
    return "object is not a pod (not a JSON object)";
  }
  if (!isObject(pod["spec"])) {
    return "pod has no spec";
  }
  const { exclude, webhook } = context.config;
  if (namespace !== undefined && namespace === webhook.namespace) {
    return `namespace ${namespace} is the webhook's own namespace`;
  }
  if (namespace !== undefined && exclude.namespaces.includes(namespace)) {
    return `namespace ${namespace} is excluded (exclude.namespaces)`;
  }
  const metadata = pod["metadata"];
  if (stringField(field(metadata, "labels"), SKIP_LABEL) === "true") {
    return `pod is labelled ${SKIP_LABEL}: "true"`;
  }
  if (field(field(metadata, "annotations"), MIRROR_POD_ANNOTATION) !== undefined) {
    return "mirror pod (the API copy of a static pod; the kubelet rejects changes to it)";
  }
  return undefined;
}

function decideContainers(
  spec: Record<string, unknown>,
  fields: readonly ContainerField[],
  mode: MutationMode,
  context: MutationContext,
): ContainerOutcome[] {
  const unavailable = context.unavailableMirrors ?? NO_MIRROR_DOWN;
  const existing =
    mode.kind === "ephemeral" ? existingEphemeralNames(mode.oldPod) : new Set<string>();
  const outcomes: ContainerOutcome[] = [];
  for (const fieldName of fields) {
    arrayField(spec, fieldName).forEach((container, index) => {
      const name = field(container, "name");
      if (typeof name === "string" && existing.has(name)) {
        return;
      }
      outcomes.push(
        decideContainer(container, { field: fieldName, index }, context.config, unavailable),
      );
    });
  }
  return outcomes;
}

/** Ephemeral containers cannot be changed once added; only new ones are rewritten. */
function existingEphemeralNames(oldPod: unknown): Set<string> {
  const names = new Set<string>();
  for (const container of arrayField(field(oldPod, "spec"), "ephemeralContainers")) {
    const name = field(container, "name");
    if (typeof name === "string") {
      names.add(name);
    }
  }
  return names;
}

function imageOps(decisions: readonly ContainerDecision[]): Operation[] {
  return decisions.flatMap((decision) =>
    decision.result === "rewritten" && decision.rewrittenImage !== undefined
      ? [
          {
            op: "replace" as const,
            // The field is one of three fixed names and the index a number: nothing to escape.
            path: `/spec/${decision.field}/${decision.index}/image`,
            value: decision.rewrittenImage,
          },
        ]
      : [],
  );
}

/**
 * Records the original images of rewritten containers, merged with what an earlier pass recorded.
 * Leaves the annotation out, with a warning, where it would push the pod's annotations past the
 * API server's size limit: the API server would then reject the pod.
 */
function annotationOps(
  pod: Record<string, unknown>,
  decisions: readonly ContainerDecision[],
): { operations: Operation[]; warnings: string[] } {
  const rewritten = decisions.filter((decision) => decision.result === "rewritten");
  if (rewritten.length === 0) {
    return { operations: [], warnings: [] };
  }
  // An entry left from an earlier rewrite is replaced: the image being rewritten now is what
  // the pod was written with (a pod recreated from `kubectl get -o yaml` carries a stale one).
  const recorded = readOriginalImages(pod);
  for (const decision of rewritten) {
    recorded[decision.name] = decision.image;
  }
  const value = JSON.stringify(recorded);
  const annotations = field(field(pod, "metadata"), "annotations");
  const size = bytesOverLimit({
    ...stringRecord(annotations),
    [ORIGINAL_IMAGES_ANNOTATION]: value,
  });
  if (size !== undefined) {
    const warning =
      `kube-image-cache: annotation ${ORIGINAL_IMAGES_ANNOTATION} left out: ` +
      `the pod's annotations would take ${size} bytes, ` +
      `over the API server's limit of ${MAX_ANNOTATIONS_BYTES}`;
    return { operations: [], warnings: [warning] };
  }
  return { operations: setAnnotationOps(pod, ORIGINAL_IMAGES_ANNOTATION, value), warnings: [] };
}

/**
 * Returns the size of annotations as the API server counts it (UTF-8 bytes of every key and
 * value) when it is over the limit, else undefined. A UTF-16 code unit takes at most 3 UTF-8
 * bytes, so when 3 times the string lengths is within the limit nothing is encoded.
 */
function bytesOverLimit(annotations: Record<string, string>): number | undefined {
  let units = 0;
  for (const key in annotations) {
    units += key.length + (annotations[key] as string).length;
  }
  if (units * 3 <= MAX_ANNOTATIONS_BYTES) {
    return undefined;
  }
  let total = 0;
  for (const [key, value] of Object.entries(annotations)) {
    total += Buffer.byteLength(key, "utf8") + Buffer.byteLength(value, "utf8");
  }
  return total > MAX_ANNOTATIONS_BYTES ? total : undefined;
}

function readOriginalImages(pod: Record<string, unknown>): Record<string, string> {
  const value = stringField(
    field(field(pod, "metadata"), "annotations"),
    ORIGINAL_IMAGES_ANNOTATION,
  );
  if (value === undefined) {
    return Object.create(null) as Record<string, string>;
  }
  try {
    const parsed: unknown = JSON.parse(value);
    const recorded = Object.create(null) as Record<string, string>;
    if (isObject(parsed)) {
      for (const [name, image] of Object.entries(parsed)) {
        if (typeof image === "string") {
          recorded[name] = image;
        }
      }
    }
    return recorded;
  } catch {
    // An unreadable value is replaced; the annotation is ours alone.
    return Object.create(null) as Record<string, string>;
  }
}

function invalidImageWarnings(decisions: readonly ContainerDecision[]): string[] {
  return decisions
    .filter((decision) => decision.reason.startsWith("skipped: invalid image reference"))
    .map(
      (decision) => `kube-image-cache: container ${decision.name}: invalid image left unchanged`,
    );
}

function finish(
  pod: Record<string, unknown>,
  patch: Operation[],
  containers: ContainerDecision[],
  warnings: string[],
  plan?: HintPlan,
): MutationResult {
  // The mutated object is built on first read: the server sends only the patch, so building it
  // for every admission cost 2 % of the webhook's CPU time for nothing.
  let object: unknown;
  return {
    patch,
    get object(): unknown {
      object ??=
        patch.length === 0
          ? pod
          : jsonpatch.applyPatch(copyAlongPaths(pod, patch), patch, false, true).newDocument;
      return object;
    },
    containers,
    preferredNodes: plan?.preferences ?? [],
    coldImages: [...new Set(plan?.cold ?? [])],
    warnings,
    ...(plan === undefined
      ? {}
      : { localityReason: plan.reason, localityBasis: plan.basis, warmShare: plan.warmShare }),
  };
}

/** Returns the result for an object left alone as a whole, with the reason. */
export function skipped(pod: unknown, reason: string): MutationResult {
  return {
    patch: [],
    object: pod,
    skipReason: reason,
    containers: [],
    preferredNodes: [],
    coldImages: [],
    warnings: [],
  };
}
