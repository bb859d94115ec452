// Background fetches with single flight and bounded concurrency: one task per key at a time, at
// most `maxRunning` tasks running and `maxQueued` waiting.

interface Job {
  readonly key: string;
  readonly task: () => Promise<void>;
  readonly done: Promise<void>;
  readonly finish: () => void;
}

/** Runs keyed tasks in the background; a task for a key that is queued or running is not added. */
export class FetchQueue {
  readonly #maxRunning: number;
  readonly #maxQueued: number;
  readonly #jobs = new Map<string, Job>();
  readonly #waiting: Job[] = [];
  #running = 0;

  constructor(maxRunning: number, maxQueued: number) {
    this.#maxRunning = maxRunning;
    this.#maxQueued = maxQueued;
  }

  /**
   * Queues `task` under `key` and returns a promise that settles when it has run. When a task
   * for the key is already queued or running, returns that one's promise and drops `task`.
   * Returns undefined when the queue is full. Tasks must not reject; a rejection is swallowed.
   */
  schedule(key: string, task: () => Promise<void>): Promise<void> | undefined {
    const existing = this.#jobs.get(key);
    if (existing !== undefined) {
      return existing.done;
    }
    if (this.#waiting.length >= this.#maxQueued) {
      return undefined;
    }

    let finish = (): void => {};
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const job: Job = { key, task, done, finish };
    this.#jobs.set(key, job);
    this.#waiting.push(job);
    this.#drain();
    return done;
  }

  /** Returns the promise of the queued or running task for `key`, if any. */
  pending(key: string): Promise<void> | undefined {
    return this.#jobs.get(key)?.done;
  }

  /** Number of tasks queued or running. */
  get size(): number {
    return this.#jobs.size;
  }

  #drain(): void {
    while (this.#running < this.#maxRunning) {
      const job = this.#waiting.shift();
      if (job === undefined) {
        return;
      }
      this.#running += 1;
      void this.#run(job);
    }
  }

  async #run(job: Job): Promise<void> {
    try {
      await job.task();
    } catch {
      // Tasks report their own failures; the queue must keep running either way.
    } finally {
      this.#running -= 1;
      this.#jobs.delete(job.key);
      job.finish();
      this.#drain();
    }
  }
}
