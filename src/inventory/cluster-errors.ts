// Errors of the live cluster inventory, kept apart from the Kubernetes client so the CLI can map
// them to exit codes without loading the client.

/** Raised when a kubeconfig file, its context or the in-cluster configuration is unusable. */
export class InvalidKubeconfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidKubeconfigError";
  }
}

/** Raised when a request to the API server fails; `code` is the HTTP status, if one came back. */
export class ClusterRequestError extends Error {
  constructor(
    message: string,
    readonly code: number | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "ClusterRequestError";
  }
}
