import type { KeyObject } from 'node:crypto';
import {
  type Database,
  insertHead,
  readAuditRows,
  readAuditSequenceValue,
  readNewestHead,
  readOldestRunningXid,
  readSealCandidate,
  type StoredHead,
  tryLockSealer,
} from '../store/index.js';
import { entryLeafHash } from './entry-leaf.js';
import { CompactRange } from './merkle.js';
import { signTreeHead, type TreeHead } from './tree-head.js';
import { readNewestWitnessed, type Witness } from './witness.js';

export interface SealerOptions {
  readonly signingKey: { readonly privateKey: KeyObject; readonly publicKey: KeyObject };
  readonly now: () => Date;
  readonly witnesses: readonly Witness[];
  /** Most entries one head adds, so a backlog is sealed in bounded rounds. */
  readonly maxEntriesPerHead: number;
  /**
   * This instance's witness file: before its first head the sealer checks that the database is
   * not behind it (a restored older database), so it never signs heads that fork from it.
   */
  readonly witnessFile?: string;
  /** Problems the operator must see (a refused entry, a witness that failed); never PHI. */
  readonly onEvent?: (event: SealerEvent) => void;
}

export type SealerEvent =
  | { readonly kind: 'sealed'; readonly treeSize: number; readonly added: number }
  | { readonly kind: 'entry-does-not-match-leaf'; readonly seq: number }
  | { readonly kind: 'database-behind-witness'; readonly witnessedTreeSize: number; readonly databaseTreeSize: number }
  | { readonly kind: 'witness-failed'; readonly error: string }
  | { readonly kind: 'round-failed'; readonly error: string };

export type SealResult =
  | { readonly sealed: true; readonly head: TreeHead; readonly lastSeq: number; readonly added: number }
  | {
      readonly sealed: false;
      readonly reason: 'nothing-final' | 'nothing-new' | 'another-sealer' | 'entry-does-not-match-leaf' | 'database-behind-witness';
    };

export interface SealerStatus {
  readonly newestHead?: { readonly treeSize: number; readonly lastSeq: number; readonly timestamp: number };
  readonly lastRoundAt?: number;
  readonly lastError?: string;
}

/**
 * Extends the audit log's Merkle tree and signs a tree head (ADR 0004). Each round: note a
 * watermark candidate; seal, in sequence order, the entries up to the newest candidate that is
 * final (no transaction that could still commit a number below it is running); sign; commit the
 * head; then hand it to the witnesses. It reads committed rows only and never holds a lock that
 * requests wait for, so sealing never blocks them.
 */
export class AuditSealer {
  readonly #db: Database;
  readonly #options: SealerOptions;
  #candidates: { seq: number; xid: bigint }[] = [];
  #finalThrough = 0;
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<unknown> = Promise.resolve();
  #status: SealerStatus = {};
  #stopped = false;
  #witnessChecked = false;
  /** The audit sequence's value when a round last found nothing to seal; unchanged means still idle. */
  #idleThrough = -1;
  #lastReported: string | undefined;

  constructor(db: Database, options: SealerOptions) {
    if (options.maxEntriesPerHead < 1) throw new TypeError('maxEntriesPerHead must be at least 1');
    this.#db = db;
    this.#options = options;
  }

  get status(): SealerStatus {
    return this.#status;
  }

  /** Seals every `intervalMs` until stopped; rounds never overlap. */
  start(intervalMs: number): void {
    const tick = () => {
      if (this.#stopped) return;
      this.#round = this.sealRound()
        .catch((e: unknown) => {
          this.#status = { ...this.#status, lastError: (e as Error).message };
          this.#report({ kind: 'round-failed', error: (e as Error).message });
        })
        .finally(() => {
          if (!this.#stopped) this.#timer = setTimeout(tick, intervalMs);
        });
    };
    this.#timer = setTimeout(tick, intervalMs);
  }

  /**
   * Stops the loop and seals what is final, so a clean shutdown leaves nothing unsealed. It waits
   * at most `timeoutMs` for other transactions to finish: a long one elsewhere (another
   * instance's) must not hold a command's exit for long; the instances still running seal the rest.
   */
  async stop(timeoutMs = 3000): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#round.catch(() => undefined);
    await this.sealAll(timeoutMs).catch(() => undefined);
  }

  /**
   * Seals every entry written before the call: waits (up to `timeoutMs`) for the transactions
   * still running to finish, then rounds until the log is sealed through that point.
   */
  async sealAll(timeoutMs = 30_000): Promise<TreeHead | undefined> {
    const target = (await readSealCandidate(this.#db)).seq;
    const deadline = Date.now() + timeoutMs;
    let newest: TreeHead | undefined;
    for (;;) {
      const result = await this.sealRound();
      if (result.sealed) {
        newest = result.head;
        continue;
      }
      // Another instance holding the sealer lock seals these entries too.
      if (
        result.reason === 'entry-does-not-match-leaf' ||
        result.reason === 'another-sealer' ||
        result.reason === 'database-behind-witness'
      )
        return newest;
      if (this.#finalThrough >= target) return newest;
      if (Date.now() > deadline) throw new Error('audit entries did not become final in time to be sealed');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async sealRound(): Promise<SealResult> {
    const result = await this.#seal();
    const lastRoundAt = this.#options.now().getTime();
    if (!result.sealed) this.#status = { ...this.#status, lastRoundAt };
    if (result.sealed) {
      // A head that committed clears any earlier error: sealing is moving again.
      this.#status = {
        newestHead: { treeSize: result.head.treeSize, lastSeq: result.lastSeq, timestamp: result.head.timestamp },
        lastRoundAt,
      };
      this.#lastReported = undefined;
      this.#options.onEvent?.({ kind: 'sealed', treeSize: result.head.treeSize, added: result.added });
      for (const w of this.#options.witnesses) {
        await w.witness(result.head).catch((e: unknown) => this.#report({ kind: 'witness-failed', error: (e as Error).message }));
      }
    }
    return result;
  }

  /**
   * Whether the witness holds a head this database does not reach or disagrees with: then the
   * database was rolled back or truncated, and extending it would sign a fork. Checked until it
   * passes once (at start); after that `ward audit verify` is what compares the two.
   */
  #behindWitness(newest: StoredHead | undefined): { witnessedTreeSize: number; databaseTreeSize: number } | undefined {
    if (this.#witnessChecked || !this.#options.witnessFile) return undefined;
    const witnessed = readNewestWitnessed(this.#options.witnessFile);
    const databaseTreeSize = newest?.treeSize ?? 0;
    const forked =
      witnessed !== undefined &&
      (witnessed.treeSize > databaseTreeSize ||
        (witnessed.treeSize === databaseTreeSize && !witnessed.rootHash.equals(newest?.rootHash ?? Buffer.alloc(0))));
    if (forked) return { witnessedTreeSize: witnessed.treeSize, databaseTreeSize };
    this.#witnessChecked = true;
    return undefined;
  }

  async #advanceWatermark(): Promise<void> {
    this.#candidates.push(await readSealCandidate(this.#db));
    const oldestRunning = await readOldestRunningXid(this.#db);
    const pending: { seq: number; xid: bigint }[] = [];
    for (const c of this.#candidates) {
      // The candidate's own xid has completed, so "none older still running" is xmin > xid.
      if (c.xid < oldestRunning) this.#finalThrough = Math.max(this.#finalThrough, c.seq);
      else pending.push(c);
    }
    this.#candidates = pending;
  }

  /**
   * One round. Everything slow (reading and hashing up to a head's worth of entries, signing)
   * happens before the transaction, which only takes the sealer lock, checks that no other
   * sealer extended the tree meanwhile, and inserts the head: on PGlite's single connection a
   * long transaction would hold up every request.
   */
  async #seal(): Promise<SealResult> {
    // An idle log costs one read per round: no transaction id is taken while nothing is written.
    const written = await readAuditSequenceValue(this.#db);
    if (written === this.#idleThrough) return { sealed: false, reason: 'nothing-new' };
    await this.#advanceWatermark();
    const previous = await readNewestHead(this.#db);
    const behind = this.#behindWitness(previous);
    if (behind) {
      this.#report({ kind: 'database-behind-witness', ...behind });
      this.#status = {
        ...this.#status,
        lastError: `the witness holds a head of tree size ${behind.witnessedTreeSize} that this database (tree size ${behind.databaseTreeSize}) does not: sealing stopped; run ward audit verify`,
      };
      return { sealed: false, reason: 'database-behind-witness' };
    }
    const afterSeq = previous?.lastSeq ?? 0;
    // Nothing waits to become final and everything final is read: until the sequence moves, idle.
    const settled = () => {
      if (this.#candidates.length === 0 && this.#finalThrough >= written) this.#idleThrough = written;
    };
    if (this.#finalThrough <= afterSeq) {
      settled();
      return { sealed: false, reason: 'nothing-final' };
    }
    const rows = await readAuditRows(this.#db, { afterSeq, throughSeq: this.#finalThrough, limit: this.#options.maxEntriesPerHead });
    // A full page may stop short of the watermark; the head then covers only what it read.
    const lastSeq = rows.length === this.#options.maxEntriesPerHead ? (rows[rows.length - 1]?.seq ?? afterSeq) : this.#finalThrough;
    const range = previous ? CompactRange.fromBytes(previous.treeSize, previous.frontier) : CompactRange.empty();
    const present = new Set<number>();
    for (const row of rows) {
      const leaf = entryLeafHash(row.seq, row.entry);
      if (!leaf.equals(row.leafHash)) {
        // Sealing it would bless an entry changed after it was written: refuse, loudly.
        this.#report({ kind: 'entry-does-not-match-leaf', seq: row.seq });
        this.#status = { ...this.#status, lastError: `entry ${row.seq} does not match its leaf hash; sealing stopped` };
        return { sealed: false, reason: 'entry-does-not-match-leaf' };
      }
      range.append(leaf);
      present.add(row.seq);
    }
    if (rows.length === 0) {
      // Only numbers of rolled-back transactions: the next head records them as gaps.
      settled();
      return { sealed: false, reason: 'nothing-new' };
    }
    const gaps: number[] = [];
    for (let seq = afterSeq + 1; seq <= lastSeq; seq++) if (!present.has(seq)) gaps.push(seq);
    const timestamp = Math.max(this.#options.now().getTime(), previous?.timestampMs ?? 0);
    const { privateKey, publicKey } = this.#options.signingKey;
    const head = signTreeHead(privateKey, publicKey, range.size, timestamp, range.root());
    const stored: StoredHead = {
      treeSize: head.treeSize,
      lastSeq,
      gaps,
      rootHash: head.rootHash,
      timestampMs: head.timestamp,
      keyId: head.keyId,
      signature: head.signature,
      frontier: range.toBytes(),
    };
    return this.#db.transaction(async (tx): Promise<SealResult> => {
      if (!(await tryLockSealer(tx))) return { sealed: false, reason: 'another-sealer' };
      // Another instance sealed since the read above: its head is the one to extend next round.
      if ((await readNewestHead(tx))?.treeSize !== previous?.treeSize) return { sealed: false, reason: 'another-sealer' };
      await insertHead(tx, stored);
      return { sealed: true, head, lastSeq, added: rows.length };
    });
  }

  /** Reports a problem once while it lasts: a refused round is retried often, and the log needs it once. */
  #report(event: SealerEvent): void {
    const key = JSON.stringify(event);
    if (key === this.#lastReported) return;
    this.#lastReported = key;
    this.#options.onEvent?.(event);
  }
}
