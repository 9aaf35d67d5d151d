import { type AuditLog, auditRowOf, type RequestContext } from '../audit/index.js';

/** Where a runner appends: the process's grouped audit log, or one transaction (recordIn only). */
export type AuditSink = Pick<AuditLog, 'record' | 'recordIn'>;

import { isWardError, WardError } from '../fhir/index.js';
import type { Principal } from '../policy/index.js';
import { commitWrite, commitWrites, type Database, type Queryable } from '../store/index.js';
import { auditEntry, type OperationRecord, statusOf } from './audit-trail.js';
import { asWardError, isLostRace } from './vault-steps.js';

/** Starts the record of one operation (the vault's `#op`): who, in which request, what, on what. */
export type NewOperation = (
  principal: Principal,
  ctx: RequestContext,
  action: OperationRecord['action'],
  resourceType?: string,
  id?: string,
) => OperationRecord;

/** What an operation module of the vault works with: the database, the clock, the audited runner, and new operation records. */
export interface OperationDeps {
  readonly db: Database;
  readonly now: () => Date;
  readonly run: AuditedRunner;
  readonly op: NewOperation;
}

/** How often a write that lost a race is run again before the client gets 409. */
const MAX_WRITE_ATTEMPTS = 4;

export interface WriteMode {
  /** Run in a transaction from the first try (conditional writes hold a criteria lock). */
  readonly transactional: boolean;
  /** Run again after losing a race (true), refuse with 412 (false: If-Match pinned a version), or 409 (unset). */
  readonly retryOnConflict?: boolean;
}

/**
 * Runs vault operations so that each writes exactly one audit entry (invariant 2): reads append it
 * durably before their result is returned; writes commit it in the same statement as their data;
 * failures append it before the error leaves. It also counts operations in flight, so shutdown
 * can wait for them.
 */
export class AuditedRunner {
  readonly #db: Database;
  readonly #audit: AuditSink;
  readonly #now: () => Date;
  readonly #enclosed: boolean;
  readonly #prepare: ((op: OperationRecord, q: Queryable) => Promise<void>) | undefined;
  #inflight = 0;
  #whenIdle: (() => void)[] = [];

  /**
   * `enclosed`: the runner works inside a transaction that someone else commits (a transaction
   * Bundle). Every write then locks its rows from the first try and never retries (a failed
   * statement has aborted the transaction), and failures are not appended here: they would roll
   * back with everything else, so the enclosing transaction audits the failed attempt instead.
   */
  constructor(
    deps: { db: Database; audit: AuditSink; now: () => Date },
    options: {
      enclosed?: boolean;
      /** Loads what every decision of the operation needs before its first step (the organization policies). */
      prepare?: (op: OperationRecord, q: Queryable) => Promise<void>;
    } = {},
  ) {
    this.#db = deps.db;
    this.#audit = deps.audit;
    this.#now = deps.now;
    this.#enclosed = options.enclosed ?? false;
    this.#prepare = options.prepare;
  }

  /** Resolves once nothing runs (or after `timeoutMs`): shutdown closes the pool only after in-flight requests finish. */
  async drain(timeoutMs = 10_000): Promise<void> {
    if (this.#inflight === 0) return;
    await Promise.race([
      new Promise<void>((resolve) => this.#whenIdle.push(resolve)),
      new Promise((resolve) => setTimeout(resolve, timeoutMs).unref()),
    ]);
  }

  /** A read-type operation: its entry is durable before the result is returned. */
  read<T>(op: OperationRecord, body: () => Promise<T>): Promise<T> {
    return this.#track(async () => {
      let result: T;
      try {
        await this.#prepare?.(op, this.#db);
        result = await body();
      } catch (e) {
        if (!this.#enclosed) await this.#appendFailure(op, e);
        throw e;
      }
      await this.#appendNow(op, 200);
      return result;
    });
  }

  /**
   * A write: the body decides and prepares `op.pending`; the version and its audit entry are then
   * committed in one statement (commitWrite), together or not at all. The first try is optimistic
   * (no lock, one round trip); a write that lost a race to another writer of the same resource runs
   * again from the start (fresh read, fresh decision) holding the row lock in a transaction, so
   * contenders queue instead of colliding again. A failed write is audited on its own.
   */
  write<T>(
    op: OperationRecord,
    mode: WriteMode,
    body: (q: Queryable, lock: boolean) => Promise<T>,
    statusOf_: (r: T) => number,
  ): Promise<T> {
    return this.#track(async () => {
      const attempt = async (q: Queryable, lock: boolean): Promise<T> => {
        op.pending = undefined;
        // Every try decides afresh, on the policies in force when it runs.
        await this.#prepare?.(op, q);
        const r = await body(q, lock);
        const entry = auditEntry(op, this.#now(), statusOf_(r));
        try {
          if (op.pending) await commitWrite(q, op.pending, auditRowOf(entry));
          else await this.#audit.recordIn(q, entry);
        } catch (e) {
          throw isLostRace(e) ? e : asWardError(e);
        }
        return r;
      };
      for (let tries = 1; ; tries++) {
        try {
          const result = this.#enclosed
            ? await attempt(this.#db, true)
            : mode.transactional || tries > 1
              ? await this.#db.transaction((tx) => attempt(tx, true))
              : await attempt(this.#db, false);
          op.ctx.audited = true;
          return result;
        } catch (e) {
          if (isLostRace(e) && mode.retryOnConflict && tries < MAX_WRITE_ATTEMPTS && !this.#enclosed) continue;
          const error = isWardError(e)
            ? e
            : isLostRace(e)
              ? new WardError(mode.retryOnConflict === false ? 'WARD_VERSION_CONFLICT' : 'WARD_CONFLICT', { cause: e })
              : e;
          if (!this.#enclosed) await this.#appendFailure(op, error);
          throw error;
        }
      }
    });
  }

  /**
   * Many writes inside an enclosing transaction (a transaction Bundle): the body decides and
   * prepares `op.pending` for every operation, and then all versions and their audit entries are
   * committed together (commitWrites) — one entry per operation, as if each had run on its own.
   * Failures are not appended here: the enclosing transaction rolls back and audits the attempt.
   */
  writeMany<T>(ops: readonly OperationRecord[], body: (q: Queryable) => Promise<T[]>, statusOf_: (r: T) => number): Promise<T[]> {
    if (!this.#enclosed) throw new TypeError('writeMany runs only inside a transaction');
    return this.#track(async () => {
      for (const op of ops) op.pending = undefined;
      // One principal for the whole batch: what it needs before deciding is loaded once and shared.
      const first = ops[0];
      if (first) {
        await this.#prepare?.(first, this.#db);
        for (const op of ops) op.typeFacts = first.typeFacts;
      }
      const results = await body(this.#db);
      const writes = ops.map((op, k) => {
        if (!op.pending || results[k] === undefined) throw new TypeError('every operation of writeMany prepares one version');
        return { pending: op.pending, audit: auditRowOf(auditEntry(op, this.#now(), statusOf_(results[k]))) };
      });
      try {
        await commitWrites(this.#db, writes);
      } catch (e) {
        throw isLostRace(e) ? new WardError('WARD_CONFLICT', { cause: e }) : asWardError(e);
      }
      for (const op of ops) op.ctx.audited = true;
      return results;
    });
  }

  /** Appends an operation's entry on its own (requests refused before an operation, operator actions). */
  append(op: OperationRecord, status: number, code?: string): Promise<void> {
    return this.#track(() => this.#appendNow(op, status, code));
  }

  async #appendFailure(op: OperationRecord, error: unknown): Promise<void> {
    const { status, code } = statusOf(error);
    await this.#appendNow(op, status, code);
  }

  async #appendNow(op: OperationRecord, status: number, code?: string): Promise<void> {
    try {
      await this.#audit.record(auditEntry(op, this.#now(), status, code));
      op.ctx.audited = true;
    } catch (e) {
      throw asWardError(e);
    }
  }

  async #track<T>(fn: () => Promise<T>): Promise<T> {
    this.#inflight++;
    try {
      return await fn();
    } finally {
      this.#inflight--;
      if (this.#inflight === 0) for (const resolve of this.#whenIdle.splice(0)) resolve();
    }
  }
}
