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

  /**
   * Takes a try for the address before the password is checked, in one step, so parallel tries
   * cannot all pass the check before any is counted: seconds to wait when the window is used up,
   * otherwise undefined (and the try is counted as a failure until `succeeded` gives it back).
   */
  reserve(address: string | undefined): number | undefined {
    if (address === undefined) return undefined;
    const key = addressKey(address);
    const w = this.#current(key);
    if (w && w.failures >= this.#options.maxFailures) {
      return Math.max(1, Math.ceil((w.start + this.#options.windowMs - this.#now().getTime()) / 1000));
    }
    if (w) w.failures++;
    else {
      if (this.#windows.size >= MAX_TRACKED_ADDRESSES) this.#prune();
      this.#windows.set(key, { start: this.#now().getTime(), failures: 1 });
    }
    return undefined;
  }

  /** A try that logged in is not a failure: give its slot back. */
  succeeded(address: string | undefined): void {
    if (address === undefined) return;
    const w = this.#current(addressKey(address));
    if (w && w.failures > 0) w.failures--;
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

/**
 * The bucket an address counts in: an IPv4 address itself, an IPv6 address by its /64 (one
 * subscriber usually holds a whole /64, so counting single addresses would give them 2^64 buckets).
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return mapped[1];
  if (!address.includes(':')) return address;
  const [head = '', tail = ''] = address.toLowerCase().split('%')[0]?.split('::') ?? [];
  const left = head ? head.split(':') : [];
  const right = address.includes('::') && tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g || '0', 16).toString(16))
    .join(':')}::/64`;
}
