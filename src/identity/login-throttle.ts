/**
 * Throttling of password guessing (NIST SP 800-63B-4 §3.2.2). Pure decisions over the stored
 * count of consecutive failures of one username, plus a per-address window kept in memory.
 */

/** Failures in a row after which each next try must wait (exponential back-off). */
export const BACKOFF_AFTER_FAILURES = 5;
/** Failures in a row after which the account refuses every login, even with the right password. */
export const LOCK_AFTER_FAILURES = 100;
export const MAX_BACKOFF_SECONDS = 300;

export type AccountThrottle =
  | { readonly kind: 'allow' }
  | { readonly kind: 'wait'; readonly retryAfterSeconds: number }
  | { readonly kind: 'locked' };

/** Whether a try may check the password now: after 5 failures it waits 1 s, then 2 s, 4 s … up to 5 min. */
export function accountThrottle(state: { failures: number; lastAttemptAt: Date } | undefined, now: Date): AccountThrottle {
  if (!state) return { kind: 'allow' };
  if (state.failures >= LOCK_AFTER_FAILURES) return { kind: 'locked' };
  if (state.failures < BACKOFF_AFTER_FAILURES) return { kind: 'allow' };
  const delaySeconds = Math.min(MAX_BACKOFF_SECONDS, 2 ** (state.failures - BACKOFF_AFTER_FAILURES));
  const waitMs = state.lastAttemptAt.getTime() + delaySeconds * 1000 - now.getTime();
  return waitMs > 0 ? { kind: 'wait', retryAfterSeconds: Math.ceil(waitMs / 1000) } : { kind: 'allow' };
}

export interface AddressThrottleOptions {
  /** Failed logins one source address may make per window before it must wait. */
  readonly maxFailures: number;
  readonly windowMs: number;
}

export const DEFAULT_ADDRESS_THROTTLE: AddressThrottleOptions = { maxFailures: 50, windowMs: 10 * 60_000 };
const MAX_TRACKED_ADDRESSES = 100_000;

/**
 * Failed logins per source address in a fixed window, against password spraying (one address
 * trying one password on many usernames, which per-account counting never sees). Kept in this
 * process's memory: with several instances each counts its own share.
 * TODO(issue 5, scale-out): share the counters through Redis when REDIS_URL is set (ARCHITECTURE.md, Running).
 */
export class AddressThrottle {
  readonly #options: AddressThrottleOptions;
  readonly #now: () => Date;
  readonly #windows = new Map<string, { start: number; failures: number }>();

  constructor(options: AddressThrottleOptions, now: () => Date) {
    if (options.maxFailures < 1 || options.windowMs < 1000)
      throw new TypeError('address throttle needs maxFailures >= 1 and a window of 1 s or more');
    this.#options = options;
    this.#now = now;
  }

  /** Seconds the address must wait, or undefined when it may try. */
  retryAfter(address: string | undefined): number | undefined {
    const w = address === undefined ? undefined : this.#current(address);
    if (!w || w.failures < this.#options.maxFailures) return undefined;
    return Math.max(1, Math.ceil((w.start + this.#options.windowMs - this.#now().getTime()) / 1000));
  }

  fail(address: string | undefined): void {
    if (address === undefined) return;
    const w = this.#current(address);
    if (w) w.failures++;
    else {
      if (this.#windows.size >= MAX_TRACKED_ADDRESSES) this.#prune();
      this.#windows.set(address, { start: this.#now().getTime(), failures: 1 });
    }
  }

  #current(address: string): { start: number; failures: number } | undefined {
    const w = this.#windows.get(address);
    if (w && this.#now().getTime() - w.start >= this.#options.windowMs) {
      this.#windows.delete(address);
      return undefined;
    }
    return w;
  }

  #prune(): void {
    const now = this.#now().getTime();
    for (const [address, w] of this.#windows) if (now - w.start >= this.#options.windowMs) this.#windows.delete(address);
    // Still full: forget the oldest windows rather than grow without bound.
    for (const address of this.#windows.keys()) {
      if (this.#windows.size < MAX_TRACKED_ADDRESSES) break;
      this.#windows.delete(address);
    }
  }
}
