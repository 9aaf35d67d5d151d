import type { AuditEntry, RequestContext } from '../audit/index.js';
import {
  type ConditionalCriteria,
  type EverythingRequest,
  type FhirResource,
  isFhirId,
  isResourceType,
  type SearchRequest,
  WardError,
} from '../fhir/index.js';
import { type Decision, type Explanation, explain, type PolicyAction, type Principal } from '../policy/index.js';
import {
  type Database,
  type Engine,
  type Queryable,
  type ReindexCursor,
  readCurrent,
  readHistory,
  readVersion,
  type StoredVersion,
} from '../store/index.js';
import { auditEntry, markBreakGlass, type OperationRecord, statusOf } from './audit-trail.js';
import { AuditedRunner, type WriteMode } from './audited-runner.js';
import { AuditorOperations } from './auditor-operations.js';
import { type BatchUpdate, updateBatch } from './batch-update.js';
import { BreakGlassOperations, privacyOfficerDecision } from './break-glass-operations.js';
import { EverythingOperations, type EverythingPage } from './everything-operations.js';
import { OrganizationPolicyOperations } from './organization-policy-operations.js';
import { Part2Operations } from './part2-operations.js';
import { patientsOfRow } from './policy-facts.js';
import { PurgeOperations } from './purge-operations.js';
import { type ReindexBatch, reindexBatch } from './reindex-operations.js';
import { RowDecisions } from './row-decisions.js';
import { type SearchDeps, SearchOperations } from './search-operations.js';
import { asWardError, checkBody, decideOnType, targetOf } from './vault-steps.js';
import {
  type DeleteResult,
  type HistoryEntry,
  type HistoryPage,
  type SearchPage,
  type VaultDeps,
  type VersionedResource,
  WRITE_STATUS,
  type WriteResult,
} from './vault-types.js';
import { lockCondition, type MatchDeps, visibleMatches } from './visible-matches.js';
import { type PrepareDeps, prepareTombstone, prepareVersion } from './write-preparation.js';

/** Operator actions recorded on their own (no resource, no policy decision of the vault's). */
export type AdministrativeAction =
  | 'token-create'
  | 'key-create'
  | 'migrate'
  | 'audit-verify'
  | 'audit-prove'
  | 'audit-archive'
  | 'audit-partitions'
  | 'batch'
  | 'import'
  | 'reindex';

/**
 * The only gateway to PHI. Each operation runs its steps in a fixed order — decide on the type,
 * load, decide on the instance, open or seal, store — and writes exactly one audit entry: reads
 * append it durably before returning data; writes commit it in the same statement as their data;
 * failures (denials, validation errors, conflicts, integrity failures) append it before the error
 * leaves. The audited execution is AuditedRunner's; write preparation is write-preparation.ts.
 */
export class Vault {
  readonly #deps: VaultDeps;
  readonly #run: AuditedRunner;
  readonly #prep: PrepareDeps;
  readonly #matchDeps: MatchDeps;
  /** The audit log as the privacy officer and auditor read it (AuditEvent, exports, reports, recorded disclosures). */
  readonly auditor: AuditorOperations;
  /** Emergency access: grants, and the privacy officers' review of them. */
  readonly breakGlass: BreakGlassOperations;
  /** 42 CFR Part 2 reports: the accounting of consented disclosures (§2.25, §2.24). */
  readonly part2: Part2Operations;
  /** Organization policy overrides: versioned, audited, managed by the system administrator (ADR 0015). */
  readonly organizationPolicy: OrganizationPolicyOperations;
  /** Hard purge of one resource and its history, by the purge role only (164.312(c)(1), ADR 0018). */
  readonly purge: PurgeOperations;
  /** Facts, decisions and opening of stored rows. */
  readonly #rows: RowDecisions;
  readonly #search: SearchOperations;
  readonly #everything: EverythingOperations;

  readonly #enclosed: boolean;

  constructor(deps: VaultDeps, options: { enclosed?: boolean } = {}) {
    this.#deps = deps;
    this.#enclosed = options.enclosed ?? false;
    this.#rows = new RowDecisions(deps);
    // One decision and one opening of rows, shared by writes, conditional matches and search.
    const permits: SearchDeps['permits'] = (principal, action, row, facts) => this.#rows.permits(principal, action, row, facts);
    const open: SearchDeps['open'] = (row) => this.#rows.open(row);
    this.#run = new AuditedRunner(deps, { enclosed: this.#enclosed, prepare: (op, q) => this.#rows.prepare(op, q) });
    this.#prep = {
      keyring: deps.keyring,
      now: deps.now,
      permits,
      facts: (q, principal, patients) => this.#rows.facts(q, principal, patients),
    };
    this.#matchDeps = {
      indexer: deps.keyring.blindIndexer,
      now: deps.now,
      permits,
      facts: (q, principal, rows) => this.#rows.facts(q, principal, rows.flatMap(patientsOfRow), rows),
      open,
    };
    this.auditor = new AuditorOperations({ db: deps.db, now: deps.now, run: this.#run, op: (...args) => this.#op(...args) });
    this.breakGlass = new BreakGlassOperations({ ...deps, run: this.#run, op: (...args) => this.#op(...args) });
    this.part2 = new Part2Operations({ db: deps.db, now: deps.now, run: this.#run, op: (...args) => this.#op(...args) });
    this.organizationPolicy = new OrganizationPolicyOperations({ ...deps, run: this.#run, op: (...args) => this.#op(...args) });
    this.purge = new PurgeOperations({ db: deps.db, now: deps.now, run: this.#run, op: (...args) => this.#op(...args) });
    const searchDeps: SearchDeps = {
      ...deps,
      run: this.#run,
      op: (...args) => this.#op(...args),
      permits,
      facts: (principal, rows) => this.#rows.facts(deps.db, principal, rows.flatMap(patientsOfRow), rows),
      batch: (principal, search) => this.#rows.batch(principal, search),
      open,
      reveal: (op, row, decision, opened) => this.#rows.reveal(op, row, decision, opened),
    };
    this.#search = new SearchOperations(searchDeps);
    this.#everything = new EverythingOperations(searchDeps);
  }

  /** A create or update, answered 201 when it created and 200 otherwise. */
  #write(op: OperationRecord, mode: WriteMode, body: (q: Queryable, lock: boolean) => Promise<WriteResult>): Promise<WriteResult> {
    return this.#run.write(op, mode, body, (r) => WRITE_STATUS[r.outcome]);
  }

  /** Waits for operations in flight (shutdown). */
  drain(timeoutMs?: number): Promise<void> {
    return this.#run.drain(timeoutMs);
  }

  async read(principal: Principal, ctx: RequestContext, resourceType: string, id: string): Promise<VersionedResource> {
    const op = this.#op(principal, ctx, 'read', resourceType, id);
    return this.#run.read(op, async () => {
      decideOnType(op, 'read');
      const row = isFhirId(id) ? await readCurrent(this.#deps.db, resourceType, id) : undefined;
      const visible = await this.#decideOnRow(this.#deps.db, op, 'read', row);
      if (visible.deleted) throw new WardError('WARD_GONE');
      return this.#rows.reveal(op, visible, op.decision);
    });
  }

  async vread(principal: Principal, ctx: RequestContext, resourceType: string, id: string, versionId: number): Promise<VersionedResource> {
    const op = this.#op(principal, ctx, 'vread', resourceType, id);
    op.versionId = versionId;
    return this.#run.read(op, async () => {
      decideOnType(op, 'vread');
      const row =
        Number.isSafeInteger(versionId) && isFhirId(id) ? await readVersion(this.#deps.db, resourceType, id, versionId) : undefined;
      const visible = await this.#decideOnRow(this.#deps.db, op, 'vread', row);
      if (visible.deleted) throw new WardError('WARD_GONE');
      return this.#rows.reveal(op, visible, op.decision);
    });
  }

  /** Create; with `ifNoneExist`, returns the one match instead of creating (412 when several match). */
  async create(
    principal: Principal,
    ctx: RequestContext,
    resourceType: string,
    body: unknown,
    options: { ifNoneExist?: ConditionalCriteria; assignedId?: string } = {},
  ): Promise<WriteResult> {
    // A transaction assigns ids before it writes, so that entries can refer to each other.
    if (options.assignedId !== undefined && !isFhirId(options.assignedId)) throw new TypeError('an assigned id must be a FHIR id');
    const op = this.#op(principal, ctx, 'create', resourceType);
    const conditional = options.ifNoneExist;
    return this.#write(op, { transactional: conditional !== undefined }, async (q) => {
      decideOnType(op, 'create');
      const resource = checkBody(body, resourceType);
      if (conditional) {
        await this.#lockCriteria(q, resourceType, conditional);
        const matches = await this.#visibleMatches(q, op, resourceType, conditional, 2);
        if (matches.length > 1) throw new WardError('WARD_CONDITION_MULTIPLE');
        const match = matches[0];
        if (match) {
          op.resourceId = match.row.id;
          op.detail = { ...op.detail, conditional: 'matched-existing' };
          return { ...this.#rows.reveal(op, match.row, match.decision), outcome: 'existing' as const };
        }
      }
      resource.id = options.assignedId ?? this.#deps.newId();
      return prepareVersion(this.#prep, q, op, resource, 'create', undefined, 'POST');
    });
  }

  /** Update by id; creates the resource with the client's id when it does not exist (update-as-create). */
  async update(
    principal: Principal,
    ctx: RequestContext,
    resourceType: string,
    id: string,
    body: unknown,
    options: { ifMatch?: number } = {},
  ): Promise<WriteResult> {
    const op = this.#op(principal, ctx, 'update', resourceType, id);
    return this.#write(op, { transactional: false, retryOnConflict: options.ifMatch === undefined }, async (q, lock) => {
      decideOnType(op, 'update');
      if (!isFhirId(id))
        throw new WardError('WARD_INVALID_REQUEST', { details: [{ diagnostics: 'The id in the URL is not a valid FHIR id' }] });
      const resource = checkBody(body, resourceType);
      if (resource.id !== id) {
        throw new WardError('WARD_ID_MISMATCH', {
          details: [{ expression: `${resourceType}.id`, diagnostics: 'Resource.id must be present and equal the id in the URL' }],
        });
      }
      const current = await readCurrent(q, resourceType, id, lock);
      return prepareVersion(this.#prep, q, op, resource, 'update', current, 'PUT', options.ifMatch);
    });
  }

  /**
   * Updates by id of distinct resources inside a transaction Bundle, decided and audited one by
   * one like `update`, committed together (batch-update.ts); `at(k)` names the one being worked on.
   */
  updateMany(principal: Principal, ctx: RequestContext, updates: readonly BatchUpdate[], at: (k: number) => void): Promise<WriteResult[]> {
    return updateBatch({ run: this.#run, prep: this.#prep, op: (...args) => this.#op(...args) }, principal, ctx, updates, at);
  }

  /** Conditional update: no match creates, one match updates, several is 412. */
  async conditionalUpdate(
    principal: Principal,
    ctx: RequestContext,
    resourceType: string,
    criteria: ConditionalCriteria,
    body: unknown,
    options: { assignedId?: string } = {},
  ): Promise<WriteResult> {
    const op = this.#op(principal, ctx, 'update', resourceType);
    return this.#write(op, { transactional: true }, async (tx) => {
      decideOnType(op, 'update');
      const resource = checkBody(body, resourceType);
      await this.#lockCriteria(tx, resourceType, criteria);
      const matches = await this.#visibleMatches(tx, op, resourceType, criteria, 2);
      if (matches.length > 1) throw new WardError('WARD_CONDITION_MULTIPLE');
      const match = matches[0];
      if (!match) {
        if (resource.id !== undefined && !isFhirId(resource.id)) throw new WardError('WARD_ID_MISMATCH');
        // An id in the body is the client's choice: decided as update-as-create, like PUT by id.
        const clientChosen = resource.id !== undefined;
        resource.id ??= options.assignedId ?? this.#deps.newId();
        const existing = await readCurrent(tx, resourceType, resource.id, true);
        return prepareVersion(this.#prep, tx, op, resource, existing || clientChosen ? 'update' : 'create', existing, 'PUT');
      }
      if (resource.id !== undefined && resource.id !== match.row.id) {
        throw new WardError('WARD_ID_MISMATCH', {
          details: [{ expression: `${resourceType}.id`, diagnostics: 'Resource.id does not match the resource the condition selected' }],
        });
      }
      resource.id = match.row.id;
      const current = await readCurrent(tx, resourceType, match.row.id, true);
      return prepareVersion(this.#prep, tx, op, resource, 'update', current, 'PUT');
    });
  }

  /** JSON Patch (or any pure transformation) of the current version; a concurrent change is retried or refused, never lost. */
  async patch(
    principal: Principal,
    ctx: RequestContext,
    resourceType: string,
    id: string,
    apply: (current: FhirResource) => unknown,
    options: { ifMatch?: number } = {},
  ): Promise<WriteResult> {
    const op = this.#op(principal, ctx, 'patch', resourceType, id);
    return this.#write(op, { transactional: false, retryOnConflict: options.ifMatch === undefined }, async (q, lock) => {
      decideOnType(op, 'patch');
      const row = isFhirId(id) ? await readCurrent(q, resourceType, id, lock) : undefined;
      const visible = await this.#decideOnRow(q, op, 'patch', row);
      if (visible.deleted) throw new WardError('WARD_GONE');
      if (options.ifMatch !== undefined && options.ifMatch !== visible.versionId) throw new WardError('WARD_VERSION_CONFLICT');
      const patched = checkBody(apply(this.#rows.open(visible).resource), resourceType);
      if (patched.id !== id)
        throw new WardError('WARD_INVALID_PATCH', {
          details: [{ expression: `${resourceType}.id`, diagnostics: 'A patch may not change the resource id' }],
        });
      return prepareVersion(this.#prep, q, op, patched, 'patch', visible, 'PATCH');
    });
  }

  async delete(
    principal: Principal,
    ctx: RequestContext,
    resourceType: string,
    id: string,
    options: { ifMatch?: number } = {},
  ): Promise<DeleteResult> {
    const op = this.#op(principal, ctx, 'delete', resourceType, id);
    return this.#run.write(
      op,
      { transactional: false, retryOnConflict: options.ifMatch === undefined },
      async (q, lock) => {
        decideOnType(op, 'delete');
        const row = isFhirId(id) ? await readCurrent(q, resourceType, id, lock) : undefined;
        const visible = await this.#decideOnRow(q, op, 'delete', row);
        return prepareTombstone(this.#deps.now, op, visible, options.ifMatch);
      },
      (r) => (r.outcome === 'deleted' ? 200 : 204),
    );
  }

  /** Conditional delete of exactly one match (several is 412; none is a no-op). */
  async conditionalDelete(
    principal: Principal,
    ctx: RequestContext,
    resourceType: string,
    criteria: ConditionalCriteria,
  ): Promise<DeleteResult> {
    const op = this.#op(principal, ctx, 'delete', resourceType);
    return this.#run.write(
      op,
      { transactional: true },
      async (tx) => {
        decideOnType(op, 'delete');
        await this.#lockCriteria(tx, resourceType, criteria);
        const matches = await this.#visibleMatches(tx, op, resourceType, criteria, 2);
        if (matches.length > 1) throw new WardError('WARD_CONDITION_MULTIPLE');
        if (!matches[0]) return { outcome: 'not-found' as const };
        op.resourceId = matches[0].row.id;
        const row = await readCurrent(tx, resourceType, matches[0].row.id, true);
        return prepareTombstone(this.#deps.now, op, await this.#decideOnRow(tx, op, 'delete', row));
      },
      (r) => (r.outcome === 'deleted' ? 200 : 204),
    );
  }

  /** Instance, type or system history, newest first, each version decided on its own. */
  async history(
    principal: Principal,
    ctx: RequestContext,
    query: { resourceType?: string; id?: string; count: number; beforeSeq?: number; since?: Date },
  ): Promise<HistoryPage> {
    const level: PolicyAction = query.id ? 'history-instance' : query.resourceType ? 'history-type' : 'history-system';
    const op = this.#op(principal, ctx, 'history', query.resourceType, query.id);
    return this.#run.read(op, async () => {
      decideOnType(op, level);
      if (query.id !== undefined && !isFhirId(query.id)) throw new WardError('WARD_NOT_FOUND');
      const rows = await readHistory(this.#deps.db, { ...query, limit: query.count + 1 });
      const page = rows.slice(0, query.count);
      const entries: HistoryEntry[] = [];
      const patients = new Set<string>();
      const facts = await this.#rows.facts(this.#deps.db, principal, page.flatMap(patientsOfRow));
      for (const row of page) {
        const decision = this.#rows.permits(principal, level, row, facts);
        if (decision.effect !== 'permit') continue;
        markBreakGlass(op, decision);
        for (const p of row.patients) patients.add(p);
        entries.push({
          resourceType: row.resourceType,
          id: row.id,
          versionId: row.versionId,
          lastUpdated: row.lastUpdated,
          method: row.method,
          seq: row.seq,
          ...(row.deleted ? {} : { resource: this.#rows.reveal(op, row, decision).resource }),
        });
      }
      op.returned = entries.map((e) => `${e.resourceType}/${e.id}/_history/${e.versionId}`);
      if (query.id && entries.length > 0) op.resourceId = query.id;
      op.patients = [...patients];
      const last = page[page.length - 1];
      return { entries, ...(rows.length > query.count && last ? { nextCursor: last.seq } : {}) };
    });
  }

  /**
   * The id of the one visible resource a condition selects, or undefined when none does (412 for
   * several): conditional references and conditional targets inside a Bundle. Audited as a search
   * (the condition with identifying values redacted, and the id returned). Inside a transaction the
   * condition's locks are held until it commits, so a later conditional write sees the same answer.
   */
  async matchCondition(
    principal: Principal,
    ctx: RequestContext,
    resourceType: string,
    condition: ConditionalCriteria,
  ): Promise<string | undefined> {
    const op = this.#op(principal, ctx, 'search', resourceType);
    return this.#run.read(op, async () => {
      decideOnType(op, 'search');
      if (this.#enclosed) await this.#lockCriteria(this.#deps.db, resourceType, condition);
      const matches = await this.#visibleMatches(this.#deps.db, op, resourceType, condition, 2);
      if (matches.length > 1) throw new WardError('WARD_CONDITION_MULTIPLE');
      op.returned = matches.map(({ row }) => `${row.resourceType}/${row.id}`);
      op.patients = [...new Set(matches.flatMap(({ row }) => row.patients))];
      return matches[0]?.row.id;
    });
  }

  /**
   * Runs `fn` with a vault bound to ONE database transaction (a transaction Bundle, R4
   * §3.1.0.11.2). Every operation of the scoped vault decides, audits and writes inside it, and a
   * 'transaction' entry closes it: all of it commits, or none of it — data, search rows and the
   * audit entries of writes that did not happen alike. The failed attempt is then audited here,
   * once, naming the entry that failed (`progress.entry`, set by `fn`) and its code.
   */
  async transaction<T>(
    principal: Principal,
    ctx: RequestContext,
    fn: (scoped: Vault, progress: { entry?: number }) => Promise<T>,
    summary: (result: T) => Record<string, string>,
  ): Promise<T> {
    if (this.#enclosed) throw new TypeError('transactions do not nest');
    const op = this.#op(principal, ctx, 'transaction');
    const progress: { entry?: number } = {};
    try {
      return await this.#deps.db.transaction(async (tx) => {
        const audit = this.#deps.audit;
        const sink = { record: (e: AuditEntry) => audit.recordIn(tx, e), recordIn: audit.recordIn.bind(audit) };
        const scoped = new Vault({ ...this.#deps, db: enclosedDatabase(this.#deps.db.engine, tx), audit: sink }, { enclosed: true });
        const result = await fn(scoped, progress);
        op.detail = summary(result);
        try {
          await audit.recordIn(tx, auditEntry(op, this.#deps.now(), 200));
        } catch (e) {
          throw asWardError(e);
        }
        return result;
      });
    } catch (e) {
      op.detail = progress.entry !== undefined ? { entry: String(progress.entry) } : {};
      const { status, code } = statusOf(e);
      await this.#run.append(op, status, code);
      throw e;
    }
  }

  /** One batch of `ward reindex`; see reindexBatch. */
  reindex(
    principal: Principal,
    ctx: RequestContext,
    options: { resourceType?: string; after?: ReindexCursor; limit: number },
  ): Promise<ReindexBatch> {
    return reindexBatch(
      {
        ...this.#deps,
        run: this.#run,
        op: (...args) => this.#op(...args),
        permits: (p, a, row, facts) => this.#rows.permits(p, a, row, facts),
        facts: (q, p, rows) => this.#rows.facts(q, p, rows.flatMap(patientsOfRow)),
        open: (row) => this.#rows.open(row),
      },
      principal,
      ctx,
      options,
    );
  }

  /** FHIR search; see SearchOperations. */
  search(
    principal: Principal,
    ctx: RequestContext,
    resourceType: string,
    request: SearchRequest,
    options: { pageSize: number; compartment?: string },
  ): Promise<SearchPage> {
    return this.#search.search(principal, ctx, resourceType, request, options);
  }

  /** `Patient/{id}/$everything`, a page at a time; see EverythingOperations. */
  everything(
    principal: Principal,
    ctx: RequestContext,
    patientId: string,
    request: EverythingRequest,
    options: { pageSize: number },
  ): Promise<EverythingPage> {
    return this.#everything.everything(principal, ctx, patientId, request, options);
  }

  /**
   * Why the policy would permit or deny `subject` an action on a stored resource, decided on the
   * same facts and labels a real request would load — returned as rules, never as data (issue 6
   * §6). Privacy officers only: the auditor role also reads the log, but explaining a decision
   * reveals what a patient's consents and relationships say. Audited like a read of the target.
   */
  async explainAccess(
    officer: Principal,
    ctx: RequestContext,
    request: { subject: Principal; action: PolicyAction; resourceType: string; id: string },
  ): Promise<Explanation> {
    const op = this.#op(officer, ctx, 'policy-explain', request.resourceType, request.id);
    op.detail = { principal: request.subject.id, roles: request.subject.roles.join(' '), action: request.action };
    return this.#run.read(op, async () => {
      op.decision = privacyOfficerDecision(officer, 'explain decisions');
      if (op.decision.effect !== 'permit') throw new WardError('WARD_POLICY_DENIED');
      if (op.unknownType) throw new WardError('WARD_UNKNOWN_TYPE');
      const row = isFhirId(request.id) ? await readCurrent(this.#deps.db, request.resourceType, request.id) : undefined;
      if (!row) throw new WardError('WARD_NOT_FOUND');
      op.resourceId = row.id;
      op.patients = row.patients;
      const facts = await this.#rows.facts(this.#deps.db, request.subject, patientsOfRow(row));
      const explanation = explain(
        request.subject,
        request.action,
        targetOf(row, row.deleted ? 'tombstone' : this.#rows.open(row).resource),
        facts,
      );
      op.detail = { ...op.detail, effect: explanation.decision.effect };
      return explanation;
    });
  }

  /**
   * The audit entry for a request that failed before reaching a vault operation (no credentials,
   * malformed body, unknown route), so that every request has one (invariant 2).
   */
  async recordRequest(
    principal: Principal | null,
    ctx: RequestContext,
    outcome: { status: number; code: string; resourceType?: string; resourceId?: string },
  ): Promise<void> {
    const op = this.#op(principal, ctx, 'request', outcome.resourceType, outcome.resourceId);
    await this.#run.append(op, outcome.status, outcome.code);
  }

  /** Audits an operator or administrative action (token minted, key created) before it takes effect outside. */
  async recordAdministrative(
    principal: Principal,
    ctx: RequestContext,
    action: AdministrativeAction,
    outcome: { status: number; code?: string; detail: Record<string, string> },
  ): Promise<void> {
    const op = this.#op(principal, ctx, action);
    op.detail = outcome.detail;
    await this.#run.append(op, outcome.status, outcome.code);
  }

  /**
   * An operator action's entry inside the caller's transaction, so that the entry and the change
   * it records (an archived partition dropped by the owner) commit together or not at all.
   */
  async recordAdministrativeIn(
    q: Queryable,
    principal: Principal,
    ctx: RequestContext,
    action: AdministrativeAction,
    outcome: { status: number; detail: Record<string, string> },
  ): Promise<void> {
    const op = this.#op(principal, ctx, action);
    op.detail = outcome.detail;
    await this.#deps.audit.recordIn(q, auditEntry(op, this.#deps.now(), outcome.status));
  }

  // ── steps ────────────────────────────────────────────────────────────────────────────────

  #op(
    principal: Principal | null,
    ctx: RequestContext,
    action: OperationRecord['action'],
    resourceType?: string,
    id?: string,
  ): OperationRecord {
    // Path values are client input: a type is recorded only if it is one, and an id only as a
    // keyed hash until a stored row confirms it (it could be an MRN, or hold bytes a column refuses).
    const known = resourceType !== undefined && isResourceType(resourceType);
    return {
      principal,
      ctx,
      action,
      ...(known ? { resourceType } : {}),
      ...(resourceType !== undefined && !known ? { unknownType: true } : {}),
      ...(id ? { resourceId: this.#auditId(id) } : {}),
    };
  }

  /** How an id that no stored row has confirmed appears in the audit log: HMAC under the blind-index key. */
  #auditId(id: string): string {
    return `hmac:${this.#deps.keyring.blindIndexer.hash('audit-id', id).toString('hex').slice(0, 32)}`;
  }

  /**
   * Decides on a stored row with the facts loaded for its patients. A refusal that depends on
   * the row answers 404, exactly like a missing row: no existence oracle.
   */
  async #decideOnRow(q: Queryable, op: OperationRecord, action: PolicyAction, row: StoredVersion | undefined): Promise<StoredVersion> {
    if (!row) throw new WardError('WARD_NOT_FOUND');
    op.resourceId = row.id;
    op.patients = row.patients;
    op.versionId = row.versionId;
    const principal = op.principal as Principal;
    const decision = this.#rows.permits(principal, action, row, await this.#rows.facts(q, principal, patientsOfRow(row)));
    op.decision = decision;
    if (decision.effect !== 'permit') throw new WardError('WARD_NOT_FOUND');
    return row;
  }

  /** The visible current resources a condition selects (see visibleMatches), at most `limit`; recorded in the entry. */
  async #visibleMatches(
    q: Queryable,
    op: OperationRecord,
    resourceType: string,
    condition: ConditionalCriteria,
    limit: number,
  ): Promise<{ row: StoredVersion; decision: Decision }[]> {
    op.detail = { ...op.detail, condition: condition.auditQuery };
    return visibleMatches(this.#matchDeps, q, op.principal as Principal, resourceType, condition.criteria, limit);
  }

  #lockCriteria(tx: Queryable, resourceType: string, condition: ConditionalCriteria): Promise<void> {
    return lockCondition(this.#deps.keyring.blindIndexer, tx, resourceType, condition);
  }
}

/** The transaction as a Database for a scoped vault: its own "transactions" run inline, and it cannot be closed. */
function enclosedDatabase(engine: Engine, tx: Queryable): Database {
  return {
    engine,
    query: (sql, params, name) => tx.query(sql, params, name),
    transaction: (fn) => fn(tx),
    exec: () => Promise.reject(new TypeError('no DDL inside a transaction Bundle')),
    close: () => Promise.reject(new TypeError('a transaction scope is closed by its owner')),
  };
}
