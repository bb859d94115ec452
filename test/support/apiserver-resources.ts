// The resource types the API-server double serves, how their URL paths read, and the v1 Status
// bodies it sends for errors, shaped as the Kubernetes API server sends them.

/** Plural resource names the double serves. */
export type ResourceName = "nodes" | "pods" | "configmaps" | "leases";

/** A served resource type: its API group, version, kind and the field selectors it supports. */
export interface ResourceType {
  readonly name: ResourceName;
  /** "" for the core group, served under /api/v1. */
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly namespaced: boolean;
  /** Field labels a fieldSelector may use, beyond metadata.name and metadata.namespace. */
  readonly fieldLabels: readonly string[];
}

// The pod and node field labels are those the API server accepts in field selectors, as its
// field label conversion functions in pkg/apis/core/v1/conversion.go list them.
const TYPES: readonly ResourceType[] = [
  {
    name: "nodes",
    group: "",
    version: "v1",
    kind: "Node",
    namespaced: false,
    fieldLabels: ["spec.unschedulable"],
  },
  {
    name: "pods",
    group: "",
    version: "v1",
    kind: "Pod",
    namespaced: true,
    fieldLabels: [
      "spec.nodeName",
      "spec.restartPolicy",
      "spec.schedulerName",
      "spec.serviceAccountName",
      "spec.hostNetwork",
      "status.phase",
      "status.podIP",
      "status.nominatedNodeName",
    ],
  },
  {
    name: "configmaps",
    group: "",
    version: "v1",
    kind: "ConfigMap",
    namespaced: true,
    fieldLabels: [],
  },
  {
    name: "leases",
    group: "coordination.k8s.io",
    version: "v1",
    kind: "Lease",
    namespaced: true,
    fieldLabels: [],
  },
];

export const RESOURCE_TYPES: ReadonlyMap<ResourceName, ResourceType> = new Map(
  TYPES.map((type) => [type.name, type]),
);

/** Returns the apiVersion of objects of this type, such as "v1" or "coordination.k8s.io/v1". */
export function apiVersionOf(type: ResourceType): string {
  return type.group === "" ? type.version : `${type.group}/${type.version}`;
}

/** A request path split into the resource type, the namespace and the object name. */
export interface ResourcePath {
  readonly type: ResourceType;
  /** Set for namespaced paths; absent for cluster-scoped types and all-namespace collections. */
  readonly namespace?: string;
  /** Set when the path names one object rather than a collection. */
  readonly name?: string;
}

/**
 * Parses /api/v1[/namespaces/NS]/RESOURCE[/NAME] and
 * /apis/GROUP/VERSION[/namespaces/NS]/RESOURCE[/NAME]; undefined for any other path, including
 * subresources such as /status and resource types the double does not serve.
 */
export function parseResourcePath(pathname: string): ResourcePath | undefined {
  const split = splitGroupVersion(pathname.split("/").filter((segment) => segment !== ""));
  if (split === undefined) {
    return undefined;
  }
  let rest = split.rest;
  let namespace: string | undefined;
  if (rest[0] === "namespaces" && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [resource, name, ...extra] = rest;
  const type = TYPES.find((candidate) => candidate.name === resource);
  if (type === undefined || extra.length > 0 || groupVersionOf(type) !== split.groupVersion) {
    return undefined;
  }
  // Cluster-scoped types have no namespaced paths; namespaced objects need their namespace.
  const scoped = type.namespaced
    ? name === undefined || namespace !== undefined
    : namespace === undefined;
  if (!scoped) {
    return undefined;
  }
  return {
    type,
    ...(namespace === undefined ? {} : { namespace }),
    ...(name === undefined ? {} : { name: decodeURIComponent(name) }),
  };
}

/** Splits "api/v1/..." into "" and the rest, and "apis/GROUP/VERSION/..." into "GROUP/VERSION". */
function splitGroupVersion(
  segments: readonly string[],
): { groupVersion: string; rest: string[] } | undefined {
  if (segments[0] === "api" && segments[1] === "v1") {
    return { groupVersion: "", rest: segments.slice(2) };
  }
  if (segments[0] === "apis" && segments.length >= 3) {
    return { groupVersion: `${segments[1]}/${segments[2]}`, rest: segments.slice(3) };
  }
  return undefined;
}

function groupVersionOf(type: ResourceType): string {
  return type.group === "" ? "" : `${type.group}/${type.version}`;
}

/** The metav1.Status reasons the double sends, with the HTTP status each goes with. */
export type StatusReason =
  | "BadRequest"
  | "Unauthorized"
  | "NotFound"
  | "AlreadyExists"
  | "Conflict"
  | "MethodNotAllowed"
  | "Expired"
  | "Invalid";

const STATUS_CODES: Readonly<Record<StatusReason, number>> = {
  BadRequest: 400,
  Unauthorized: 401,
  NotFound: 404,
  MethodNotAllowed: 405,
  AlreadyExists: 409,
  Conflict: 409,
  Expired: 410,
  Invalid: 422,
};

/** A failure as the API server reports it: an HTTP status and a v1 Status body. */
export class ApiFailure extends Error {
  readonly code: number;

  constructor(
    readonly reason: StatusReason,
    message: string,
    readonly details?: Readonly<Record<string, unknown>>,
  ) {
    super(message);
    this.name = "ApiFailure";
    this.code = STATUS_CODES[reason];
  }

  /** Returns the v1 Status body for this failure. */
  toStatus(): Record<string, unknown> {
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      ...(this.details === undefined ? {} : { details: this.details }),
      code: this.code,
    };
  }
}

/** Returns the "nodes" or "leases.coordination.k8s.io" form the API server uses in messages. */
export function qualifiedResource(type: ResourceType): string {
  return type.group === "" ? type.name : `${type.name}.${type.group}`;
}
