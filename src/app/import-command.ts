import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Principal, parseScopes } from '../policy/index.js';
import type { RequestContext } from '../vault/index.js';
import type { Ward } from './ward.js';

/** `ward import` acts as its own narrow principal (invariant 7): it may create, update and search, not read. */
export function importPrincipal(): Principal {
  return {
    id: 'ward:import',
    kind: 'system',
    roles: ['system'],
    scopes: parseScopes('system/*.cus'),
    clientId: 'ward-import',
    purposeOfUse: 'HSYSADMIN',
  };
}

/** NDJSON lines per transaction: large enough to amortise a commit, small enough to redo after a kill. */
const NDJSON_CHUNK = 250;

export interface ImportEvent {
  readonly filesDone: number;
  readonly files: number;
  readonly resources: number;
  /** A file finished (or failed); its position only, since a file name can carry a patient's name. */
  readonly file?: { readonly index: number; readonly ok: boolean; readonly code?: string; readonly entry?: string };
}

export interface ImportReport {
  readonly files: number;
  readonly skipped: number;
  readonly failed: number;
  readonly resources: number;
  readonly seconds: number;
  readonly perSecond: number;
}

export interface ImportOptions {
  /** Files loaded at once; by default two on PostgreSQL (one preparing while one commits) and one on PGlite. */
  readonly concurrency?: number;
}

/** PGlite has one connection and runs transactions one after another: a second file would only wait. */
function defaultConcurrency(ward: Ward): number {
  return ward.db.engine === 'pglite' ? 1 : 2;
}

/**
 * A file's transaction may lose to another file's: a deadlock, a serialization check, or a race to
 * create the same resource (two files first writing a shared Organization; the loser's version 1
 * collides, WARD_CONFLICT). It was rolled back whole, so it may run again, and then finds the row.
 */
const TRANSIENT_ATTEMPTS = 5;
const isTransient = (e: unknown): boolean => ['40P01', '40001', 'WARD_CONFLICT'].includes(String((e as { code?: unknown })?.code));

interface ImportState {
  /** Per file (keyed by a hash of path and size, never the name): finished, or NDJSON lines committed. */
  readonly files: Record<string, { done?: true; lines?: number }>;
}

/** Files to import: those named, and the .json / .ndjson files directly inside each directory named, sorted. */
export function importFilesOf(paths: readonly string[]): string[] {
  return paths.flatMap((p) => {
    const abs = resolve(p);
    if (!statSync(abs).isDirectory()) return [abs];
    return readdirSync(abs)
      .filter((f) => /\.(json|ndjson)$/.test(f))
      .sort()
      .map((f) => join(abs, f))
      .filter((f) => statSync(f).isFile());
  });
}

/**
 * Loads FHIR Bundles (transaction, batch, collection) and NDJSON through the vault as the import
 * principal: every resource is a vault write, decided and audited. Writes preserve ids (a Bundle
 * entry keeps its resource id, or the uuid of its `urn:uuid:` fullUrl; an NDJSON line its id), so
 * running again after a kill can only write a resource again, never twice. Progress is recorded
 * per file, and per committed chunk of NDJSON lines, in `stateFile`; a re-run skips what is done.
 * Several files are loaded at once (`concurrency`), each in its own transactions, so that one
 * file's validation, indexing and sealing run while another's commit is in the database; a file
 * whose transaction lost to another's (isTransient) is run again (it was rolled back whole).
 */
export async function importFiles(
  ward: Ward,
  ctx: RequestContext,
  files: readonly string[],
  stateFile: string,
  onEvent: (e: ImportEvent) => void,
  options: ImportOptions = {},
): Promise<ImportReport> {
  const principal = importPrincipal();
  const state: ImportState = existsSync(stateFile) ? JSON.parse(readFileSync(stateFile, 'utf8')) : { files: {} };
  const save = () => {
    writeFileSync(`${stateFile}.tmp`, JSON.stringify(state), { mode: 0o600 });
    renameSync(`${stateFile}.tmp`, stateFile);
  };
  const started = process.hrtime.bigint();
  let resources = 0;
  let skipped = 0;
  let failed = 0;
  let filesDone = 0;
  const run = async (body: unknown): Promise<number> => {
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await ward.bundles.process({ principal, ctx, body });
        return ((res.body as { entry?: unknown[] }).entry ?? []).length;
      } catch (e) {
        if (attempt >= TRANSIENT_ATTEMPTS || !isTransient(e)) throw e;
      }
    }
  };
  const importOne = async (index: number, file: string): Promise<void> => {
    const key = createHash('sha256')
      .update(`${file}\u0000${statSync(file).size}`)
      .digest('hex');
    const progress = state.files[key] ?? {};
    state.files[key] = progress;
    if (progress.done) {
      skipped++;
      filesDone++;
      onEvent({ filesDone, files: files.length, resources });
      return;
    }
    try {
      if (file.endsWith('.ndjson')) {
        const lines = readFileSync(file, 'utf8').split('\n');
        for (let from = progress.lines ?? 0; from < lines.length; from += NDJSON_CHUNK) {
          const chunk = lines
            .slice(from, from + NDJSON_CHUNK)
            .flatMap((line, i) => (line.trim() ? [ndjsonEntry(line, key, from + i)] : []));
          // Awaited before adding: `resources += await …` would read the count before another file's run adds to it.
          const written = chunk.length > 0 ? await run({ resourceType: 'Bundle', type: 'transaction', entry: chunk }) : 0;
          resources += written;
          progress.lines = Math.min(from + NDJSON_CHUNK, lines.length);
          save();
          onEvent({ filesDone, files: files.length, resources });
        }
      } else {
        const written = await run(idPreserving(JSON.parse(readFileSync(file, 'utf8')), key));
        resources += written;
      }
      progress.done = true;
      save();
      filesDone++;
      onEvent({ filesDone, files: files.length, resources, file: { index, ok: true } });
    } catch (e) {
      failed++;
      filesDone++;
      const error = e as { code?: string; details?: { expression?: string }[] };
      const entry = error.details?.find((d) => d.expression?.startsWith('Bundle.entry['))?.expression;
      onEvent({
        filesDone,
        files: files.length,
        resources,
        file: { index, ok: false, code: typeof error.code === 'string' ? error.code : 'WARD_INVALID_INPUT', ...(entry ? { entry } : {}) },
      });
    }
  };
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < files.length) {
      const index = next++;
      await importOne(index, files[index] as string);
    }
  };
  const lanes = Math.max(1, Math.min(options.concurrency ?? defaultConcurrency(ward), files.length));
  await Promise.all(Array.from({ length: lanes }, lane));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const report = { files: files.length, skipped, failed, resources, seconds, perSecond: seconds > 0 ? resources / seconds : 0 };
  await ward.vault.recordAdministrative(principal, ctx, 'import', {
    status: failed > 0 ? 207 : 200,
    detail: {
      files: String(files.length),
      skipped: String(skipped),
      failed: String(failed),
      resources: String(resources),
      perSecond: report.perSecond.toFixed(0),
    },
  });
  return report;
}

const UUID_URN = /^urn:uuid:([0-9a-fA-F-]{36})$/;
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** A stable id for a resource without one: derived from the file and position, so a re-run finds the same. */
function derivedId(key: string, position: string): string {
  const h = createHash('sha256').update(`${key}\u0000${position}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * A Bundle as an id-preserving transaction (or batch): each entry with a resource becomes
 * `PUT Type/id`, keeping its fullUrl so `urn:uuid:` references still resolve to it. Other
 * entries (GET, DELETE) are not data to load and are left out.
 */
function idPreserving(bundle: unknown, key: string): unknown {
  const b = bundle as { resourceType?: unknown; type?: unknown; entry?: unknown };
  if (b?.resourceType !== 'Bundle' || !['transaction', 'batch', 'collection'].includes(String(b.type)) || !Array.isArray(b.entry)) {
    return bundle; // parseBundle refuses it with a clear code
  }
  const entry = b.entry.flatMap((raw: unknown, i: number) => {
    const e = raw as { fullUrl?: unknown; resource?: { resourceType?: unknown; id?: unknown } };
    if (!e?.resource || typeof e.resource.resourceType !== 'string') return [];
    const fromUrl = typeof e.fullUrl === 'string' ? UUID_URN.exec(e.fullUrl)?.[1] : undefined;
    const id = typeof e.resource.id === 'string' && FHIR_ID.test(e.resource.id) ? e.resource.id : (fromUrl ?? derivedId(key, String(i)));
    return [
      {
        ...(typeof e.fullUrl === 'string' ? { fullUrl: e.fullUrl } : {}),
        resource: { ...e.resource, id },
        request: { method: 'PUT', url: `${e.resource.resourceType}/${id}` },
      },
    ];
  });
  return { resourceType: 'Bundle', type: b.type === 'batch' ? 'batch' : 'transaction', entry };
}

function ndjsonEntry(line: string, key: string, lineNo: number): unknown {
  let resource: { resourceType?: unknown; id?: unknown };
  try {
    resource = JSON.parse(line);
  } catch {
    // An unreadable line fails its chunk's transaction with a clear code, not a parser message that quotes it.
    return { request: { method: 'PUT', url: `line-${lineNo + 1}-is-not-json` } };
  }
  const id = typeof resource.id === 'string' && FHIR_ID.test(resource.id) ? resource.id : derivedId(key, `line ${lineNo}`);
  return { resource: { ...resource, id }, request: { method: 'PUT', url: `${String(resource.resourceType)}/${id}` } };
}

export function importContext(): RequestContext {
  return { requestId: randomUUID(), listener: 'cli', audited: false };
}
