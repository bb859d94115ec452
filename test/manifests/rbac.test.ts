// Least privilege: what each service account may do, checked rule by rule. Neither the webhook
// nor the pre-puller may touch secrets, use wildcards, or write outside the objects it owns.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import type { IPolicyRule } from "kubernetes-models/rbac.authorization.k8s.io/v1/PolicyRule";
import type { IRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";

import { OBJECT_NAMES } from "../../src/prepull/settings.ts";
import { ALL_OBJECTS, findObject } from "./manifests.ts";

const ROLES = ALL_OBJECTS.filter((o) => o.kind === "Role" || o.kind === "ClusterRole").map(
  (o) => o as unknown as IRole & { kind: string },
);
const WRITE_VERBS = ["create", "update", "patch", "delete", "deletecollection"];

/** Every grant of a role as "verb group/resource[/name]" strings, sorted. */
function grants(kind: string, name: string): string[] {
  const role = findObject<IRole>(kind, name);
  return (role.rules ?? [])
    .flatMap((rule: IPolicyRule) =>
      (rule.verbs ?? []).flatMap((verb) =>
        (rule.apiGroups ?? []).flatMap((group) =>
          (rule.resources ?? []).flatMap((resource) => {
            const names = rule.resourceNames ?? [""];
            return names.map((n) => `${verb} ${group}/${resource}${n === "" ? "" : `/${n}`}`);
          }),
        ),
      ),
    )
    .sort();
}

describe("every role", () => {
  for (const role of ROLES) {
    const name = `${role.kind} ${role.metadata?.name}`;

    it(`${name} grants no secrets`, () => {
      const resources = (role.rules ?? []).flatMap((rule) => rule.resources ?? []);
      assert.ok(!resources.includes("secrets"));
    });

    it(`${name} uses no wildcards`, () => {
      for (const rule of role.rules ?? []) {
        const values = [
          ...(rule.verbs ?? []),
          ...(rule.resources ?? []),
          ...(rule.apiGroups ?? []),
        ];
        assert.ok(!values.includes("*"), JSON.stringify(rule));
      }
    });
  }
});

describe("webhook permissions", () => {
  it("reads nodes and pods cluster-wide", () => {
    assert.deepEqual(grants("ClusterRole", "kube-image-cache-webhook"), [
      "list /nodes",
      "list /pods",
      "watch /nodes",
      "watch /pods",
    ]);
  });

  it("writes only its record", () => {
    assert.deepEqual(grants("Role", "kube-image-cache-webhook"), [
      "create /configmaps",
      `get /configmaps/${OBJECT_NAMES.record}`,
      `update /configmaps/${OBJECT_NAMES.record}`,
    ]);
  });
});

describe("pre-puller permissions", () => {
  it("manages pods cluster-wide", () => {
    assert.deepEqual(grants("ClusterRole", "kube-image-cache-prepull"), [
      "create /pods",
      "delete /pods",
      "list /nodes",
      "list /pods",
      "watch /nodes",
      "watch /pods",
    ]);
  });

  it("writes its status and lease", () => {
    assert.deepEqual(grants("Role", "kube-image-cache-prepull"), [
      "create /configmaps",
      "create coordination.k8s.io/leases",
      `get /configmaps/${OBJECT_NAMES.record}`,
      `get /configmaps/${OBJECT_NAMES.status}`,
      `get coordination.k8s.io/leases/${OBJECT_NAMES.lease}`,
      `update /configmaps/${OBJECT_NAMES.status}`,
      `update coordination.k8s.io/leases/${OBJECT_NAMES.lease}`,
    ]);
  });

  it("cluster role writes pods only", () => {
    const role = findObject<IRole>("ClusterRole", "kube-image-cache-prepull");
    const written = (role.rules ?? [])
      .filter((rule) => rule.verbs.some((verb) => WRITE_VERBS.includes(verb)))
      .flatMap((rule) => rule.resources ?? []);
    assert.deepEqual(written, ["pods"]);
  });
});

describe("bindings", () => {
  const bindings = ALL_OBJECTS.filter((o) => o.kind.endsWith("RoleBinding")).map(
    (o) => o as unknown as IClusterRoleBinding & { kind: string },
  );

  for (const binding of bindings) {
    it(`${binding.kind} ${binding.metadata?.name} binds its deployment's account`, () => {
      // The webhook's roles end in -webhook; its Deployment is plain kube-image-cache.
      const deploymentName = (binding.metadata?.name ?? "").replace(/-webhook$/, "");
      const deployment = findObject<IDeployment>("Deployment", deploymentName);
      const [subject] = binding.subjects ?? [];

      findObject(binding.roleRef.kind, binding.roleRef.name);
      assert.equal(subject?.kind, "ServiceAccount");
      assert.equal(subject?.name, deployment.spec?.template.spec?.serviceAccountName);
      assert.equal(subject?.namespace, deployment.metadata?.namespace);
    });
  }
});
