// Reaching the API server: loading a kubeconfig (a file, or the pod's service account) and the
// CoreV1 list calls of the inventory, each with a timeout and an abort signal.
import { existsSync } from "node:fs";

import {
  ApiException,
  CoreV1Api,
  createConfiguration,
  KubeConfig,
  ServerConfiguration,
  type Configuration,
  type V1ListMeta,
} from "@kubernetes/client-node";

import { field, stringField } from "../object-fields.ts";
import { ClusterRequestError, InvalidKubeconfigError } from "./cluster-errors.ts";
import type { ListFunction, ListPage } from "./list-watch.ts";

/** The source of the API server address and credentials. */
export type KubeconfigSource =
  | { readonly kind: "in-cluster" }
  | { readonly kind: "file"; readonly path: string; readonly context?: string };

/**
 * Loads a kubeconfig file (with `context` in place of its current-context when given) or the
 * in-cluster service account configuration. Throws InvalidKubeconfigError naming the file, the
 * missing context and the contexts that exist.
 */
export function loadKubeconfig(source: KubeconfigSource): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (source.kind === "in-cluster") {
    // Reads KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT and the service account files.
    kubeConfig.loadFromCluster();
    checkInCluster(kubeConfig);
    return kubeConfig;
  }

  try {
    kubeConfig.loadFromFile(source.path);
  } catch (error: unknown) {
    throw new InvalidKubeconfigError(
      `kubeconfig ${source.path}: cannot load it: ${messageOf(error)}`,
    );
  }
  if (source.context !== undefined) {
    kubeConfig.setCurrentContext(source.context);
  }
  checkContext(kubeConfig, source.path, source.context !== undefined);
  return kubeConfig;
}

function checkContext(kubeConfig: KubeConfig, path: string, fromFlag: boolean): void {
  const names = kubeConfig.getContexts().map((context) => context.name);
  const available =
    names.length === 0 ? "the file defines no contexts" : `available contexts: ${names.join(", ")}`;
  const current = kubeConfig.getCurrentContext();
  if (current === undefined || current === "") {
    throw new InvalidKubeconfigError(
      `kubeconfig ${path}: no current-context is set; pass --context NAME (${available})`,
    );
  }

  const context = kubeConfig.getContextObject(current);
  if (context === null) {
    const origin = fromFlag ? "--context" : "its current-context";
    throw new InvalidKubeconfigError(
      `kubeconfig ${path}: context "${current}" (from ${origin}) not found; ${available}`,
    );
  }
  if (kubeConfig.getCurrentCluster() === null) {
    throw new InvalidKubeconfigError(
      `kubeconfig ${path}: context "${current}" names cluster "${context.cluster}", which the ` +
        "file does not define",
    );
  }
}

function checkInCluster(kubeConfig: KubeConfig): void {
  const cluster = kubeConfig.getCurrentCluster();
  // Outside a pod the service variables are unset and the server reads "https://undefined:undefined".
  if (cluster === null || hostnameOf(cluster.server) === undefined) {
    throw new InvalidKubeconfigError(
      "in-cluster configuration not found: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT " +
        "are not set, so this is not running in a pod; pass --kubeconfig FILE to use a kubeconfig",
    );
  }
  if (cluster.caFile !== undefined && !existsSync(cluster.caFile)) {
    throw new InvalidKubeconfigError(
      `in-cluster configuration not found: the service account CA ${cluster.caFile} is missing; ` +
        "mount a service account token into the pod or pass --kubeconfig FILE",
    );
  }
}

function hostnameOf(server: string): string | undefined {
  try {
    const { hostname } = new URL(server);
    return hostname === "" || hostname === "undefined" ? undefined : hostname;
  } catch {
    return undefined;
  }
}

/** Returns the API server URL of the kubeconfig's current context, for logs and errors. */
export function serverOf(kubeConfig: KubeConfig): string {
  return kubeConfig.getCurrentCluster()?.server ?? "(no cluster)";
}

/**
 * Creates a client of any generated API class (CoreV1Api, CoordinationV1Api) whose every request
 * ends after `timeoutMs` or when `signal` aborts. The signal goes in through a request
 * middleware because the generated clients take no per-call signal.
 */
export function createApiClient<T>(
  Api: new (configuration: Configuration) => T,
  kubeConfig: KubeConfig,
  signal: AbortSignal,
  timeoutMs: number,
): T {
  const configuration = createConfiguration({
    baseServer: new ServerConfiguration(serverOf(kubeConfig), {}),
    authMethods: { default: kubeConfig },
    promiseMiddleware: [
      {
        pre: (context) => {
          context.setSignal(AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]));
          return Promise.resolve(context);
        },
        post: (context) => Promise.resolve(context),
      },
    ],
  });
  return new Api(configuration);
}

/** Creates a CoreV1 client with a timeout and an abort signal, as createApiClient does. */
export function createCoreApi(
  kubeConfig: KubeConfig,
  signal: AbortSignal,
  timeoutMs: number,
): CoreV1Api {
  return createApiClient(CoreV1Api, kubeConfig, signal, timeoutMs);
}

/** Lists nodes a page of `pageSize` at a time. */
export function nodeLister(api: CoreV1Api, server: string, pageSize: number): ListFunction {
  return (continueToken) =>
    listPage("nodes", server, () =>
      api.listNode({ limit: pageSize, ...continueParameter(continueToken) }),
    );
}

/** Lists pods in every namespace that match `fieldSelector`, a page of `pageSize` at a time. */
export function podLister(
  api: CoreV1Api,
  server: string,
  pageSize: number,
  fieldSelector: string,
): ListFunction {
  return (continueToken) =>
    listPage("pods", server, () =>
      api.listPodForAllNamespaces({
        limit: pageSize,
        fieldSelector,
        ...continueParameter(continueToken),
      }),
    );
}

function continueParameter(token: string | undefined): { _continue?: string } {
  return token === undefined ? {} : { _continue: token };
}

async function listPage(
  resource: string,
  server: string,
  call: () => Promise<{ metadata?: V1ListMeta; items: readonly unknown[] }>,
): Promise<ListPage> {
  let list: { metadata?: V1ListMeta; items: readonly unknown[] };
  try {
    list = await call();
  } catch (error: unknown) {
    throw requestError(`failed to list ${resource} from ${server}`, error);
  }
  const resourceVersion = list.metadata?.resourceVersion;
  if (resourceVersion === undefined || resourceVersion === "") {
    throw new ClusterRequestError(
      `the list of ${resource} from ${server} has no metadata.resourceVersion`,
      undefined,
    );
  }
  const continueToken = list.metadata?._continue;
  return {
    items: list.items,
    resourceVersion,
    ...(continueToken === undefined || continueToken === "" ? {} : { continueToken }),
  };
}

/** Wraps a client failure: the HTTP status and Status message when the server sent one. */
function requestError(context: string, error: unknown): ClusterRequestError {
  if (error instanceof ApiException) {
    const code = field(error, "code");
    const status = typeof code === "number" ? code : undefined;
    const message = stringField(field(error, "body"), "message");
    const detail = message === undefined ? "" : `: ${message}`;
    return new ClusterRequestError(`${context}: HTTP ${status ?? "error"}${detail}`, status);
  }
  return new ClusterRequestError(`${context}: ${messageOf(error)}`, undefined, { cause: error });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
