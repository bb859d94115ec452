// Leader election on a coordination.k8s.io/v1 Lease, so that one pre-pull controller runs at a
// time. It follows client-go's leaderelection package. A candidate takes the lease when it is
// free, or when its holder has not renewed it for leaseDurationSeconds. That time is measured
// on the candidate's own clock from when it last saw the lease change, so clock skew between
// replicas does not matter. The leader renews every retryPeriodSeconds and gives up leading once
// renewals have failed for renewDeadlineSeconds. It clears the holder when it stops, so a
// successor takes over at once.
import {
  V1MicroTime,
  type CoordinationV1Api,
  type V1Lease,
  type V1LeaseSpec,
} from "@kubernetes/client-node";

import type { Logger } from "../logger.ts";
import { requestError, sleep, statusOf } from "./kube-api.ts";
import { RETRY_JITTER, type PrepullSettings } from "./settings.ts";

/** Settings and callbacks of a LeaderElector. */
export interface LeaderElectorOptions {
  readonly api: CoordinationV1Api;
  readonly namespace: string;
  readonly name: string;
  /** Unique per instance; the pod name in a cluster. */
  readonly identity: string;
  readonly logger: Logger;
  readonly timing: Pick<
    PrepullSettings,
    "leaseDurationSeconds" | "renewDeadlineSeconds" | "retryPeriodSeconds"
  >;
  /** Called once this instance holds the lease. */
  readonly onStartedLeading: () => void | Promise<void>;
  /** Called when it no longer does; awaited before the lease is released on stop. */
  readonly onStoppedLeading: () => void | Promise<void>;
}

type Attempt = "acquired" | "held-by-other" | "failed";

/** The lease as this instance last saw it, with the time by its monotonic clock. */
interface Observation {
  readonly holder: string;
  readonly renewTime: string;
  readonly transitions: number;
  readonly durationSeconds: number;
  readonly at: number;
}

/** Runs for the lease in the background from start() until stop(). */
export class LeaderElector {
  readonly #options: LeaderElectorOptions;
  readonly #abort = new AbortController();
  #running: Promise<void> | undefined;
  #leader = false;
  #lastRenewal = 0;
  #observed: Observation | undefined;

  constructor(options: LeaderElectorOptions) {
    this.#options = options;
  }

  /** True while this instance holds the lease. */
  isLeader(): boolean {
    return this.#leader;
  }

  /** Starts trying to acquire the lease. Later calls do nothing. */
  start(): void {
    this.#running ??= this.#run();
  }

  /** Stops trying, stops leading (awaiting onStoppedLeading) and releases a held lease. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#running;
    if (this.#leader) {
      await this.#stepDown("stopping");
      await this.#release();
    }
  }

  async #run(): Promise<void> {
    const { retryPeriodSeconds, renewDeadlineSeconds } = this.#options.timing;
    while (!this.#abort.signal.aborted) {
      const attempt = await this.#tryAcquireOrRenew();
      if (this.#abort.signal.aborted) {
        return;
      }
      if (attempt === "acquired") {
        this.#lastRenewal = performance.now();
        await this.#startLeading();
      } else if (this.#leader && attempt === "held-by-other") {
        await this.#stepDown("another instance holds the lease");
      } else if (
        this.#leader &&
        performance.now() - this.#lastRenewal >= renewDeadlineSeconds * 1000
      ) {
        await this.#stepDown(`no renewal succeeded within ${renewDeadlineSeconds} s`);
      }
      const jitter = this.#leader ? 1 : 1 + Math.random() * (RETRY_JITTER - 1);
      await sleep(retryPeriodSeconds * 1000 * jitter, this.#abort.signal);
    }
  }

  async #tryAcquireOrRenew(): Promise<Attempt> {
    let lease: V1Lease;
    try {
      lease = await this.#api().readNamespacedLease(this.#target());
    } catch (error: unknown) {
      return statusOf(error) === 404 ? this.#create() : this.#failed("read", error);
    }

    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? "";
    this.#observe(spec);
    if (holder !== "" && holder !== this.#options.identity && !this.#expired()) {
      return "held-by-other";
    }

    const renewed = this.#claim(spec, holder === this.#options.identity);
    try {
      await this.#api().replaceNamespacedLease({
        ...this.#target(),
        body: { ...lease, spec: renewed },
      });
    } catch (error: unknown) {
      return statusOf(error) === 409 ? "failed" : this.#failed("update", error);
    }
    this.#observe(renewed);
    return "acquired";
  }

  async #create(): Promise<Attempt> {
    const spec = this.#claim({}, false);
    const body: V1Lease = {
      metadata: { name: this.#options.name, namespace: this.#options.namespace },
      spec: { ...spec, leaseTransitions: 0 },
    };
    try {
      await this.#api().createNamespacedLease({ namespace: this.#options.namespace, body });
    } catch (error: unknown) {
      return statusOf(error) === 409 ? "failed" : this.#failed("create", error);
    }
    this.#observe(body.spec ?? {});
    return "acquired";
  }

  /** The spec that makes this instance the holder, keeping acquireTime when it already was. */
  #claim(current: V1LeaseSpec, alreadyHeld: boolean): V1LeaseSpec {
    // V1MicroTime serialises with six fractional digits; the API server rejects the three of
    // Date.toISOString for MicroTime fields.
    const now = new V1MicroTime(Date.now());
    const transitions = current.leaseTransitions ?? 0;
    return {
      holderIdentity: this.#options.identity,
      leaseDurationSeconds: this.#options.timing.leaseDurationSeconds,
      acquireTime: alreadyHeld ? (current.acquireTime ?? now) : now,
      renewTime: now,
      leaseTransitions: alreadyHeld ? transitions : transitions + 1,
    };
  }

  /** Restarts the expiry clock whenever the holder, renewal or transitions change. */
  #observe(spec: V1LeaseSpec): void {
    const next = {
      holder: spec.holderIdentity ?? "",
      renewTime: timeText(spec.renewTime),
      transitions: spec.leaseTransitions ?? 0,
      durationSeconds: spec.leaseDurationSeconds ?? this.#options.timing.leaseDurationSeconds,
    };
    const seen = this.#observed;
    const changed =
      seen === undefined ||
      seen.holder !== next.holder ||
      seen.renewTime !== next.renewTime ||
      seen.transitions !== next.transitions;
    this.#observed = changed ? { ...next, at: performance.now() } : { ...seen, ...next };
  }

  #expired(): boolean {
    const seen = this.#observed;
    return seen === undefined || performance.now() - seen.at >= seen.durationSeconds * 1000;
  }

  async #startLeading(): Promise<void> {
    if (this.#leader) {
      return;
    }
    this.#leader = true;
    this.#options.logger.info(this.#fields(), "acquired the pre-pull lease; leading");
    await this.#callback(this.#options.onStartedLeading, "onStartedLeading");
  }

  async #stepDown(reason: string): Promise<void> {
    this.#leader = false;
    this.#options.logger.info({ ...this.#fields(), reason }, "stopped leading");
    await this.#callback(this.#options.onStoppedLeading, "onStoppedLeading");
  }

  /** Clears the holder, as client-go does on release, so a successor need not wait. */
  async #release(): Promise<void> {
    try {
      const lease = await this.#api().readNamespacedLease(this.#target());
      if (lease.spec?.holderIdentity !== this.#options.identity) {
        return;
      }
      const now = new V1MicroTime(Date.now());
      const spec: V1LeaseSpec = {
        ...lease.spec,
        holderIdentity: "",
        leaseDurationSeconds: 1,
        acquireTime: now,
        renewTime: now,
      };
      await this.#api().replaceNamespacedLease({ ...this.#target(), body: { ...lease, spec } });
      this.#options.logger.info(this.#fields(), "released the pre-pull lease");
    } catch (error: unknown) {
      const err = requestError(`failed to release Lease ${this.#location()}`, error);
      this.#options.logger.warn(
        { ...this.#fields(), err },
        "failed to release the lease; a successor takes over once it expires",
      );
    }
  }

  async #callback(callback: () => void | Promise<void>, name: string): Promise<void> {
    try {
      await callback();
    } catch (error: unknown) {
      this.#options.logger.error({ ...this.#fields(), err: error }, `${name} failed`);
    }
  }

  #failed(action: string, error: unknown): Attempt {
    const err = requestError(`failed to ${action} Lease ${this.#location()}`, error);
    const level = this.#leader ? "warn" : "debug";
    this.#options.logger[level]({ ...this.#fields(), err }, "lease request failed; retrying");
    return "failed";
  }

  #api(): CoordinationV1Api {
    return this.#options.api;
  }

  #target(): { name: string; namespace: string } {
    return { name: this.#options.name, namespace: this.#options.namespace };
  }

  #location(): string {
    return `${this.#options.namespace}/${this.#options.name}`;
  }

  #fields(): Record<string, string> {
    return { lease: this.#location(), identity: this.#options.identity };
  }
}

/**
 * Returns a lease time as text for comparison. client-node passes MicroTime fields through
 * unparsed, so a read lease has strings where its types declare V1MicroTime.
 */
function timeText(value: unknown): string {
  if (value instanceof Date) {
    return value.toISOString();
  }
  return typeof value === "string" ? value : "";
}
