/** A token bucket per key: `burst` requests at once, refilled at `perSecond`. */
export interface RateLimitOptions {
  burst: number;
  perSecond: number;
}

/**
 * In-memory token buckets, one per caller (token or address). Buckets that
 * have refilled completely are forgotten, and at most `maxKeys` are kept, so
 * a flood of distinct addresses cannot grow the map without bound.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { at: number; tokens: number }>();

  constructor(
    private readonly options: RateLimitOptions,
    private readonly maxKeys = 10_000,
  ) {}

  /** Takes one request from `key`'s bucket: 0 when allowed, else the seconds until one is available. */
  take(key: string, now = Date.now()): number {
    const { burst, perSecond } = this.options;
    let bucket = this.buckets.get(key);
    if (bucket) {
      bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1_000) * perSecond);
      bucket.at = now;
    } else {
      if (this.buckets.size >= this.maxKeys) this.sweep(now);
      bucket = { at: now, tokens: burst };
      this.buckets.set(key, bucket);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / perSecond));
  }

  private sweep(now: number): void {
    const { burst, perSecond } = this.options;
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1_000) * perSecond >= burst) this.buckets.delete(key);
    }
    // Still full of active callers: drop the oldest, which at worst resets one caller's bucket.
    while (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
  }
}
