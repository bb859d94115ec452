// Effective pod requests, computed as the scheduler computes them, over one table of pods.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { podRequests, readPodLoad } from "../../src/inventory/pod-requests.ts";

const MI = 2 ** 20;

interface Case {
  readonly name: string;
  readonly spec: Record<string, unknown>;
  readonly status?: Record<string, unknown>;
  readonly cpuMillis: number;
  readonly memoryBytes: number;
}

function containers(...requests: Record<string, string>[]) {
  return requests.map((request, index) => ({
    name: `c${index}`,
    resources: { requests: request },
  }));
}

const CASES: readonly Case[] = [
  { name: "no containers", spec: {}, cpuMillis: 0, memoryBytes: 0 },
  {
    name: "containers sum",
    spec: { containers: containers({ cpu: "250m", memory: "64Mi" }, { cpu: "1", memory: "1Gi" }) },
    cpuMillis: 1250,
    memoryBytes: 1088 * MI,
  },
  {
    name: "missing requests count zero",
    spec: { containers: [{ name: "c0" }, ...containers({ cpu: "100m" })] },
    cpuMillis: 100,
    memoryBytes: 0,
  },
  {
    name: "init container peak wins",
    spec: {
      containers: containers({ cpu: "100m", memory: "256Mi" }),
      initContainers: containers({ cpu: "2", memory: "64Mi" }, { cpu: "500m" }),
    },
    cpuMillis: 2000,
    memoryBytes: 256 * MI,
  },
  {
    name: "sidecar adds to sum and later init",
    spec: {
      containers: containers({ cpu: "100m" }),
      initContainers: [
        { name: "mesh", restartPolicy: "Always", resources: { requests: { cpu: "200m" } } },
        { name: "setup", resources: { requests: { cpu: "250m" } } },
      ],
    },
    // Steady state 100m + 200m; the setup step runs beside the sidecar: 250m + 200m.
    cpuMillis: 450,
    memoryBytes: 0,
  },
  {
    name: "overhead is added",
    spec: {
      containers: containers({ cpu: "100m", memory: "10Mi" }),
      overhead: { cpu: "250m", memory: "120Mi" },
    },
    cpuMillis: 350,
    memoryBytes: 130 * MI,
  },
  {
    name: "pod-level requests replace sum",
    spec: {
      containers: containers({ cpu: "100m", memory: "10Mi" }),
      resources: { requests: { cpu: "1" } },
    },
    cpuMillis: 1000,
    memoryBytes: 10 * MI,
  },
  {
    name: "resize counts the larger request",
    spec: { containers: containers({ cpu: "100m", memory: "10Mi" }) },
    status: {
      containerStatuses: [{ name: "c0", resources: { requests: { cpu: "300m", memory: "5Mi" } } }],
    },
    cpuMillis: 300,
    memoryBytes: 10 * MI,
  },
];

describe("pod requests", () => {
  for (const { name, spec, status, cpuMillis, memoryBytes } of CASES) {
    test(name, () => {
      assert.deepEqual(podRequests({ spec, ...(status === undefined ? {} : { status }) }), {
        cpuMillis,
        memoryBytes,
      });
    });
  }

  test("pod without uid is skipped", () => {
    assert.equal(readPodLoad({ metadata: { name: "p" }, spec: {} }), undefined);
  });

  test("finished phases are marked", () => {
    for (const phase of ["Succeeded", "Failed"]) {
      const load = readPodLoad({
        metadata: { uid: "u" },
        spec: { nodeName: "n" },
        status: { phase },
      });
      assert.equal(load?.finished, true, phase);
    }
  });

  test("unscheduled pod has no node", () => {
    const load = readPodLoad({ metadata: { uid: "u" }, spec: {}, status: { phase: "Pending" } });

    assert.equal(load?.node, undefined);
    assert.equal(load?.finished, false);
  });
});
