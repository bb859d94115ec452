// Collection lists of the API-server double: selectors, and pages with `limit` and `continue`
// tokens that expire (410) once the history they start from has been compacted.
import { ApiFailure, apiVersionOf, type ResourcePath } from "./apiserver-resources.ts";
import { parseSelectors } from "./apiserver-selectors.ts";
import { keyOf, type KubeObject, type ObjectStore } from "./apiserver-store.ts";

/**
 * Serves a list, in pages when `limit` is set. The continue token carries the list's
 * resourceVersion and the last key sent.
 * NOTE: later pages read the current objects, not a snapshot at the first page's version as
 * the API server does, so a change between pages can show up in them.
 */
export function listObjects(path: ResourcePath, query: URLSearchParams, store: ObjectStore) {
  const { type, namespace } = path;
  const filter = parseSelectors(type, query.get("labelSelector"), query.get("fieldSelector"));
  const limit = Number(query.get("limit") ?? "0");
  const token = readContinueToken(query.get("continue"), store);
  const resourceVersion = token?.resourceVersion ?? store.resourceVersion;

  const matching = store
    .list(type, namespace)
    .filter((object) => token === undefined || objectKey(path, object) > token.after)
    .filter(filter);
  const page = limit > 0 ? matching.slice(0, limit) : matching;
  const last = page.at(-1);
  const more = limit > 0 && matching.length > limit && last !== undefined;
  return {
    kind: `${type.kind}List`,
    apiVersion: apiVersionOf(type),
    metadata: {
      resourceVersion: String(resourceVersion),
      ...(more
        ? {
            continue: encodeContinueToken(resourceVersion, objectKey(path, last)),
            remainingItemCount: matching.length - page.length,
          }
        : {}),
    },
    // Items of a list response carry neither kind nor apiVersion; the list names them once.
    items: page.map(withoutKind),
  };
}

function withoutKind(object: KubeObject): KubeObject {
  const item = { ...object };
  delete item["kind"];
  delete item["apiVersion"];
  return item;
}

function readContinueToken(value: string | null, store: ObjectStore) {
  if (value === null || value === "") {
    return undefined;
  }
  let token: { resourceVersion: number; after: string };
  try {
    token = JSON.parse(Buffer.from(value, "base64url").toString("utf8")) as typeof token;
  } catch {
    throw new ApiFailure("BadRequest", `invalid continue token: ${JSON.stringify(value)}`);
  }
  if (token.resourceVersion < store.oldestResumableVersion) {
    throw new ApiFailure(
      "Expired",
      "The provided continue parameter is too old to display a consistent list result; " +
        "start a new list without the continue parameter",
    );
  }
  return token;
}

function encodeContinueToken(resourceVersion: number, after: string): string {
  return Buffer.from(JSON.stringify({ resourceVersion, after })).toString("base64url");
}

function objectKey(path: ResourcePath, object: KubeObject): string {
  const namespace = object.metadata["namespace"];
  const name = String(object.metadata["name"]);
  return keyOf(path.type, typeof namespace === "string" ? namespace : undefined, name);
}
