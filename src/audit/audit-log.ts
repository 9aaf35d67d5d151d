import { type AuditRow, insertAuditRows, type Queryable } from '../store/index.js';
import { type AuditEntry, outcomeLabel } from './audit-entry.js';
import { canonicalJson } from './canonical-json.js';

export class AuditUnavailableError extends Error {
  override readonly name = 'AuditUnavailableError';
}

export interface AuditLogOptions {
  /** Most entries one INSERT carries. */
  readonly maxBatch: number;
}

interface Pending {
  readonly row: AuditRow;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

/**
 * The audit seam (invariant 2). Reads append through `record`, which gathers the entries of
 * concurrent requests into one multi-row INSERT — one commit, one fsync for many requests — and
 * resolves each caller only after that commit, so data leaves only behind a durable entry.
 * Writes append through `recordIn(tx, …)`, inside their own transaction. If the store refuses an
 * entry, every waiting caller gets AuditUnavailableError and sends no data.
 */
export class AuditLog {
  readonly #db: Queryable;
  readonly #options: AuditLogOptions;
  #queue: Pending[] = [];
  #flushing = false;
  #closed = false;

  constructor(db: Queryable, options: AuditLogOptions) {
    if (options.maxBatch < 1) throw new TypeError('audit maxBatch must be at least 1');
    this.#db = db;
    this.#options = options;
  }

  /** Appends one entry; resolves once it is committed. */
  record(entry: AuditEntry): Promise<void> {
    if (this.#closed) return Promise.reject(new AuditUnavailableError('audit log is closed'));
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ row: auditRowOf(entry), resolve, reject });
      if (!this.#flushing) {
        this.#flushing = true;
        // Let the requests of this event-loop turn join the batch before it is written.
        setImmediate(() => void this.#drain());
      }
    });
  }

  /** Appends inside the caller's transaction: the entry commits or rolls back with the data change. */
  async recordIn(tx: Queryable, entry: AuditEntry): Promise<void> {
    try {
      await insertAuditRows(tx, [auditRowOf(entry)]);
    } catch (e) {
      throw new AuditUnavailableError('audit store refused the entry', { cause: e });
    }
  }

  /** Waits for queued entries, then refuses new ones. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#flushing || this.#queue.length > 0) await new Promise((r) => setTimeout(r, 2));
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#options.maxBatch);
      try {
        await insertAuditRows(
          this.#db,
          batch.map((p) => p.row),
        );
        for (const p of batch) p.resolve();
      } catch (e) {
        // One row the store refuses (bad data: SQLSTATE class 22 or 23) must not fail the requests
        // it was batched with: try each alone. A store that is down fails them all at once instead
        // of being asked again row by row while callers wait.
        if (batch.length === 1 || !refusedForItsData(e)) {
          for (const p of batch) p.reject(new AuditUnavailableError('audit store refused the entry', { cause: e }));
          continue;
        }
        for (const p of batch) {
          try {
            await insertAuditRows(this.#db, [p.row]);
            p.resolve();
          } catch (single) {
            p.reject(new AuditUnavailableError('audit store refused the entry', { cause: single }));
          }
        }
      }
    }
    this.#flushing = false;
  }
}

/** Whether the store refused a row for its content (data exception or constraint violation) rather than being unreachable. */
function refusedForItsData(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

/** The row an entry is stored as (canonical JSON plus its query columns). */
export function auditRowOf(entry: AuditEntry): AuditRow {
  return {
    recordedAt: new Date(entry.time),
    action: entry.action,
    outcome: outcomeLabel(entry.outcome),
    principalId: entry.who.id,
    patientId: entry.patientId ?? null,
    resourceType: entry.resourceType ?? null,
    resourceId: entry.resourceId ?? null,
    entry: canonicalJson(entry),
    patients: entry.detail?.patients ? entry.detail.patients.split(' ') : null,
    returned: entry.returned && entry.returned.length > 0 ? entry.returned : null,
  };
}
