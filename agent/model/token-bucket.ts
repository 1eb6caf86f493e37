// A token bucket: `burst` calls at once, then one every `refillMs`. Pure: the
// time is passed in. Caps how many Event writes an Xid storm can cause, and how
// many log lines an outside event can multiply (runtime/line-budget.ts).
export class TokenBucket {
  private readonly burst: number;
  private readonly refillMs: number;
  private tokens: number;
  private updatedAt: number;

  constructor(burst: number, refillMs: number, now: number) {
    this.burst = burst;
    this.refillMs = refillMs;
    this.tokens = burst;
    this.updatedAt = now;
  }

  private refill(now: number): void {
    if (now <= this.updatedAt) return;
    this.tokens = Math.min(this.burst, this.tokens + (now - this.updatedAt) / this.refillMs);
    this.updatedAt = now;
  }

  tryTake(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** When the next token is available (now if one is). */
  nextAt(now: number): number {
    this.refill(now);
    return this.tokens >= 1 ? now : now + Math.ceil((1 - this.tokens) * this.refillMs);
  }
}
