// One watch connection through client-node's Watch. It opens the stream and passes each event
// on. It settles once: when the server ends the stream, the connection fails, an event ends it,
// the stream outlives its timeout, or the owner ends it.
import type { Watch } from "@kubernetes/client-node";

/** The end of a watch connection. */
export type WatchEnd =
  | { readonly kind: "closed" | "expired" | "stopped" }
  | { readonly kind: "failed"; readonly error: unknown };

/** The outcome of one connection: its end, the events it delivered and how long it lasted. */
export interface WatchResult {
  readonly end: WatchEnd;
  /** Events received, bookmarks included. */
  readonly events: number;
  readonly durationMs: number;
}

/** Settings of one watch connection. */
export interface WatchSessionOptions {
  readonly watch: Watch;
  readonly path: string;
  readonly query: Readonly<Record<string, string | number | boolean>>;
  /** Time after which a stream that has not ended is taken for a dead connection. */
  readonly stallAfterMs: number;
  /** Handles one event, and returns the watch's end when the event ends it. */
  readonly onEvent: (type: string, object: unknown) => WatchEnd | undefined;
  /** Called once the response headers have arrived and events can flow. */
  readonly onOpen: () => void;
}

/** One watch connection, whose `result` settles when it ends by itself or through end(). */
export class WatchSession {
  readonly result: Promise<WatchResult>;
  private settle: ((result: WatchResult) => void) | undefined;
  private controller: AbortController | undefined;
  private events = 0;
  private readonly openedAt = Date.now();
  private readonly stallTimer: NodeJS.Timeout;

  constructor(private readonly options: WatchSessionOptions) {
    this.result = new Promise((resolve) => (this.settle = resolve));
    this.stallTimer = setTimeout(() => {
      const error = new Error(
        `watch of ${options.path} has not ended ${options.stallAfterMs} ms after it opened; ` +
          "assuming the connection is dead",
      );
      this.end({ kind: "failed", error });
    }, options.stallAfterMs);
    this.open();
  }

  /** Ends the connection. Only the first end of a session counts. */
  end(end: WatchEnd): void {
    const settle = this.settle;
    if (settle === undefined) {
      return;
    }
    this.settle = undefined;
    clearTimeout(this.stallTimer);
    this.controller?.abort();
    settle({ end, events: this.events, durationMs: Date.now() - this.openedAt });
  }

  private open(): void {
    const { watch, path, query, onEvent, onOpen } = this.options;
    const handleEvent = (type: string, object: unknown) => {
      this.events += 1;
      const end = onEvent(type, object);
      if (end !== undefined) {
        this.end(end);
      }
    };
    const handleDone = (error: unknown) => {
      this.end(
        error === null || error === undefined ? { kind: "closed" } : { kind: "failed", error },
      );
    };

    // NOTE: client-node hands out the AbortController only once the response headers arrive,
    // so a connection attempt that hangs is abandoned by the stall timer, not aborted.
    watch.watch(path, query, handleEvent, handleDone).then(
      (controller) => {
        this.controller = controller;
        if (this.settle === undefined) {
          controller.abort();
        } else {
          onOpen();
        }
      },
      (error: unknown) => this.end({ kind: "failed", error }),
    );
  }
}
