// POST /mutate, the probes and /metrics over real HTTPS, against a server started as
// `start-local` starts it.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { fieldAt, json, send } from "./https-client.ts";
import { exampleReview, reviewWithUid, startTestServer, type TestServer } from "./test-server.ts";

const MAX_BODY_BYTES = 4096;
const JSON_HEADERS = { "content-type": "application/json" };

describe("webhook over HTTPS", () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ maxBodyBytes: MAX_BODY_BYTES });
  });
  after(async () => {
    await server.stop();
  });

  const post = (body: string, headers: Record<string, string> = JSON_HEADERS) =>
    send(server.url, "/mutate", { ca: server.ca, body, headers });

  test("review echoes request uid", async () => {
    const reply = await post(await reviewWithUid("a1b2c3d4-0000-4000-8000-000000000001"));

    assert.equal(reply.status, 200);
    assert.equal(fieldAt(json(reply), "response", "uid"), "a1b2c3d4-0000-4000-8000-000000000001");
    assert.equal(fieldAt(json(reply), "response", "allowed"), true);
    assert.equal(fieldAt(json(reply), "kind"), "AdmissionReview");
  });

  test("review rewrites the example image", async () => {
    const reply = await post(await reviewWithUid("a1b2c3d4-0000-4000-8000-000000000002"));
    const patch = fieldAt(json(reply), "response", "patch");

    assert.equal(typeof patch, "string");
    const operations = Buffer.from(String(patch), "base64").toString("utf8");
    assert.match(operations, /"value":"registry\.example\.com\/dockerhub\/library\/nginx:1\.25"/);
  });

  test("text/plain review still answered", async () => {
    const body = await reviewWithUid("a1b2c3d4-0000-4000-8000-000000000003");
    const reply = await post(body, { "content-type": "text/plain" });

    assert.equal(reply.status, 200);
    assert.equal(fieldAt(json(reply), "response", "uid"), "a1b2c3d4-0000-4000-8000-000000000003");
  });

  test("malformed JSON gets 400", async () => {
    const reply = await post('{"apiVersion": "admission.k8s.io/v1",');

    assert.equal(reply.status, 400);
    assert.match(reply.headers["content-type"] ?? "", /application\/json/);
    assert.match(String(fieldAt(json(reply), "error")), /not valid JSON/);
  });

  test("non-review JSON gets 400", async () => {
    const reply = await post(JSON.stringify({ kind: "Pod", apiVersion: "v1" }));

    assert.equal(reply.status, 400);
    assert.equal(typeof fieldAt(json(reply), "error"), "string");
  });

  test("review without request gets 400", async () => {
    const body = JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" });
    const reply = await post(body);

    assert.equal(reply.status, 400);
    assert.equal(typeof fieldAt(json(reply), "error"), "string");
  });

  test("empty body gets 400", async () => {
    const reply = await post("");

    assert.equal(reply.status, 400);
    assert.match(String(fieldAt(json(reply), "error")), /empty/);
  });

  test("oversized body gets 413", async () => {
    const review = await exampleReview();
    const body = JSON.stringify({ ...review, padding: "x".repeat(MAX_BODY_BYTES) });
    const reply = await post(body);

    assert.equal(reply.status, 413);
    assert.match(String(fieldAt(json(reply), "error")), new RegExp(String(MAX_BODY_BYTES)));
  });

  test("GET /mutate gets 405", async () => {
    const reply = await send(server.url, "/mutate", { ca: server.ca });

    assert.equal(reply.status, 405);
    assert.equal(reply.headers["allow"], "POST");
  });

  test("unknown path gets JSON 404", async () => {
    const reply = await send(server.url, "/validate", { ca: server.ca });

    assert.equal(reply.status, 404);
    assert.match(String(fieldAt(json(reply), "error")), /\/validate/);
  });

  test("healthz reports ok", async () => {
    const reply = await send(server.url, "/healthz", { ca: server.ca });

    assert.equal(reply.status, 200);
    assert.equal(fieldAt(json(reply), "status"), "ok");
  });

  test("readyz reports ready", async () => {
    const reply = await send(server.url, "/readyz", { ca: server.ca });

    assert.equal(reply.status, 200);
    assert.equal(fieldAt(json(reply), "status"), "ready");
  });

  test("metrics count admissions", async () => {
    const before = await scrape(server);
    await post(await reviewWithUid("a1b2c3d4-0000-4000-8000-000000000005"));
    await post("not json");
    const afterwards = await scrape(server);

    const mutated = 'kube_image_cache_admission_requests_total{result="mutated"}';
    const invalid = 'kube_image_cache_admission_requests_total{result="invalid"}';
    assert.equal(sample(afterwards, mutated) - sample(before, mutated), 1);
    assert.equal(sample(afterwards, invalid) - sample(before, invalid), 1);
    assert.equal(sample(afterwards, "kube_image_cache_images_rewritten_total") >= 1, true);
    assert.equal(
      sample(afterwards, "kube_image_cache_admission_duration_seconds_count") >= 2,
      true,
    );
    assert.match(afterwards, /^process_cpu_user_seconds_total /m);
  });

  test("admission logged once with identity", async () => {
    const uid = "a1b2c3d4-0000-4000-8000-000000000006";
    await post(await reviewWithUid(uid));
    const lines = server.logs.lines().filter((line) => line["uid"] === uid);
    const info = lines.filter((line) => line["level"] === 30);

    assert.equal(info.length, 1);
    assert.equal(info[0]?.["namespace"], "team-a");
    assert.equal(info[0]?.["generateName"], "web-5d9f8b7c6d-");
    assert.equal(info[0]?.["operation"], "CREATE");
    assert.equal(info[0]?.["dryRun"], false);
    assert.equal(info[0]?.["result"], "mutated");
    assert.equal(lines.filter((line) => line["msg"] === "admission patch").length, 1);
  });

  test("metrics list dropped log lines", async () => {
    // Tests log to memory, not standard output, so nothing was dropped.
    const exposition = await scrape(server);
    assert.match(exposition, /^kube_image_cache_log_lines_dropped_total 0$/m);
  });

  test("probes are not logged", async () => {
    const count = server.logs.lines().length;
    await send(server.url, "/healthz", { ca: server.ca });
    await send(server.url, "/readyz", { ca: server.ca });
    await send(server.url, "/metrics", { ca: server.ca });

    assert.equal(server.logs.lines().length, count);
  });
});

async function scrape(server: TestServer): Promise<string> {
  const reply = await send(server.url, "/metrics", { ca: server.ca });
  assert.equal(reply.status, 200);
  return reply.text;
}

/** Returns the value of the sample whose name and labels are exactly `series`, or 0. */
function sample(exposition: string, series: string): number {
  const line = exposition.split("\n").find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}
