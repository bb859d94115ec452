// The mutable node index: which updates change its versions, the keys of the caches built on it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { NodeIndex } from "../../src/inventory/inventory.ts";

function node(name: string, images: string[], heartbeat: string): Record<string, unknown> {
  return {
    metadata: { name, labels: { zone: "a" }, resourceVersion: heartbeat },
    status: {
      allocatable: { cpu: "4", memory: "8Gi" },
      conditions: [{ type: "Ready", status: "True", lastHeartbeatTime: heartbeat }],
      images: images.map((image, index) => ({ names: [image], sizeBytes: 1000 + index })),
    },
  };
}

describe("node index version", () => {
  it("stays for a heartbeat-only update", () => {
    const index = new NodeIndex();
    index.upsert(node("n1", ["docker.io/library/nginx:1.25"], "t1"));
    const before = index.version;
    index.upsert(node("n1", ["docker.io/library/nginx:1.25"], "t2"));
    assert.equal(index.version, before);
    assert.equal(index.holdersOfTaggedName("docker.io/library/nginx:1.25").length, 1);
  });

  it("changes when an image is added", () => {
    const index = new NodeIndex();
    index.upsert(node("n1", ["docker.io/library/nginx:1.25"], "t1"));
    const before = index.version;
    index.upsert(node("n1", ["docker.io/library/nginx:1.25", "docker.io/library/redis:7"], "t2"));
    assert.notEqual(index.version, before);
    assert.equal(index.holdersOfTaggedName("docker.io/library/redis:7").length, 1);
  });

  it("changes when a label changes", () => {
    const index = new NodeIndex();
    index.upsert(node("n1", [], "t1"));
    const before = index.version;
    const relabelled = node("n1", [], "t2");
    (relabelled["metadata"] as { labels: Record<string, string> }).labels = { zone: "b" };
    index.upsert(relabelled);
    assert.notEqual(index.version, before);
    assert.equal(index.nodesByName.get("n1")?.labels["zone"], "b");
  });

  it("changes when a tag moves to another image", () => {
    const index = new NodeIndex();
    index.upsert(node("n1", ["docker.io/library/nginx:1.25"], "t1"));
    const before = index.version;
    index.upsert(node("n1", ["docker.io/library/nginx:1.26"], "t2"));
    assert.notEqual(index.version, before);
    assert.equal(index.holdersOfTaggedName("docker.io/library/nginx:1.25").length, 0);
  });
});

describe("node index nodesVersion", () => {
  it("stays when only images change", () => {
    const index = new NodeIndex();
    index.upsert(node("n1", ["docker.io/library/nginx:1.25"], "t1"));
    const before = index.nodesVersion;
    index.upsert(node("n1", ["docker.io/library/nginx:1.26"], "t2"));
    assert.equal(index.nodesVersion, before);
    assert.equal(index.holdersOfTaggedName("docker.io/library/nginx:1.26").length, 1);
  });

  it("changes when a label changes", () => {
    const index = new NodeIndex();
    index.upsert(node("n1", ["docker.io/library/nginx:1.25"], "t1"));
    const before = index.nodesVersion;
    const relabelled = node("n1", ["docker.io/library/nginx:1.25"], "t2");
    (relabelled["metadata"] as { labels: Record<string, string> }).labels = { zone: "b" };
    index.upsert(relabelled);
    assert.notEqual(index.nodesVersion, before);
  });

  it("changes when a node joins or leaves", () => {
    const index = new NodeIndex();
    index.upsert(node("n1", [], "t1"));
    const beforeJoin = index.nodesVersion;
    index.upsert(node("n2", [], "t1"));
    assert.notEqual(index.nodesVersion, beforeJoin);

    const beforeLeave = index.nodesVersion;
    index.remove("n2");
    assert.notEqual(index.nodesVersion, beforeLeave);
    assert.equal(index.nodes.length, 1);
  });
});
