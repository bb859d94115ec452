// Typed access to the real-world cases copied into test/fixtures/cases/ (refresh them with
// `npm run cases:sync`). Each line of cases.jsonl is one case: {id, kind, input, expected, note}.
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const FIXTURES_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..", "fixtures");
const CASES_FILE = join(FIXTURES_DIR, "cases", "cases.jsonl");
const SOURCE_FILE = "test/support/cases.ts";

/** The kinds cases.jsonl contains. loadCases throws on a line of any other kind. */
export const CASE_KINDS = ["image-ref", "admission", "node-status"] as const;

export type CaseKind = (typeof CASE_KINDS)[number];

/** One case: the input, what the project should make of it, and where the case comes from. */
export interface CaseRecord<K extends CaseKind, I> {
  readonly id: string;
  readonly kind: K;
  readonly input: I;
  /** Exact values or described shapes, as test/fixtures/cases/README.md explains. */
  readonly expected: Readonly<Record<string, unknown>>;
  readonly note: string;
}

/** An image string, as written in a pod spec. */
export type ImageRefCase = CaseRecord<"image-ref", string>;
/** A whole AdmissionReview, as the API server sends it. */
export type AdmissionCase = CaseRecord<"admission", Readonly<Record<string, unknown>>>;
/** Node objects or `status.images` lists, as kubelets report them. */
export type NodeStatusCase = CaseRecord<"node-status", Readonly<Record<string, unknown>>>;

export type Case = ImageRefCase | AdmissionCase | NodeStatusCase;

/**
 * Returns the absolute path of a file under test/fixtures/, such as
 * `fixturePath("cases/c1-nodes.json")`. Throws when the name leads outside that folder.
 */
export function fixturePath(name: string): string {
  const path = resolve(FIXTURES_DIR, name);
  const inside = relative(FIXTURES_DIR, path);
  if (inside === "" || inside.startsWith("..") || isAbsolute(inside)) {
    throw new Error(`fixture name "${name}" is outside test/fixtures/; expected a relative path`);
  }
  return path;
}

/**
 * Reads test/fixtures/cases/cases.jsonl and returns its cases in file order, only those of `kind`
 * when given. Reads the file on every call, so callers may change the records they get.
 * Throws on a malformed line, naming its line number and the broken field.
 */
export function loadCases(): Case[];
export function loadCases<K extends CaseKind>(kind: K): Extract<Case, { kind: K }>[];
export function loadCases(kind?: CaseKind): Case[] {
  const cases = parseCases(readFileSync(CASES_FILE, "utf8"), CASES_FILE);
  return kind === undefined ? cases : cases.filter((record) => record.kind === kind);
}

/** Parses JSON Lines text in the cases.jsonl format; `source` names it in error messages. */
export function parseCases(text: string, source: string): Case[] {
  const cases: Case[] = [];
  text.split("\n").forEach((line, index) => {
    if (line.trim() !== "") {
      cases.push(parseCaseLine(line, `${source}:${index + 1}`));
    }
  });
  return cases;
}

function parseCaseLine(line: string, location: string): Case {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (err: unknown) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`${location}: invalid JSON: ${reason}`, { cause: err });
  }
  if (!isRecord(raw)) {
    throw new Error(`${location}: expected a JSON object per line`);
  }

  const { id, kind, input, expected, note } = raw;
  if (typeof id !== "string" || id === "") {
    throw new Error(`${location}: "id" must be a non-empty string`);
  }
  if (!isCaseKind(kind)) {
    throw new Error(
      `${location}: case ${id} has unknown kind ${JSON.stringify(kind)}; ` +
        `expected one of ${CASE_KINDS.join(", ")}; add new kinds to CASE_KINDS in ${SOURCE_FILE}`,
    );
  }
  if (!isRecord(expected)) {
    throw new Error(`${location}: case ${id}: "expected" must be an object`);
  }
  if (typeof note !== "string") {
    throw new Error(`${location}: case ${id}: "note" must be a string`);
  }

  if (kind === "image-ref") {
    if (typeof input !== "string") {
      throw new Error(`${location}: case ${id}: an image-ref "input" must be a string`);
    }
    return { id, kind, input, expected, note };
  }
  if (!isRecord(input)) {
    throw new Error(`${location}: case ${id}: a ${kind} "input" must be an object`);
  }
  return { id, kind, input, expected, note };
}

function isCaseKind(value: unknown): value is CaseKind {
  return CASE_KINDS.some((kind) => kind === value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
