// A least-recently-used cache bounded by the total weight of its values (bytes, or 1 per entry
// for a count bound). A Map keeps insertion order, so re-inserting on use keeps the least recently
// used entry first.

interface Slot<V> {
  readonly value: V;
  readonly weight: number;
}

/** A map with a weight bound that evicts the least recently used entries to stay under it. */
export class LruCache<V> {
  readonly #slots = new Map<string, Slot<V>>();
  readonly #maxWeight: number;
  #weight = 0;

  /** `maxWeight` bounds the sum of the weights given to set(). */
  constructor(maxWeight: number) {
    this.#maxWeight = maxWeight;
  }

  /** Returns the value and marks it most recently used. */
  get(key: string): V | undefined {
    const slot = this.#slots.get(key);
    if (slot === undefined) {
      return undefined;
    }
    this.#slots.delete(key);
    this.#slots.set(key, slot);
    return slot.value;
  }

  /** Returns the value without changing its position. */
  peek(key: string): V | undefined {
    return this.#slots.get(key)?.value;
  }

  /**
   * Stores the value, then evicts least recently used entries until the total weight fits. A
   * value heavier than the whole bound is not stored.
   */
  set(key: string, value: V, weight = 1): void {
    this.delete(key);
    if (weight > this.#maxWeight) {
      return;
    }
    this.#slots.set(key, { value, weight });
    this.#weight += weight;
    for (const [oldest, slot] of this.#slots) {
      if (this.#weight <= this.#maxWeight) {
        break;
      }
      this.#slots.delete(oldest);
      this.#weight -= slot.weight;
    }
  }

  delete(key: string): void {
    const slot = this.#slots.get(key);
    if (slot !== undefined) {
      this.#slots.delete(key);
      this.#weight -= slot.weight;
    }
  }

  get size(): number {
    return this.#slots.size;
  }

  /** Sum of the weights of the stored values. */
  get weight(): number {
    return this.#weight;
  }
}
