// One list-and-watch loop over one resource type: a paginated list, then a watch from the list's
// resourceVersion, resumed after every disconnect, and a new list when the API server no longer
// has the history to resume from (410 Gone). Objects go to a sink one at a time; none is kept.
import type { Watch } from "@kubernetes/client-node";

import type { Logger } from "../logger.ts";
import { field, stringField } from "../object-fields.ts";

export type ChangeType = "ADDED" | "MODIFIED" | "DELETED";

/** Receives the objects of one resource type; it keeps what it needs and drops the rest. */
export interface ResourceSink {
  /** Starts a relist: addListed follows for every listed object, then commitList. */
  beginList(): void;
  addListed(object: unknown): void;
  /** Ends a relist: whatever was not listed since beginList no longer exists. */
  commitList(): void;
  apply(type: ChangeType, object: unknown): void;
}

/** One page of a list call. */
export interface ListPage {
  readonly items: readonly unknown[];
  readonly resourceVersion: string;
  /** The token for the next page; absent on the last page. */
  readonly continueToken?: string;
}

/**
 * Lists one page. The caller's API client must abort the call when the loop stops, because the
 * loop waits for it.
 */
export type ListFunction = (continueToken: string | undefined) => Promise<ListPage>;

/** Delays between attempts: doubling from initialMs up to maxMs, each with random jitter. */
export interface BackoffSettings {
  readonly initialMs: number;
  readonly maxMs: number;
}

/** Observers of a loop, for readiness, metrics and the stale-data warning. */
export interface ListWatchHooks {
  readonly onConnectionChange?: (connected: boolean) => void;
  /** Called when a list completes and when a watch event or bookmark arrives. */
  readonly onSync?: () => void;
  /** Called before every attempt after the first. */
  readonly onRestart?: () => void;
}

/** Settings of one loop. */
export interface ListWatchOptions {
  /** Plural resource name for logs and metric labels, such as "nodes". */
  readonly resource: string;
  /** Collection path to watch, such as "/api/v1/nodes". */
  readonly path: string;
  readonly fieldSelector?: string;
  readonly list: ListFunction;
  readonly watch: Watch;
  readonly sink: ResourceSink;
  readonly logger: Logger;
  readonly backoff: BackoffSettings;
  /** Shortest server-side watch timeout; each watch asks for a random one up to twice this. */
  readonly watchTimeoutSeconds: number;
  readonly hooks?: ListWatchHooks;
}

type Outcome =
  | { readonly kind: "closed" | "expired" | "stopped" }
  | { readonly kind: "failed"; readonly error: unknown };

// A list larger than this many pages (of the caller's page size) is treated as a failure
// rather than followed forever.
const MAX_LIST_PAGES = 10_000;
// A watch that delivered an event or stayed open this long counts as healthy, and the backoff
// starts again from its initial delay.
const HEALTHY_WATCH_MS = 10_000;
// Grace beyond the requested timeout before a silent watch is abandoned: the API server ends a
// watch at its timeoutSeconds, so a longer silence means the connection is dead.
const STALL_MARGIN_SECONDS = 30;

/** A list-and-watch loop; start() runs it in the background until stop(). */
export class ListWatch {
  private resourceVersion: string | undefined;
  private synced = false;
  private connected = false;
  private stopped = false;
  private failureStreak = 0;
  private running: Promise<void> | undefined;
  private endWatch: ((outcome: Outcome) => void) | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly options: ListWatchOptions) {}

  /** Starts the loop; later calls do nothing. */
  start(): void {
    this.running ??= this.run();
  }

  /** Ends the loop and its open watch; resolves once the loop has returned. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.endWatch?.({ kind: "stopped" });
    this.wake?.();
    await this.running;
  }

  /** Whether a full list has been delivered to the sink at least once. */
  isSynced(): boolean {
    return this.synced;
  }

  /** Whether a watch connection is open now. */
  isConnected(): boolean {
    return this.connected;
  }

  private async run(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt += 1) {
      if (attempt > 0) {
        this.options.hooks?.onRestart?.();
      }
      const outcome = await this.attempt();
      if (this.stopped) {
        return;
      }
      await this.sleep(this.delayAfter(outcome));
    }
  }

  /** Lists if there is no resourceVersion to resume from, then watches until the watch ends. */
  private async attempt(): Promise<Outcome & { healthy: boolean }> {
    try {
      const resourceVersion = this.resourceVersion ?? (await this.relist());
      return await this.watchOnce(resourceVersion);
    } catch (error: unknown) {
      if (this.stopped) {
        return { kind: "stopped", healthy: false };
      }
      return isExpired(error)
        ? { kind: "expired", healthy: false }
        : { kind: "failed", error, healthy: false };
    }
  }

  private async relist(): Promise<string> {
    const { sink, list, resource, logger } = this.options;
    sink.beginList();
    let continueToken: string | undefined;
    let count = 0;
    for (let page = 0; page < MAX_LIST_PAGES; page += 1) {
      const result = await list(continueToken);
      if (this.stopped) {
        throw new Error(`listing ${resource} stopped`);
      }
      for (const item of result.items) {
        sink.addListed(item);
      }
      count += result.items.length;
      continueToken = result.continueToken;
      if (continueToken === undefined || continueToken === "") {
        sink.commitList();
        this.resourceVersion = result.resourceVersion;
        this.synced = true;
        this.options.hooks?.onSync?.();
        logger.info({ resource, count, resourceVersion: result.resourceVersion }, "listed");
        return result.resourceVersion;
      }
    }
    throw new Error(`listing ${resource} did not end within ${MAX_LIST_PAGES} pages`);
  }

  /** Watches from `resourceVersion` until the watch ends; never rejects. */
  private watchOnce(resourceVersion: string): Promise<Outcome & { healthy: boolean }> {
    const { watch, path, fieldSelector, watchTimeoutSeconds, resource } = this.options;
    const timeoutSeconds = Math.round(watchTimeoutSeconds * (1 + Math.random()));
    const query = {
      resourceVersion,
      allowWatchBookmarks: true,
      timeoutSeconds,
      ...(fieldSelector === undefined ? {} : { fieldSelector }),
    };

    return new Promise((resolve) => {
      const openedAt = Date.now();
      let events = 0;
      let controller: AbortController | undefined;
      const finish = (outcome: Outcome) => {
        if (this.endWatch !== finish) {
          return;
        }
        this.endWatch = undefined;
        clearTimeout(stallTimer);
        controller?.abort();
        this.setConnected(false);
        const healthy = events > 0 || Date.now() - openedAt >= HEALTHY_WATCH_MS;
        resolve({ ...outcome, healthy });
      };
      this.endWatch = finish;
      const stallTimer = setTimeout(
        () => {
          const error = new Error(
            `watch of ${resource} still open ${STALL_MARGIN_SECONDS} s after its ` +
              `${timeoutSeconds} s timeout; assuming the connection is dead`,
          );
          finish({ kind: "failed", error });
        },
        (timeoutSeconds + STALL_MARGIN_SECONDS) * 1000,
      );

      const onEvent = (type: string, object: unknown) => {
        events += 1;
        const outcome = this.handleEvent(type, object);
        if (outcome !== undefined) {
          finish(outcome);
        }
      };
      const onDone = (error: unknown) => {
        finish(
          error === null || error === undefined ? { kind: "closed" } : { kind: "failed", error },
        );
      };
      // NOTE: client-node only hands out the AbortController once the response headers arrive,
      // so a connection attempt that hangs is abandoned by the stall timer, not aborted.
      watch.watch(path, query, onEvent, onDone).then(
        (result) => {
          controller = result;
          if (this.endWatch === finish) {
            this.setConnected(true);
          } else {
            result.abort();
          }
        },
        (error: unknown) => finish({ kind: "failed", error }),
      );
    });
  }

  /** Applies one watch event; returns how the watch ends when the event ends it. */
  private handleEvent(type: string, object: unknown): Outcome | undefined {
    const { sink, resource, logger } = this.options;
    switch (type) {
      case "ADDED":
      case "MODIFIED":
      case "DELETED":
        try {
          sink.apply(type, object);
        } catch (error: unknown) {
          // The sink may be half-updated, so only a new list can make it whole again.
          logger.error({ err: error, resource, type }, "failed to apply a watch event; relisting");
          this.resourceVersion = undefined;
          return { kind: "failed", error };
        }
        this.advance(object);
        return undefined;
      case "BOOKMARK":
        this.advance(object);
        return undefined;
      case "ERROR":
        return outcomeOfStatus(resource, object);
      default:
        logger.debug({ resource, type }, "ignored a watch event of unknown type");
        return undefined;
    }
  }

  private advance(object: unknown): void {
    const resourceVersion = stringField(field(object, "metadata"), "resourceVersion");
    if (resourceVersion !== undefined && resourceVersion !== "") {
      this.resourceVersion = resourceVersion;
    }
    this.options.hooks?.onSync?.();
  }

  /** Returns the delay before the next attempt and logs why there is one. */
  private delayAfter(outcome: Outcome & { healthy: boolean }): number {
    const { resource, logger, backoff } = this.options;
    this.failureStreak = outcome.healthy ? 0 : this.failureStreak + 1;
    const ceiling = Math.min(
      backoff.maxMs,
      backoff.initialMs * 2 ** Math.min(this.failureStreak, 30),
    );
    const delayMs = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);

    if (outcome.kind === "expired") {
      this.resourceVersion = undefined;
      logger.info(
        { resource, retryInMs: delayMs },
        "resourceVersion expired (410 Gone); relisting",
      );
    } else if (outcome.kind === "failed") {
      // One warning per run of failures; the retries that follow it are logged at debug.
      const level = this.failureStreak <= 1 ? "warn" : "debug";
      logger[level](
        { resource, err: outcome.error, failures: this.failureStreak, retryInMs: delayMs },
        "list or watch failed; retrying",
      );
    } else {
      logger.debug(
        { resource, retryInMs: delayMs },
        "watch closed by the API server; reconnecting",
      );
    }
    return delayMs;
  }

  private setConnected(connected: boolean): void {
    if (this.connected === connected) {
      return;
    }
    this.connected = connected;
    if (connected && this.failureStreak > 0) {
      this.options.logger.info(
        { resource: this.options.resource, failures: this.failureStreak },
        "watch connected again",
      );
    }
    this.options.hooks?.onConnectionChange?.(connected);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}

/** Reads the v1 Status of an ERROR event: 410 means the resourceVersion is too old. */
function outcomeOfStatus(resource: string, status: unknown): Outcome {
  if (field(status, "code") === 410) {
    return { kind: "expired" };
  }
  const message = stringField(status, "message") ?? JSON.stringify(status);
  const error = new Error(`watch of ${resource} returned an ERROR event: ${message}`);
  return { kind: "failed", error };
}

/** True for an HTTP 410 Gone from a list call, which a too old continue token gets. */
function isExpired(error: unknown): boolean {
  return field(error, "code") === 410 || field(error, "statusCode") === 410;
}
