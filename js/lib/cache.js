// @ts-check
/**
 * A one-value cache with a time to live and a stale fallback, for the status tab: the sidebar,
 * a job event and the 30 s timer may all ask at once, and one request answers them all. When a
 * refresh fails, the last good value is returned marked stale instead of an empty panel.
 * No DOM and no app imports: Node's test runner imports it (tests/js/).
 */

/**
 * @template T
 * @typedef {{value: T, stale: boolean, error?: unknown, at: number}} CacheResult
 */

/** @template T */
export class TtlCache {
  /**
   * @param {number} ttlMs how long a value is fresh
   * @param {() => number} [now] clock in ms (tests pass a fake one)
   */
  constructor(ttlMs, now = Date.now) {
    this.ttlMs = ttlMs;
    this.now = now;
    /** @type {{value: T, at: number} | null} */
    this.entry = null;
    /** @type {Promise<CacheResult<T>> | null} */
    this.pending = null;
    this.expired = false;
  }

  /**
   * The cached value when fresh, else `load()`'s; concurrent callers share one load. On a
   * failed load: the last value with `stale: true`, or the error thrown when there is none.
   * @param {() => Promise<T>} load
   * @param {{force?: boolean}} [options] force: load even when fresh
   * @returns {Promise<CacheResult<T>>}
   */
  get(load, { force = false } = {}) {
    const e = this.entry;
    if (!force && e && !this.expired && this.now() - e.at < this.ttlMs) {
      return Promise.resolve({ value: e.value, stale: false, at: e.at });
    }
    if (this.pending) return this.pending;
    const run = async () => {
      try {
        const value = await load();
        this.entry = { value, at: this.now() };
        this.expired = false;
        return { value, stale: false, at: this.entry.at };
      } catch (error) {
        if (this.entry) return { value: this.entry.value, stale: true, error, at: this.entry.at };
        throw error;
      }
    };
    // Cleared in a later microtask, after the assignment below, even when load() throws at once.
    const p = run().finally(() => {
      if (this.pending === p) this.pending = null;
    });
    this.pending = p;
    return this.pending;
  }

  /** The last value, fresh or not, without loading. */
  peek() {
    return this.entry ? this.entry.value : undefined;
  }

  /** Make the next get() load (the value is kept as the stale fallback). */
  invalidate() {
    this.expired = true;
  }
}
