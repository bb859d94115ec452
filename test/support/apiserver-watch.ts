// One watch connection of the API-server double: newline-delimited JSON events, streamed from a
// resourceVersion on, with bookmarks, a server-side timeout and selector-aware event types.
import type { ServerResponse } from "node:http";

import { apiVersionOf, ApiFailure, type ResourceType } from "./apiserver-resources.ts";
import type { ObjectFilter } from "./apiserver-selectors.ts";
import type { KubeObject, ObjectStore, StoredChange } from "./apiserver-store.ts";

/** The parameters of one watch request, after its query was checked. */
export interface WatchRequest {
  readonly type: ResourceType;
  /** Only objects in this namespace; all namespaces when absent. */
  readonly namespace?: string;
  readonly filter: ObjectFilter;
  /** The resourceVersion to stream after; undefined streams the current objects first. */
  readonly resourceVersion?: number;
  readonly allowBookmarks: boolean;
  readonly timeoutSeconds?: number;
}

type EventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

/** A streaming watch response. It ends on its timeout, on close() or when the client leaves. */
export class WatchStream {
  private readonly timers: NodeJS.Timeout[] = [];
  private unsubscribe: (() => void) | undefined;
  private closed = false;

  constructor(
    private readonly response: ServerResponse,
    private readonly store: ObjectStore,
    private readonly request: WatchRequest,
    private readonly bookmarkIntervalMs: number,
  ) {}

  get type(): ResourceType {
    return this.request.type;
  }

  /**
   * Sends the headers and the backlog, then follows the store. A resourceVersion older than the
   * kept history gets an ERROR event with a 410 Expired Status and the end of the stream, which
   * is what the API server sends, because its HTTP status is already 200 when it finds out.
   */
  start(onClose: () => void): void {
    this.response.on("close", () => {
      this.stop();
      onClose();
    });
    this.response.writeHead(200, {
      "content-type": "application/json",
      "cache-control": "no-cache, private",
    });
    // Clients wait for the headers before reading events, and a quiet watch may send none.
    this.response.flushHeaders();

    try {
      this.sendBacklog();
    } catch (error: unknown) {
      if (error instanceof ApiFailure) {
        this.send("ERROR", error.toStatus());
        this.close();
        return;
      }
      throw error;
    }
    this.unsubscribe = this.store.subscribe((change) => this.sendChange(change));
    this.startTimers();
  }

  /** Ends the response cleanly, as the API server does when timeoutSeconds has passed. */
  close(): void {
    this.stop();
    this.response.end();
  }

  /** Cuts the connection without ending the response, like a network failure. */
  drop(): void {
    this.stop();
    this.response.socket?.destroy();
  }

  private sendBacklog(): void {
    const { resourceVersion, type, namespace, filter } = this.request;
    if (resourceVersion === undefined) {
      for (const object of this.store.list(type, namespace)) {
        if (filter(object)) {
          this.sendObject("ADDED", object);
        }
      }
      return;
    }
    for (const change of this.store.changesAfter(resourceVersion)) {
      this.sendChange(change);
    }
  }

  private startTimers(): void {
    const { timeoutSeconds, allowBookmarks } = this.request;
    if (timeoutSeconds !== undefined && timeoutSeconds > 0) {
      this.timers.push(setTimeout(() => this.close(), timeoutSeconds * 1000));
    }
    if (allowBookmarks) {
      this.timers.push(setInterval(() => this.sendBookmark(), this.bookmarkIntervalMs));
    }
  }

  /**
   * Sends one change as a watch with selectors receives it: an object that starts matching is
   * ADDED, one that stops matching is DELETED, and changes outside the selection are not sent.
   */
  private sendChange(change: StoredChange): void {
    const { type, namespace, filter } = this.request;
    if (change.resource !== type.name) {
      return;
    }
    if (namespace !== undefined && change.object.metadata["namespace"] !== namespace) {
      return;
    }
    const before = change.previous !== undefined && filter(change.previous);
    const after = change.type !== "DELETED" && filter(change.object);
    if (before && after) {
      this.sendObject("MODIFIED", change.object);
    } else if (after) {
      this.sendObject("ADDED", change.object);
    } else if (before) {
      this.sendObject("DELETED", change.object);
    }
  }

  private sendBookmark(): void {
    const { type } = this.request;
    this.send("BOOKMARK", {
      kind: type.kind,
      apiVersion: apiVersionOf(type),
      metadata: { resourceVersion: String(this.store.resourceVersion) },
    });
  }

  private sendObject(type: "ADDED" | "MODIFIED" | "DELETED", object: KubeObject): void {
    this.send(type, withKind(this.request.type, object));
  }

  private send(type: EventType, object: Record<string, unknown>): void {
    if (!this.closed) {
      this.response.write(`${JSON.stringify({ type, object })}\n`);
    }
  }

  private stop(): void {
    this.closed = true;
    for (const timer of this.timers) {
      clearTimeout(timer);
    }
    this.timers.length = 0;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }
}

/** Returns the object with kind and apiVersion, which watch events and GET responses carry. */
export function withKind(type: ResourceType, object: KubeObject): KubeObject {
  return { kind: type.kind, apiVersion: apiVersionOf(type), ...object };
}
