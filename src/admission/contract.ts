// Types shared by the admission pipeline, the HTTPS server and the dry-run CLI.
import type { Operation } from "fast-json-patch";

import type { Config } from "../config.ts";
import type { Inventory } from "../inventory/inventory.ts";
import type { NodePreference } from "../locality/affinity.ts";
import type { LayerSource } from "../locality/layers.ts";
import type { HintBasis } from "../locality/hints.ts";
import type { NodeLoadView } from "../locality/load.ts";
import type { NodeLayerIndex } from "../locality/node-layers.ts";

/** Inputs of the pure pipeline besides the request: configuration and a node snapshot. */
export interface MutationContext {
  readonly config: Config;
  readonly inventory: Inventory;
  /** Mirror hosts currently known to be down; images bound for them stay unchanged. */
  readonly unavailableMirrors?: ReadonlySet<string>;
  /** Cached image manifests for layer-level hints; without it hints match whole images. */
  readonly layers?: LayerSource;
  /** Layer digest -> nodes, built in the background from the inventory and the manifests. */
  readonly nodeLayers?: NodeLayerIndex;
  /** Requested resources per node, so hints favour nodes with room. */
  readonly load?: NodeLoadView;
  /** Varies the choice among equally warm nodes per request; the request uid. */
  readonly tieBreakSeed?: string;
}

export type ContainerResult = "rewritten" | "unchanged" | "skipped";

/** The decision for one container, init container or ephemeral container. */
export interface ContainerDecision {
  readonly name: string;
  readonly field: "containers" | "initContainers" | "ephemeralContainers";
  readonly index: number;
  readonly image: string;
  readonly result: ContainerResult;
  readonly rewrittenImage?: string;
  readonly reason: string;
}

export type { NodePreference } from "../locality/affinity.ts";

/** Everything the pipeline decided for one pod or pod template. */
export interface MutationResult {
  /** RFC 6902 operations; empty when nothing changes. */
  readonly patch: Operation[];
  /** The object after the patch is applied. */
  readonly object: unknown;
  /** Set when the whole object was skipped, with the reason. */
  readonly skipReason?: string;
  readonly containers: readonly ContainerDecision[];
  readonly preferredNodes: readonly NodePreference[];
  /** Rewritten references of images no node reports holding, for pre-pulling. */
  readonly coldImages: readonly string[];
  readonly warnings: readonly string[];
  /** Reason nodes were or were not preferred. */
  readonly localityReason?: string;
  /** Basis of the hints: shared layers, whole images, or nothing. */
  readonly localityBasis?: HintBasis;
  /** Share of the pod's bytes its best feasible node holds, 0 to 1, when computed. */
  readonly warmShare?: number;
}

/** Fields of the admission request that the log line and metrics carry. */
export interface RequestSummary {
  readonly uid: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly generateName?: string;
  readonly operation?: string;
  readonly subResource?: string;
  readonly kind?: string;
  readonly dryRun: boolean;
}

/** The server's result for one POST /mutate body. */
export type ReviewOutcome =
  | { readonly kind: "invalid"; readonly status: 400; readonly message: string }
  | {
      readonly kind: "reviewed";
      readonly status: 200;
      /** The AdmissionReview to send back, apiVersion and kind echoed from the request. */
      readonly review: Record<string, unknown>;
      readonly request: RequestSummary;
      readonly result: MutationResult;
    };
