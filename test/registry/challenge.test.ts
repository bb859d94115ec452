// Parsing WWW-Authenticate challenges as registries and token services send them.
import assert from "node:assert/strict";
import { test } from "node:test";

import { parseChallenges } from "../../src/registry/auth.ts";

function asObjects(header: string): { scheme: string; params: Record<string, string> }[] {
  return parseChallenges(header).map((challenge) => ({
    scheme: challenge.scheme,
    params: Object.fromEntries(challenge.params),
  }));
}

test("bearer challenge with quoted scope", () => {
  const header =
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull,push"';

  assert.deepEqual(asObjects(header), [
    {
      scheme: "bearer",
      params: {
        realm: "https://auth.docker.io/token",
        service: "registry.docker.io",
        scope: "repository:library/nginx:pull,push",
      },
    },
  ]);
});

test("bearer challenge with error", () => {
  const header =
    'Bearer realm="http://127.0.0.1:1/token",service="svc",scope="repository:a:pull",error="insufficient_scope"';

  assert.equal(asObjects(header)[0]?.params["error"], "insufficient_scope");
});

test("basic challenge", () => {
  assert.deepEqual(asObjects('Basic realm="Registry Realm"'), [
    { scheme: "basic", params: { realm: "Registry Realm" } },
  ]);
});

test("two challenges in one header", () => {
  const parsed = asObjects('Basic realm="r1", Bearer realm="https://t.example/token",service=s');

  assert.deepEqual(
    parsed.map((challenge) => challenge.scheme),
    ["basic", "bearer"],
  );
  assert.equal(parsed[1]?.params["service"], "s");
});

test("escaped quote in value", () => {
  assert.equal(asObjects('Bearer realm="a\\"b"')[0]?.params["realm"], 'a"b');
});

test("empty header has no challenges", () => {
  assert.deepEqual(parseChallenges(""), []);
});
