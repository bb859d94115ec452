// The pull pods as the controller handles them through the API server: listing them with their
// targets, creating and deleting them, and reading their outcomes.
import type { CoreV1Api, V1Pod } from "@kubernetes/client-node";

import type { NodeSummary } from "../inventory/inventory.ts";
import type { Logger } from "../logger.ts";
import { requestError, statusOf } from "./kube-api.ts";
import {
  buildPullPod,
  IMAGE_ANNOTATION,
  PULL_POD_SELECTOR,
  readPullOutcome,
  type PullOutcome,
} from "./pull-pod.ts";
import { entryKey, type ColdImageEntry } from "./record.ts";
import type { PrepullSettings } from "./settings.ts";

/** A pull pod read from the API server. */
export interface ListedPullPod {
  readonly name: string;
  readonly namespace: string;
  readonly node: string;
  readonly image: string;
  /** The record entry key, "namespace/image". */
  readonly key: string;
  /** Creation time in milliseconds since the Unix epoch. */
  readonly created: number;
  readonly object: V1Pod;
}

export type CreateResult =
  | { readonly kind: "created"; readonly name: string }
  | { readonly kind: "failed"; readonly reason: string };

// A pod that shows no outcome this long after its activeDeadlineSeconds never reached a kubelet
// that could fail it, such as one on a node that went away.
const STUCK_GRACE_SECONDS = 120;

/** Pull pod operations on the API server. */
export class PullPods {
  constructor(
    private readonly api: CoreV1Api,
    private readonly logger: Logger,
  ) {}

  /** Lists every pull pod in every namespace; pods without a target are skipped. */
  async list(): Promise<ListedPullPod[]> {
    let pods: V1Pod[];
    try {
      pods = (await this.api.listPodForAllNamespaces({ labelSelector: PULL_POD_SELECTOR })).items;
    } catch (error: unknown) {
      throw requestError(`failed to list pull pods (${PULL_POD_SELECTOR})`, error);
    }
    const listed: ListedPullPod[] = [];
    for (const object of pods) {
      const pod = readTarget(object);
      if (pod === undefined) {
        this.logger.debug({ pod: object.metadata?.name }, "pull pod without a target; ignored");
      } else {
        listed.push(pod);
      }
    }
    return listed;
  }

  /** Creates the pull pod of one entry on one node. An existing pod of the same pull counts. */
  async create(
    entry: ColdImageEntry,
    node: NodeSummary,
    settings: PrepullSettings,
  ): Promise<CreateResult> {
    const body = buildPullPod({
      image: entry.image,
      namespace: entry.namespace,
      node: node.name,
      taints: node.taints,
      pullSecrets: entry.pullSecrets,
      helperImage: settings.helperImage,
      helperBinaryPath: settings.helperBinaryPath,
      timeoutSeconds: settings.pullTimeoutSeconds,
    }) as V1Pod;
    const name = body.metadata?.name ?? "";
    try {
      await this.api.createNamespacedPod({ namespace: entry.namespace, body });
      return { kind: "created", name };
    } catch (error: unknown) {
      if (statusOf(error) === 409) {
        return { kind: "created", name };
      }
      const context = `create pod ${entry.namespace}/${name} on node ${node.name}`;
      return { kind: "failed", reason: requestError(context, error).message };
    }
  }

  /** Reads the outcome; a pod past its deadline plus a grace period counts as failed. */
  outcomeOf(pod: ListedPullPod, now: number, timeoutSeconds: number): PullOutcome {
    const outcome = readPullOutcome(pod.object);
    const limitSeconds = timeoutSeconds + STUCK_GRACE_SECONDS;
    if (outcome.kind === "running" && now - pod.created > limitSeconds * 1000) {
      return {
        kind: "failed",
        reason: `no outcome within ${limitSeconds} s; is the node still running?`,
        imageWide: false,
      };
    }
    return outcome;
  }

  /** Deletes a pull pod at once; one already gone counts as deleted. Never throws. */
  async delete(pod: ListedPullPod, reason: string): Promise<void> {
    try {
      await this.api.deleteNamespacedPod({
        name: pod.name,
        namespace: pod.namespace,
        gracePeriodSeconds: 0,
      });
    } catch (error: unknown) {
      if (statusOf(error) !== 404) {
        const err = requestError(`failed to delete pod ${pod.namespace}/${pod.name}`, error);
        this.logger.warn({ err, reason }, "failed to delete a pull pod; retrying next pass");
      }
    }
  }
}

function readTarget(object: V1Pod): ListedPullPod | undefined {
  const name = object.metadata?.name;
  const namespace = object.metadata?.namespace;
  const image = object.metadata?.annotations?.[IMAGE_ANNOTATION];
  const node = object.spec?.nodeName;
  if (!name || !namespace || !image || !node) {
    return undefined;
  }
  const created = Date.parse(String(object.metadata?.creationTimestamp ?? "")) || Date.now();
  return {
    name,
    namespace,
    node,
    image,
    key: entryKey({ image, namespace }),
    created,
    object,
  };
}
