// Mirror health: a background prober per mirror host with a circuit breaker. After
// mirrorHealth.failureThreshold consecutive failed probes a mirror is unavailable, and the
// mirror rules leave its images unchanged; one successful probe makes it available again.
import { Counter, Gauge, type Registry } from "prom-client";

import type { Config } from "../config.ts";
import type { Logger } from "../logger.ts";
import { withDeadline } from "../registry/deadline.ts";
import { pingUrl } from "../registry/endpoint.ts";

/** Settings and collaborators of a MirrorHealth. */
export interface MirrorHealthOptions {
  /** Mirror hosts to probe, e.g. mirrorHosts(config.mirror). */
  readonly hosts: Iterable<string>;
  /** Access settings per host; plainHTTP selects http:// for the probe. */
  readonly registries: Config["registries"];
  readonly settings: Config["mirrorHealth"];
  /** Prometheus registry the health metrics are registered on. */
  readonly metrics: Registry;
  readonly logger: Logger;
}

interface MirrorState {
  available: boolean;
  consecutiveFailures: number;
}

/** Probes mirrors in the background and reports which ones are unavailable. */
export class MirrorHealth {
  readonly #options: MirrorHealthOptions;
  readonly #logger: Logger;
  readonly #states = new Map<string, MirrorState>();
  readonly #up: Gauge<"mirror">;
  readonly #transitions: Counter<"mirror" | "state">;
  #unavailable: ReadonlySet<string> = new Set();
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> | undefined;
  #abort = new AbortController();
  #running = false;
  // Incremented by start(), so a round still ending from before a stop() schedules nothing.
  #generation = 0;

  constructor(options: MirrorHealthOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ component: "mirror-health" });
    this.#up = new Gauge({
      name: "kube_image_cache_mirror_up",
      help: "Whether a mirror is available (1) or its circuit breaker is open (0).",
      labelNames: ["mirror"] as const,
      registers: [options.metrics],
    });
    this.#transitions = new Counter({
      name: "kube_image_cache_mirror_transitions_total",
      help: "Changes of a mirror's availability, by the state it changed to (up or down).",
      labelNames: ["mirror", "state"] as const,
      registers: [options.metrics],
    });
    // Every mirror starts available: pods keep being rewritten until probes prove otherwise.
    for (const host of options.hosts) {
      this.#states.set(host, { available: true, consecutiveFailures: 0 });
      this.#up.labels(host).set(1);
      this.#transitions.labels(host, "up").inc(0);
      this.#transitions.labels(host, "down").inc(0);
    }
  }

  /**
   * Returns the mirror hosts whose breaker is open, without waiting. A transition replaces the
   * set instead of changing it, so a set a caller already holds stays consistent.
   */
  unavailableMirrors(): ReadonlySet<string> {
    return this.#unavailable;
  }

  /** Starts probing: one round now, then one every mirrorHealth.intervalSeconds after the last. */
  start(): void {
    if (this.#running) {
      return;
    }
    this.#running = true;
    this.#generation += 1;
    this.#abort = new AbortController();
    void this.#tick(this.#generation);
  }

  /** Stops probing, aborts probes in flight and waits for them; no timer is left behind. */
  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#abort.abort();
    await this.#round;
  }

  /**
   * Probes every mirror once, in parallel, and applies the results. Never rejects. Results of
   * probes that stop() aborted are dropped, so stopping never opens a breaker.
   */
  async probeOnce(): Promise<void> {
    const signal = this.#abort.signal;
    const hosts = [...this.#states.keys()];
    const results = await Promise.all(hosts.map((host) => this.#probe(host, signal)));
    if (signal.aborted) {
      return;
    }
    hosts.forEach((host, position) => this.#apply(host, results[position]));
  }

  async #tick(generation: number): Promise<void> {
    this.#round = this.probeOnce();
    await this.#round;
    if (this.#running && generation === this.#generation) {
      const intervalMs = this.#options.settings.intervalSeconds * 1000;
      this.#timer = setTimeout(() => void this.#tick(generation), intervalMs);
    }
  }

  /**
   * Sends GET /v2/ and returns undefined when the mirror is up, else the reason it is not. 200 and
   * 401 count as up, because the OCI distribution spec has registries return 200 for /v2/, or 401
   * when they require authentication.
   */
  async #probe(host: string, stopped: AbortSignal): Promise<string | undefined> {
    const timeoutMs = this.#options.settings.timeoutMs;
    try {
      const status = await withDeadline(
        timeoutMs,
        async (signal) => {
          const response = await fetch(pingUrl(host, this.#options.registries), { signal });
          await response.body?.cancel();
          return response.status;
        },
        stopped,
      );
      return status === 200 || status === 401 ? undefined : `GET /v2/ returned HTTP ${status}`;
    } catch (error: unknown) {
      return describeProbeError(error, timeoutMs);
    }
  }

  #apply(host: string, failure: string | undefined): void {
    const state = this.#states.get(host);
    if (state === undefined) {
      return;
    }
    if (failure === undefined) {
      state.consecutiveFailures = 0;
      if (!state.available) {
        this.#transition(host, state, true);
        this.#logger.info({ mirror: host }, "mirror available again; rewriting to it resumes");
      }
      return;
    }

    state.consecutiveFailures += 1;
    this.#logger.debug({ mirror: host, reason: failure }, "mirror probe failed");
    const threshold = this.#options.settings.failureThreshold;
    if (state.available && state.consecutiveFailures >= threshold) {
      this.#transition(host, state, false);
      this.#logger.warn(
        { mirror: host, reason: failure, consecutiveFailures: state.consecutiveFailures },
        "mirror unavailable; its images are left unchanged until a probe succeeds",
      );
    }
  }

  #transition(host: string, state: MirrorState, available: boolean): void {
    state.available = available;
    this.#up.labels(host).set(available ? 1 : 0);
    this.#transitions.labels(host, available ? "up" : "down").inc();
    const unavailable = new Set(this.#unavailable);
    if (available) {
      unavailable.delete(host);
    } else {
      unavailable.add(host);
    }
    this.#unavailable = unavailable;
  }
}

function describeProbeError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && error.name === "TimeoutError") {
    return `GET /v2/ timed out after ${timeoutMs} ms`;
  }
  const cause = error instanceof Error ? error.cause : undefined;
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  const message = error instanceof Error ? error.message : String(error);
  return `GET /v2/ failed: ${code ?? message}`;
}
