// Pending hints: requests charged to hinted nodes until a pod lands there or the hint expires.
// At 500 admissions/s with 20 hinted nodes each and a 60 s lifetime, 600,000 hints are pending.
// Stored as one object per hint, half as many raised the heap floor by 82 MB in a 10-minute soak
// (bench/soak). Here a hint is a slot in a few typed arrays, 41 bytes each.
// NOTE: a slot stays until its hint would expire, even once settled, so memory follows the
// admission rate: about 100 MB at 2,000 admissions/s (an estimate).
import type { Resources } from "../inventory/inventory.ts";

/** The pending hints of one node: their summed requests and their list, oldest first. */
interface NodeHints {
  readonly node: string;
  cpuMillis: number;
  memoryBytes: number;
  /** Sequence number of the oldest pending hint, or -1. */
  first: number;
  /** Sequence number of the newest pending hint, or -1. */
  last: number;
}

const INITIAL_CAPACITY = 1024;

/**
 * Pending hints in the order they were added. Every hint has a sequence number; hint `seq` is
 * stored at slot `seq - base`, and the slots before `head - base` are free. Each node's pending
 * hints form a list linked through `next`, so settling takes the node's oldest one.
 */
export class PendingHints {
  private readonly byNode = new Map<string, NodeHints>();
  private owner: (NodeHints | undefined)[] = [];
  private cpu: Float64Array = new Float64Array(INITIAL_CAPACITY);
  private memory: Float64Array = new Float64Array(INITIAL_CAPACITY);
  private expiresAt: Float64Array = new Float64Array(INITIAL_CAPACITY);
  private next: Float64Array = new Float64Array(INITIAL_CAPACITY);
  private pending: Uint8Array = new Uint8Array(INITIAL_CAPACITY);
  private base = 0;
  private head = 0;
  private tail = 0;

  add(node: string, requests: Resources, expiresAt: number): void {
    this.reserveSlot();
    const seq = this.tail;
    const slot = seq - this.base;
    this.tail += 1;
    let hints = this.byNode.get(node);
    if (hints === undefined) {
      hints = { node, cpuMillis: 0, memoryBytes: 0, first: -1, last: -1 };
      this.byNode.set(node, hints);
    }
    this.owner[slot] = hints;
    this.cpu[slot] = requests.cpuMillis;
    this.memory[slot] = requests.memoryBytes;
    this.expiresAt[slot] = expiresAt;
    this.next[slot] = -1;
    this.pending[slot] = 1;
    if (hints.last >= 0) {
      this.next[hints.last - this.base] = seq;
    } else {
      hints.first = seq;
    }
    hints.last = seq;
    hints.cpuMillis += requests.cpuMillis;
    hints.memoryBytes += requests.memoryBytes;
  }

  /** Summed requests of the node's pending hints; call expire first. */
  totalOf(node: string): Resources | undefined {
    return this.byNode.get(node);
  }

  /** Settles the node's oldest pending hint, if it has one. */
  settleOldest(node: string): void {
    const hints = this.byNode.get(node);
    if (hints !== undefined && hints.first >= 0) {
      this.remove(hints.first, hints);
    }
  }

  /**
   * Drops every hint that expired at `now` or before. It stops at the first pending hint not yet
   * expired, because all hints share one lifetime and so expire in the order they were added.
   */
  expire(now: number): void {
    for (; this.head < this.tail; this.head += 1) {
      const slot = this.head - this.base;
      if (this.pending[slot] === 1) {
        if ((this.expiresAt[slot] as number) > now) {
          break;
        }
        // The head is the oldest pending hint of all, so it is also first in its node's list.
        this.remove(this.head, this.owner[slot] as NodeHints);
      }
    }
  }

  private remove(seq: number, hints: NodeHints): void {
    const slot = seq - this.base;
    this.pending[slot] = 0;
    this.owner[slot] = undefined;
    hints.cpuMillis -= this.cpu[slot] as number;
    hints.memoryBytes -= this.memory[slot] as number;
    hints.first = this.next[slot] as number;
    if (hints.first < 0) {
      hints.last = -1;
      this.byNode.delete(hints.node);
    }
  }

  /** Makes room for one more hint: moves the live slots to the front, or doubles the arrays. */
  private reserveSlot(): void {
    const used = this.tail - this.base;
    if (used < this.cpu.length) {
      return;
    }
    const freed = this.head - this.base;
    if (freed * 2 >= used) {
      this.compact(freed);
      return;
    }
    const capacity = this.cpu.length * 2;
    this.cpu = grown(this.cpu, capacity);
    this.memory = grown(this.memory, capacity);
    this.expiresAt = grown(this.expiresAt, capacity);
    this.next = grown(this.next, capacity);
    const pending = new Uint8Array(capacity);
    pending.set(this.pending);
    this.pending = pending;
  }

  private compact(freed: number): void {
    const end = this.tail - this.base;
    for (const array of [this.cpu, this.memory, this.expiresAt, this.next]) {
      array.copyWithin(0, freed, end);
    }
    this.pending.copyWithin(0, freed, end);
    this.owner.copyWithin(0, freed, end);
    this.owner.length = end - freed;
    this.base += freed;
  }
}

function grown(array: Float64Array, capacity: number): Float64Array {
  const copy = new Float64Array(capacity);
  copy.set(array);
  return copy;
}
