// One list-and-watch loop over one resource type: a paginated list, then a watch from the list's
// resourceVersion, resumed after every disconnect, and a new list when the API server no longer
// has the history to resume from (410 Gone). Objects go to a sink one at a time; none is kept.
import type { Watch } from "@kubernetes/client-node";

import type { Logger } from "../logger.ts";
import { field, stringField } from "../object-fields.ts";
import { WatchSession, type WatchEnd } from "./watch-session.ts";

export type ChangeType = "ADDED" | "MODIFIED" | "DELETED";

/** The receiver of one resource type's objects, which keeps what it needs and drops the rest. */
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
  /** The token for the next page, absent on the last page. */
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
  /** Shortest server-side watch timeout. Each watch requests a random one up to twice this. */
  readonly watchTimeoutSeconds: number;
  readonly hooks?: ListWatchHooks;
}

/** The end of one attempt, and whether it was healthy enough to reset the backoff. */
type Attempt = WatchEnd & { readonly healthy: boolean };

// A list larger than this many pages (of the caller's page size) is treated as a failure
// rather than followed forever.
const MAX_LIST_PAGES = 10_000;
// A watch that delivered an event or stayed open this long counts as healthy, and the backoff
// starts again from its initial delay.
const HEALTHY_WATCH_MS = 10_000;
// Grace beyond the requested timeout before a watch is abandoned: the API server ends a watch
// at its timeoutSeconds, so a watch still open after that has lost its connection.
const STALL_MARGIN_SECONDS = 30;

/** A list-and-watch loop, which start() runs in the background until stop(). */
export class ListWatch {
  private resourceVersion: string | undefined;
  private synced = false;
  private connected = false;
  private stopped = false;
  private failureStreak = 0;
  /** Whether a failure was logged as a warning since the last connection. */
  private warnedFailure = false;
  private running: Promise<void> | undefined;
  private session: WatchSession | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly options: ListWatchOptions) {}

  /** Starts the loop. Later calls do nothing. */
  start(): void {
    this.running ??= this.run();
  }

  /** Ends the loop and its open watch, and resolves once the loop has returned. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.session?.end({ kind: "stopped" });
    this.wake?.();
    await this.running;
  }

  /** Returns true once a full list has been delivered to the sink. */
  isSynced(): boolean {
    return this.synced;
  }

  /** Returns true while a watch connection is open. */
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
      if (outcome.kind === "expired") {
        this.resourceVersion = undefined;
      }
      this.failureStreak = outcome.healthy ? 0 : this.failureStreak + 1;
      const delayMs = this.nextDelay();
      this.logRetry(outcome, delayMs);
      await this.sleep(delayMs);
    }
  }

  /** Lists if there is no resourceVersion to resume from, then watches until the watch ends. */
  private async attempt(): Promise<Attempt> {
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

  /** Watches from `resourceVersion` until the watch ends. Never rejects. */
  private async watchOnce(resourceVersion: string): Promise<Attempt> {
    const { watch, path, fieldSelector, watchTimeoutSeconds } = this.options;
    const timeoutSeconds = Math.round(watchTimeoutSeconds * (1 + Math.random()));
    this.session = new WatchSession({
      watch,
      path,
      query: {
        resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds,
        ...(fieldSelector === undefined ? {} : { fieldSelector }),
      },
      stallAfterMs: (timeoutSeconds + STALL_MARGIN_SECONDS) * 1000,
      onEvent: (type, object) => this.handleEvent(type, object),
      onOpen: () => this.setConnected(true),
    });

    const { end, events, durationMs } = await this.session.result;
    this.session = undefined;
    this.setConnected(false);
    return { ...end, healthy: events > 0 || durationMs >= HEALTHY_WATCH_MS };
  }

  /** Applies one watch event, and returns the watch's end when the event ends it. */
  private handleEvent(type: string, object: unknown): WatchEnd | undefined {
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

  /** Returns a random delay of half to all of initialMs doubled once per failure in a row. */
  private nextDelay(): number {
    const { initialMs, maxMs } = this.options.backoff;
    const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(this.failureStreak, 30));
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  /** Logs why the loop starts again: one warning per run of failures, the rest at debug. */
  private logRetry(outcome: Attempt, retryInMs: number): void {
    const { resource, logger } = this.options;
    if (outcome.kind === "expired") {
      logger.info({ resource, retryInMs }, "resourceVersion expired (410 Gone); relisting");
    } else if (outcome.kind === "failed") {
      const level = this.warnedFailure ? "debug" : "warn";
      this.warnedFailure = true;
      logger[level](
        { resource, err: outcome.error, failures: this.failureStreak, retryInMs },
        "list or watch failed; retrying",
      );
    } else {
      logger.debug({ resource, retryInMs }, "watch closed by the API server; reconnecting");
    }
  }

  private setConnected(connected: boolean): void {
    if (this.connected === connected) {
      return;
    }
    this.connected = connected;
    if (connected && this.warnedFailure) {
      this.warnedFailure = false;
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
function outcomeOfStatus(resource: string, status: unknown): WatchEnd {
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
