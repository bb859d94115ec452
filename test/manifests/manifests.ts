// Reads the kustomize directories under manifests/: each kustomization.yaml, and every object
// in the files it lists, with the file it came from.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { parseAllDocuments } from "yaml";

/** The base and the optional components. */
export const MANIFEST_DIRECTORIES = [
  "manifests",
  "manifests/monitoring",
  "manifests/mirror-example",
] as const;

/** A Kubernetes object as read from YAML, with the file it came from. */
export interface ManifestObject {
  readonly file: string;
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string } & Record<
    string,
    unknown
  >;
  readonly [field: string]: unknown;
}

/** The parts of a kustomization.yaml the tests read. */
export interface Kustomization {
  readonly kind: string;
  readonly resources?: string[];
  readonly configMapGenerator?: { name: string; namespace?: string; files?: string[] }[];
}

/** Parses a file's YAML documents; throws naming the file on a syntax error. */
export function readDocuments(file: string): unknown[] {
  const documents = parseAllDocuments(readFileSync(file, "utf8"));
  const list = Array.isArray(documents) ? documents : [documents];
  for (const document of list) {
    const problem = document.errors[0];
    if (problem !== undefined) {
      throw new Error(`${file} is not valid YAML: ${problem.message}`);
    }
  }
  return list.map((document) => document.toJS() as unknown).filter((value) => value !== null);
}

export function readKustomization(directory: string): Kustomization {
  const [document] = readDocuments(join(directory, "kustomization.yaml"));
  return document as Kustomization;
}

/** Files in a directory with one of the extensions, kustomization.yaml excepted. */
export function filesIn(directory: string, extensions: readonly string[]): string[] {
  return readdirSync(directory, { withFileTypes: true })
    .filter((entry) => entry.isFile() && extensions.some((ext) => entry.name.endsWith(ext)))
    .map((entry) => entry.name)
    .filter((name) => name !== "kustomization.yaml")
    .sort();
}

/** Reads every object of every resource a directory's kustomization lists. */
export function objectsIn(directory: string): ManifestObject[] {
  const resources = readKustomization(directory).resources ?? [];
  return resources.flatMap((resource) => {
    const file = join(directory, resource);
    if (!existsSync(file)) {
      throw new Error(`${directory}/kustomization.yaml lists ${resource}, which does not exist`);
    }
    return readDocuments(file).map((document, index) => toObject(document, `${file}#${index}`));
  });
}

function toObject(document: unknown, file: string): ManifestObject {
  const apiVersion = at(document, "apiVersion");
  const kind = at(document, "kind");
  const name = at(document, "metadata.name");
  if (typeof apiVersion !== "string" || typeof kind !== "string" || typeof name !== "string") {
    throw new Error(
      `${file}: expected a Kubernetes object with apiVersion, kind and metadata.name`,
    );
  }
  return {
    ...(document as Record<string, unknown>),
    file: file.replace(/#0$/, ""),
  } as ManifestObject;
}

/** Every object of the base and the components. */
export const ALL_OBJECTS: readonly ManifestObject[] = MANIFEST_DIRECTORIES.flatMap(objectsIn);

/**
 * Finds the one object of a kind and name, typed as the caller names it (such as
 * kubernetes-models' IDeployment). Throws listing the objects of that kind when it is missing.
 */
export function findObject<T = ManifestObject>(kind: string, name: string): T {
  const matches = ALL_OBJECTS.filter((o) => o.kind === kind && o.metadata.name === name);
  if (matches.length !== 1) {
    const names = ALL_OBJECTS.filter((o) => o.kind === kind).map((o) => o.metadata.name);
    throw new Error(
      `expected one ${kind} ${name}, found ${matches.length}; ${kind}s: ${names.join(", ")}`,
    );
  }
  return matches[0] as T;
}

/** Reads a value at a dotted path such as "spec.template.spec"; undefined when absent. */
export function at(value: unknown, path: string): unknown {
  let current = value;
  for (const key of path.split(".")) {
    if (typeof current !== "object" || current === null) {
      return undefined;
    }
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}
