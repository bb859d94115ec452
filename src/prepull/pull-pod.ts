// The pod that pulls one image onto one node, and how to read its outcome. The pod names its
// node in spec.nodeName, so no scheduler is involved. An init container from this project's own
// image copies a static no-op binary into an emptyDir, and the container of the target image
// runs that binary: images without a shell (distroless, scratch) pull and exit like any other.
import { createHash } from "node:crypto";

import type { Taint } from "../inventory/inventory.ts";
import { arrayField, field, stringField } from "../object-fields.ts";

/** Label that marks pull pods, for the controller's list. */
export const PULL_POD_LABEL = "kube-image-cache.io/prepull";
/** The label selector that lists pull pods. */
export const PULL_POD_SELECTOR = `${PULL_POD_LABEL}=true`;
/** Annotation holding the image a pull pod pulls, as recorded. */
export const IMAGE_ANNOTATION = "kube-image-cache.io/prepull-image";

const LABELS = {
  [PULL_POD_LABEL]: "true",
  "app.kubernetes.io/name": "kube-image-cache",
  "app.kubernetes.io/component": "prepull",
  "app.kubernetes.io/managed-by": "kube-image-cache",
  // The webhook leaves pods with this label alone, so it neither rewrites the image a second
  // time nor records it as cold again.
  "kube-image-cache.io/skip": "true",
} as const;

const VOLUME = "prepull-bin";
const MOUNT_PATH = "/kube-image-cache";
const NOOP_PATH = `${MOUNT_PATH}/noop`;
// The uid of the "nonroot" user in distroless images, which this project's image also runs as.
const NONROOT_UID = 65532;

/** Inputs of a pull pod. */
export interface PullPodSpec {
  readonly image: string;
  readonly namespace: string;
  readonly node: string;
  readonly taints: readonly Taint[];
  /** Names of the recorded pod's pull secrets, in the same namespace. */
  readonly pullSecrets: readonly string[];
  readonly helperImage: string;
  readonly helperBinaryPath: string;
  /** activeDeadlineSeconds: the kubelet fails the pod after this long. */
  readonly timeoutSeconds: number;
}

/** The outcome read from a pull pod's status. */
export type PullOutcome =
  | { readonly kind: "running" }
  | { readonly kind: "pulled" }
  | { readonly kind: "failed"; readonly reason: string; readonly imageWide: boolean };

// Waiting reasons of a container whose image could not be pulled (kubelet images/types.go).
// Each means every node would fail the same way, so the image stops for the retry interval.
const PULL_ERRORS = new Set([
  "ErrImagePull",
  "ImagePullBackOff",
  "InvalidImageName",
  "ErrImageNeverPull",
  "ImageInspectError",
  "RegistryUnavailable",
  "SignatureValidationFailed",
]);

// Waiting reasons the kubelet sets only after the image was pulled: it pulls in startContainer
// before it creates the container (kuberuntime_container.go), so a failure to create or start
// the no-op container still leaves the image on the node.
const AFTER_PULL_ERRORS = new Set([
  "CreateContainerConfigError",
  "CreateContainerError",
  "RunContainerError",
]);

/**
 * Returns the pull pod's name: a hash of the image, namespace and node, so a second create for
 * the same pull gets 409 AlreadyExists rather than a second pod, even across leader changes.
 */
export function pullPodName(image: string, namespace: string, node: string): string {
  const hash = createHash("sha256").update(`${namespace}\n${image}\n${node}`).digest("hex");
  return `kube-image-cache-prepull-${hash.slice(0, 20)}`;
}

/** Builds the pull pod for one image on one node. */
export function buildPullPod(spec: PullPodSpec): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: pullPodName(spec.image, spec.namespace, spec.node),
      namespace: spec.namespace,
      labels: { ...LABELS },
      annotations: { [IMAGE_ANNOTATION]: spec.image },
    },
    spec: {
      nodeName: spec.node,
      restartPolicy: "Never",
      activeDeadlineSeconds: spec.timeoutSeconds,
      terminationGracePeriodSeconds: 0,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      ...(spec.pullSecrets.length === 0
        ? {}
        : { imagePullSecrets: spec.pullSecrets.map((name) => ({ name })) }),
      ...(spec.taints.length === 0 ? {} : { tolerations: spec.taints.map(toleration) }),
      securityContext: {
        runAsNonRoot: true,
        runAsUser: NONROOT_UID,
        runAsGroup: NONROOT_UID,
        seccompProfile: { type: "RuntimeDefault" },
      },
      // A few MiB in memory: the no-op binary takes about 670 KiB when gcc links it statically
      // against glibc (Debian bookworm, x86-64, -Os -s).
      volumes: [{ name: VOLUME, emptyDir: { medium: "Memory", sizeLimit: "8Mi" } }],
      initContainers: [
        {
          name: "copy-noop",
          image: spec.helperImage,
          imagePullPolicy: "IfNotPresent",
          // An exec of cp, not a shell: the helper image is this project's Debian-based image.
          command: ["cp", spec.helperBinaryPath, NOOP_PATH],
          ...containerSettings(false),
        },
      ],
      containers: [
        {
          name: "pull",
          image: spec.image,
          imagePullPolicy: "IfNotPresent",
          command: [NOOP_PATH],
          ...containerSettings(true),
        },
      ],
    },
  };
}

function containerSettings(readOnlyMount: boolean): Record<string, unknown> {
  return {
    resources: {
      requests: { cpu: "1m", memory: "8Mi" },
      limits: { cpu: "50m", memory: "32Mi" },
    },
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    },
    volumeMounts: [{ name: VOLUME, mountPath: MOUNT_PATH, readOnly: readOnlyMount }],
  };
}

/** Tolerates exactly one taint of the target node, whatever its effect. */
function toleration(taint: Taint): Record<string, string> {
  return taint.value === undefined || taint.value === ""
    ? { key: taint.key, operator: "Exists", effect: taint.effect }
    : { key: taint.key, operator: "Equal", value: taint.value, effect: taint.effect };
}

/**
 * Reads a pull pod's outcome. The image is pulled once the pod succeeded, or once its pull
 * container has started, terminated or failed after the pull. The pull failed on an image pull
 * error, on a helper image that cannot be pulled, or when the pod failed otherwise (deadline,
 * eviction, a kubelet rejecting it). Those last failures concern the node, not the image.
 */
export function readPullOutcome(pod: unknown): PullOutcome {
  const status = field(pod, "status");
  const pull = containerStatus(arrayField(status, "containerStatuses"), "pull");
  const waiting = field(field(pull, "state"), "waiting");
  const waitingReason = stringField(waiting, "reason") ?? "";
  if (stringField(status, "phase") === "Succeeded" || hasStarted(pull)) {
    return { kind: "pulled" };
  }
  if (AFTER_PULL_ERRORS.has(waitingReason)) {
    return { kind: "pulled" };
  }
  if (PULL_ERRORS.has(waitingReason)) {
    return failure(waitingReason, stringField(waiting, "message"), true);
  }

  const helper = containerStatus(arrayField(status, "initContainerStatuses"), "copy-noop");
  const helperWaiting = field(field(helper, "state"), "waiting");
  const helperReason = stringField(helperWaiting, "reason") ?? "";
  if (PULL_ERRORS.has(helperReason)) {
    const message = stringField(helperWaiting, "message");
    return failure(`helper image ${helperReason}`, message, true);
  }

  if (stringField(status, "phase") === "Failed") {
    const reason = stringField(status, "reason") ?? "Failed";
    return failure(reason, stringField(status, "message"), false);
  }
  return { kind: "running" };
}

function failure(reason: string, message: string | undefined, imageWide: boolean): PullOutcome {
  const text = message === undefined || message === "" ? reason : `${reason}: ${message}`;
  return { kind: "failed", reason: text, imageWide };
}

function containerStatus(statuses: readonly unknown[], name: string): unknown {
  return statuses.find((status) => stringField(status, "name") === name);
}

/** True once the container ran: the image was on the node by then. */
function hasStarted(status: unknown): boolean {
  const state = field(status, "state");
  return field(state, "running") !== undefined || field(state, "terminated") !== undefined;
}
