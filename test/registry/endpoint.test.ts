// Where registry API calls go: scheme per registry and Docker Hub's API host.
import assert from "node:assert/strict";
import { test } from "node:test";

import { pingUrl, registryOrigin } from "../../src/registry/endpoint.ts";

const REGISTRIES = new Map([
  ["127.0.0.1:5000", { plainHTTP: true }],
  ["registry.example.com", { plainHTTP: false, credentials: "/secrets/pull.json" }],
]);

test("Docker Hub served from its API host", () => {
  assert.equal(registryOrigin("docker.io", REGISTRIES), "https://registry-1.docker.io");
});

test("plain HTTP only when configured", () => {
  assert.equal(registryOrigin("127.0.0.1:5000", REGISTRIES), "http://127.0.0.1:5000");
  assert.equal(registryOrigin("registry.example.com", REGISTRIES), "https://registry.example.com");
  assert.equal(
    registryOrigin("unlisted.example:8443", REGISTRIES),
    "https://unlisted.example:8443",
  );
});

test("ping URL is /v2/", () => {
  assert.equal(pingUrl("127.0.0.1:5000", REGISTRIES), "http://127.0.0.1:5000/v2/");
});
