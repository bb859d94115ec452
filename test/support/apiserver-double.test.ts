// The API-server double, driven through @kubernetes/client-node over HTTPS: lists, watches with
// every fault the inventory must survive, and create, get, replace and delete.
import assert from "node:assert/strict";
import { request } from "node:https";
import { after, before, describe, test } from "node:test";

import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  Watch,
} from "@kubernetes/client-node";

import { waitUntil } from "../server/https-client.ts";
import { ApiServerDouble, kubeconfigFor } from "./apiserver-double.ts";
import { parseResourcePath, RESOURCE_TYPES } from "./apiserver-resources.ts";
import { parseSelectors } from "./apiserver-selectors.ts";

interface WatchEvent {
  readonly type: string;
  readonly object: Record<string, unknown>;
}

/** A watch opened through client-node's Watch, with what it received so far. */
interface OpenWatch {
  readonly events: WatchEvent[];
  /** Resolves with the error client-node passed to `done` (null for a clean end). */
  readonly done: Promise<unknown>;
  readonly controller: AbortController;
}

describe("apiserver double", () => {
  let double: ApiServerDouble;
  let kubeConfig: KubeConfig;
  let core: CoreV1Api;

  before(async () => {
    double = await ApiServerDouble.start({ bookmarkIntervalMs: 50 });
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(await kubeconfigFor(double));
    core = kubeConfig.makeApiClient(CoreV1Api);
  });
  after(async () => {
    await double.close();
  });

  async function openWatch(path: string, query: Record<string, string | boolean | number>) {
    const events: WatchEvent[] = [];
    let resolveDone: (error: unknown) => void = () => undefined;
    const done = new Promise<unknown>((resolve) => (resolveDone = resolve));
    const controller = await new Watch(kubeConfig).watch(
      path,
      query,
      (type: string, object: Record<string, unknown>) => events.push({ type, object }),
      (error: unknown) => resolveDone(error),
    );
    return { events, done, controller } satisfies OpenWatch;
  }

  test("list carries kind and resourceVersion", async () => {
    double.add("nodes", node("list-a"));
    double.add("nodes", node("list-b"));
    const body = await rawGet(double, "/api/v1/nodes", double.token);
    const list = JSON.parse(body.text) as Record<string, unknown>;
    const metadata = list["metadata"] as Record<string, unknown>;
    const items = list["items"] as Record<string, unknown>[];

    assert.equal(body.status, 200);
    assert.equal(list["kind"], "NodeList");
    assert.equal(list["apiVersion"], "v1");
    assert.equal(metadata["resourceVersion"], double.resourceVersion);
    assert.ok(
      items.some((item) => (item["metadata"] as Record<string, unknown>)["name"] === "list-a"),
    );
    assert.equal(items[0]?.["kind"], undefined);
  });

  test("missing token gets 401", async () => {
    const anonymous = await rawGet(double, "/api/v1/nodes", undefined);
    const status = JSON.parse(anonymous.text) as Record<string, unknown>;

    assert.equal(anonymous.status, 401);
    assert.equal(status["kind"], "Status");
    assert.equal(status["reason"], "Unauthorized");
  });

  test("wrong token fails through the client", async () => {
    const other = new KubeConfig();
    other.loadFromFile(await kubeconfigFor(double, { token: "not-the-token" }));
    const error = await other
      .makeApiClient(CoreV1Api)
      .listNode()
      .then(
        () => undefined,
        (failure: unknown) => failure,
      );

    assert.ok(error instanceof ApiException);
    assert.equal(error.code, 401);
  });

  test("pages follow limit and continue", async () => {
    for (const name of ["page-1", "page-2", "page-3"]) {
      double.add("nodes", node(name));
    }
    const all = (await core.listNode()).items.length;
    const first = await core.listNode({ limit: 2 });
    const token = first.metadata?._continue;
    assert.ok(token !== undefined && token !== "");
    const second = await core.listNode({ limit: 1000, _continue: token });

    assert.equal(first.items.length, 2);
    assert.equal(first.metadata?.remainingItemCount, all - 2);
    assert.equal(second.items.length, all - 2);
    assert.equal(second.metadata?._continue, undefined);
    assert.equal(second.metadata?.resourceVersion, first.metadata?.resourceVersion);
  });

  test("watch streams changes after resourceVersion", async () => {
    const from = double.resourceVersion;
    const watch = await openWatch("/api/v1/nodes", { resourceVersion: from });
    double.add("nodes", node("watched"));
    double.update("nodes", node("watched", { zone: "b" }));
    double.remove("nodes", "watched");
    await waitUntil("three events", () => watch.events.length >= 3);
    watch.controller.abort();

    assert.deepEqual(
      watch.events.map((event) => event.type),
      ["ADDED", "MODIFIED", "DELETED"],
    );
    let previous = Number(from);
    for (const event of watch.events) {
      const version = Number(metadataOf(event.object)["resourceVersion"]);
      assert.ok(version > previous, `resourceVersion ${version} after ${previous}`);
      previous = version;
    }
    assert.equal(watch.events[0]?.object["kind"], "Node");
  });

  test("watch without resourceVersion starts with objects", async () => {
    double.add("nodes", node("existing"));
    const watch = await openWatch("/api/v1/nodes", { fieldSelector: "metadata.name=existing" });
    await waitUntil("initial event", () => watch.events.length >= 1);
    watch.controller.abort();

    assert.equal(watch.events[0]?.type, "ADDED");
    assert.equal(metadataOf(watch.events[0]?.object)["name"], "existing");
    assert.equal(watch.events.length, 1);
  });

  test("compacted history gets 410 Expired", async () => {
    const old = double.resourceVersion;
    double.add("nodes", node("after-compaction"));
    double.compact();
    const watch = await openWatch("/api/v1/nodes", { resourceVersion: old });
    await watch.done;
    const [event] = watch.events;

    assert.equal(watch.events.length, 1);
    assert.equal(event?.type, "ERROR");
    assert.equal(event?.object["kind"], "Status");
    assert.equal(event?.object["code"], 410);
    assert.equal(event?.object["reason"], "Expired");
  });

  test("field selector turns leaving into DELETED", async () => {
    const watch = await openWatch("/api/v1/pods", {
      resourceVersion: double.resourceVersion,
      fieldSelector: "spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed",
    });
    double.add("pods", pod("selected", {}));
    double.update("pods", pod("selected", { nodeName: "n1" }));
    double.update("pods", pod("selected", { nodeName: "n1", phase: "Running" }));
    double.update("pods", pod("selected", { nodeName: "n1", phase: "Succeeded" }));
    double.remove("pods", "selected", "team");
    // A later matching change shows that the removal above sent nothing.
    double.add("pods", pod("marker", { nodeName: "n1" }));
    await waitUntil("the marker", () => watch.events.length >= 4);
    watch.controller.abort();

    assert.deepEqual(
      watch.events.map((event) => `${event.type} ${String(metadataOf(event.object)["name"])}`),
      ["ADDED selected", "MODIFIED selected", "DELETED selected", "ADDED marker"],
    );
  });

  test("bookmarks carry the current resourceVersion", async () => {
    const watch = await openWatch("/api/v1/nodes", {
      resourceVersion: double.resourceVersion,
      allowWatchBookmarks: true,
    });
    await waitUntil("a bookmark", () => watch.events.some((event) => event.type === "BOOKMARK"));
    watch.controller.abort();
    const bookmark = watch.events.find((event) => event.type === "BOOKMARK");

    assert.equal(metadataOf(bookmark?.object)["resourceVersion"], double.resourceVersion);
  });

  test("timeoutSeconds ends the watch cleanly", async () => {
    const watch = await openWatch("/api/v1/nodes", {
      resourceVersion: double.resourceVersion,
      timeoutSeconds: 1,
    });

    assert.equal(await watch.done, null);
  });

  test("dropWatches cuts open watches", async () => {
    const watch = await openWatch("/api/v1/nodes", { resourceVersion: double.resourceVersion });
    await waitUntil("watch registered", () => double.openWatches("nodes") >= 1);
    const dropped = double.dropWatches();
    await watch.done;

    assert.ok(dropped >= 1);
    assert.equal(double.openWatches(), 0);
  });

  test("stopListening makes the server unreachable", async () => {
    await double.stopListening();
    const failure = await core.listNode().then(
      () => undefined,
      (error: unknown) => error,
    );
    await double.startListening();
    const list = await core.listNode();

    assert.match(String(failure), /ECONNREFUSED/);
    assert.ok(list.items.length > 0);
  });

  test("leases conflict on stale replace", async () => {
    const leases = kubeConfig.makeApiClient(CoordinationV1Api);
    const namespace = "kube-image-cache";
    const created = await leases.createNamespacedLease({
      namespace,
      body: { metadata: { name: "leader" }, spec: { holderIdentity: "a" } },
    });
    const stale = created.metadata?.resourceVersion;
    const replaced = await leases.replaceNamespacedLease({
      name: "leader",
      namespace,
      body: { metadata: { name: "leader", resourceVersion: stale }, spec: { holderIdentity: "b" } },
    });
    const conflict = await leases
      .replaceNamespacedLease({
        name: "leader",
        namespace,
        body: {
          metadata: { name: "leader", resourceVersion: stale },
          spec: { holderIdentity: "c" },
        },
      })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    const read = await leases.readNamespacedLease({ name: "leader", namespace });

    assert.equal(created.metadata?.namespace, namespace);
    assert.ok(Number(replaced.metadata?.resourceVersion) > Number(stale));
    assert.ok(conflict instanceof ApiException);
    assert.equal(conflict.code, 409);
    assert.equal(read.spec?.holderIdentity, "b");
    assert.equal(read.metadata?.uid, created.metadata?.uid);
  });

  test("configmaps create, get and delete", async () => {
    const namespace = "team";
    await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: "record" }, data: { key: "value" } },
    });
    const duplicate = await core
      .createNamespacedConfigMap({ namespace, body: { metadata: { name: "record" } } })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    const read = await core.readNamespacedConfigMap({ name: "record", namespace });
    await core.deleteNamespacedConfigMap({ name: "record", namespace });
    const missing = await core.readNamespacedConfigMap({ name: "record", namespace }).then(
      () => undefined,
      (error: unknown) => error,
    );

    assert.equal(read.data?.["key"], "value");
    assert.ok(duplicate instanceof ApiException);
    assert.equal(duplicate.code, 409);
    assert.ok(missing instanceof ApiException);
    assert.equal(missing.code, 404);
  });

  test("requests are recorded", async () => {
    const before = double.requests((request) => request.path === "/api/v1/nodes").length;
    await core.listNode({ labelSelector: "zone=a" });
    const recorded = double.requests((request) => request.path === "/api/v1/nodes");

    assert.equal(recorded.length, before + 1);
    assert.equal(recorded.at(-1)?.query["labelSelector"], "zone=a");
    assert.equal(recorded.at(-1)?.watch, false);
  });
});

describe("apiserver double selectors", () => {
  const pods = RESOURCE_TYPES.get("pods");
  assert.ok(pods !== undefined);
  const object = {
    metadata: { name: "p", namespace: "team", labels: { app: "web", tier: "front" } },
    spec: { nodeName: "n1", hostNetwork: false },
    status: { phase: "Running" },
  };
  const cases: [string, string, boolean][] = [
    ["app=web", "", true],
    ["app==web", "", true],
    ["app!=web", "", false],
    ["missing!=x", "", true],
    ["app", "", true],
    ["!app", "", false],
    ["!missing", "", true],
    ["tier in (back, front)", "", true],
    ["tier notin (back,front)", "", false],
    ["app=web,tier=back", "", false],
    ["", "spec.nodeName=n1", true],
    ["", "spec.nodeName!=", true],
    ["", "spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed", true],
    ["", "status.phase=Succeeded", false],
    ["", "spec.hostNetwork=false", true],
    ["", "metadata.namespace=team", true],
    ["app=web", "metadata.name=q", false],
  ];
  for (const [labels, fields, expected] of cases) {
    test(`selects ${JSON.stringify(labels)} ${JSON.stringify(fields)}`, () => {
      assert.equal(parseSelectors(pods, labels, fields)(object), expected);
    });
  }

  test("unsupported field label is rejected", () => {
    assert.throws(() => parseSelectors(pods, null, "spec.priority=1"), /field label not supported/);
  });

  test("malformed label selector is rejected", () => {
    assert.throws(() => parseSelectors(pods, "app=(web", null), /unable to parse requirement/);
  });
});

function node(name: string, labels: Record<string, string> = {}): Record<string, unknown> {
  return { apiVersion: "v1", kind: "Node", metadata: { name, labels }, spec: {}, status: {} };
}

function pod(name: string, state: { nodeName?: string; phase?: string }): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "team" },
    spec: {
      containers: [{ name: "app", image: "nginx" }],
      ...(state.nodeName === undefined ? {} : { nodeName: state.nodeName }),
    },
    status: { phase: state.phase ?? "Pending" },
  };
}

function metadataOf(object: Record<string, unknown> | undefined): Record<string, unknown> {
  return (object?.["metadata"] ?? {}) as Record<string, unknown>;
}

/** GETs `path` over HTTPS with node:https, with or without the bearer token. */
function rawGet(
  double: ApiServerDouble,
  path: string,
  token: string | undefined,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, double.url), {
      ca: double.caCertificate,
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    });
    req.on("error", reject);
    req.on("response", (res) => {
      let text = "";
      res.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.end();
  });
}

describe("apiserver double paths", () => {
  const cases: [string, string | undefined][] = [
    ["/api/v1/nodes", "nodes  "],
    ["/api/v1/nodes/worker-1", "nodes  worker-1"],
    ["/api/v1/pods", "pods  "],
    ["/api/v1/namespaces/team/pods/web", "pods team web"],
    ["/api/v1/namespaces/team/configmaps", "configmaps team "],
    ["/apis/coordination.k8s.io/v1/namespaces/team/leases/leader", "leases team leader"],
    ["/api/v1/pods/web", undefined],
    ["/api/v1/namespaces/team/nodes", undefined],
    ["/api/v1/namespaces/team/pods/web/status", undefined],
    ["/apis/coordination.k8s.io/v2/namespaces/team/leases", undefined],
    ["/api/v1/leases", undefined],
    ["/api/v1/namespaces/team", undefined],
    ["/healthz", undefined],
  ];
  for (const [path, expected] of cases) {
    test(`parses ${path}`, () => {
      const parsed = parseResourcePath(path);
      const actual =
        parsed === undefined
          ? undefined
          : `${parsed.type.name} ${parsed.namespace ?? ""} ${parsed.name ?? ""}`;
      assert.equal(actual, expected);
    });
  }
});
