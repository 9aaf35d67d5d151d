import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CpuWindow } from './cpu.js';
import type { LoadResult } from './load-generator.js';
import type { ProfileSummary } from './profile.js';

export interface ScenarioResult {
  readonly name: string;
  readonly description: string;
  readonly load: LoadResult;
  readonly cpu: CpuWindow;
  /** The bare-baseline group this one is compared with, and Ward's fraction of its mean req/s. */
  readonly baseline?: string;
  /** The group of a bare scenario measured more than once (bare-read, bare-insert). */
  readonly group?: string;
  /** Ward only: audit entries written in the window and the commits that carried them. */
  readonly audit?: { entries: number; commits: number; perCommit: number };
  ratio?: number;
  profile?: ProfileSummary;
  profileFile?: string;
}

export interface Goal {
  readonly scenario: string;
  readonly baseline: string;
  readonly atLeast: number;
  readonly ratio: number | null;
  readonly met: boolean;
}

/** The issue's targets: an audited, encrypted read at half a bare read; a create at 40 % of a bare insert. */
const GOALS: readonly { scenario: string; baseline: string; atLeast: number }[] = [
  { scenario: 'ward-read', baseline: 'bare-read', atLeast: 0.5 },
  { scenario: 'ward-create', baseline: 'bare-insert', atLeast: 0.4 },
];

/** Mean req/s of each bare group (a bare scenario is measured at the start and at the end). */
export function baselineMeans(results: readonly ScenarioResult[]): Map<string, number> {
  const sums = new Map<string, { total: number; n: number }>();
  for (const r of results) {
    if (!r.group) continue;
    const s = sums.get(r.group) ?? { total: 0, n: 0 };
    sums.set(r.group, { total: s.total + r.load.okPerSecond, n: s.n + 1 });
  }
  return new Map([...sums].map(([g, s]) => [g, s.total / s.n]));
}

export interface Drift {
  readonly group: string;
  readonly first: number;
  readonly last: number;
  /** (last − first) / mean. */
  readonly drift: number;
}

export function baselineDrift(results: readonly ScenarioResult[]): Drift[] {
  const out: Drift[] = [];
  for (const [group, mean] of baselineMeans(results)) {
    const runs = results.filter((r) => r.group === group);
    const first = runs[0];
    const last = runs[runs.length - 1];
    if (!first || !last || runs.length < 2 || mean <= 0) continue;
    out.push({
      group,
      first: first.load.okPerSecond,
      last: last.load.okPerSecond,
      drift: (last.load.okPerSecond - first.load.okPerSecond) / mean,
    });
  }
  return out;
}

export function driftText(drift: readonly Drift[]): string {
  return drift
    .map(
      (d) =>
        `baseline ${d.group}: ${f1(d.first)} req/s at the start, ${f1(d.last)} at the end (${d.drift >= 0 ? '+' : ''}${(d.drift * 100).toFixed(1)} %)`,
    )
    .join('\n');
}

export function computeRatios(results: ScenarioResult[]): Goal[] {
  const byName = new Map(results.map((r) => [r.name, r]));
  const means = baselineMeans(results);
  for (const r of results) {
    const base = r.baseline ? means.get(r.baseline) : undefined;
    if (base !== undefined && base > 0) r.ratio = r.load.okPerSecond / base;
  }
  return GOALS.map((g) => {
    const ratio = byName.get(g.scenario)?.ratio ?? null;
    return { ...g, ratio, met: ratio !== null && ratio >= g.atLeast };
  });
}

const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);
/** autocannon 9 records latency in whole milliseconds. */
const ms = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));
const pct = (n: number | undefined) => (n === undefined ? '—' : `${(n * 100).toFixed(1)} %`);

function pad(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')).join('\n');
}

export function figuresTable(results: readonly ScenarioResult[]): string {
  const rows = [['scenario', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'non-2xx', 'vs baseline']];
  for (const r of results) {
    rows.push([
      r.name,
      f1(r.load.okPerSecond),
      ms(r.load.latencyMs.p50),
      ms(r.load.latencyMs.p99),
      String(r.load.errors),
      String(r.load.non2xx),
      r.baseline ? `${pct(r.ratio)} of ${r.baseline} (mean)` : '—',
    ]);
  }
  return pad(rows);
}

/**
 * CPU used during the window by processes that are not part of the benchmark (other programs,
 * other databases' backends), in cores; null where /proc is unavailable.
 */
export function outsideCores(r: ScenarioResult): number | null {
  const c = r.cpu;
  if (c.machineBusyMs === null || c.postgresBenchCpuMs === null || c.postgresBackgroundCpuMs === null) return null;
  const ours = c.serverCpuMs + r.load.clientCpuMs + c.postgresBenchCpuMs + c.postgresBackgroundCpuMs;
  return Math.max(0, c.machineBusyMs - ours) / c.wallMs;
}

const msPer = (ms: number | null, n: number) => (ms === null ? 'n/a' : f2(ms / n));

export function cpuTable(results: readonly ScenarioResult[]): string {
  const rows = [
    [
      'scenario',
      'server ms/req',
      'pg backends ms/req',
      'pg background ms/req',
      'client ms/req',
      'server loop busy',
      'machine busy',
      'outside bench',
      'entries/commit',
    ],
  ];
  for (const r of results) {
    const n = Math.max(1, r.load.total);
    const outside = outsideCores(r);
    rows.push([
      r.name,
      msPer(r.cpu.serverCpuMs, n),
      msPer(r.cpu.postgresBenchCpuMs, n),
      msPer(r.cpu.postgresBackgroundCpuMs, n),
      msPer(r.load.clientCpuMs, n),
      pct(r.cpu.eventLoopUtilization),
      r.cpu.machineBusyMs === null ? 'n/a' : `${f2(r.cpu.machineBusyMs / r.cpu.wallMs)} of ${r.cpu.cores} cores`,
      outside === null ? 'n/a' : `${f2(outside)} cores`,
      r.audit ? f1(r.audit.perCommit) : '—',
    ]);
  }
  return pad(rows);
}

export function markdownTable(results: readonly ScenarioResult[]): string {
  const lines = ['| scenario | req/s | p50 ms | p99 ms | errors | non-2xx | vs baseline |', '|---|--:|--:|--:|--:|--:|---|'];
  for (const r of results) {
    lines.push(
      `| ${r.name} | ${f1(r.load.okPerSecond)} | ${ms(r.load.latencyMs.p50)} | ${ms(r.load.latencyMs.p99)} | ${r.load.errors} | ${r.load.non2xx} | ${r.baseline ? `${pct(r.ratio)} of ${r.baseline} (mean)` : '—'} |`,
    );
  }
  return lines.join('\n');
}

export function goalsText(goals: readonly Goal[]): string {
  return goals
    .map(
      (g) =>
        `${g.met ? 'MET    ' : 'NOT MET'}  ${g.scenario} at ${pct(g.ratio ?? undefined)} of ${g.baseline} (goal ≥ ${(g.atLeast * 100).toFixed(0)} %)`,
    )
    .join('\n');
}

export function profileText(r: ScenarioResult): string {
  const p = r.profile;
  if (!p) return '';
  const perReq = (share: number) => ((p.totalMs * share) / 100 / Math.max(1, r.load.total)).toFixed(3);
  const lines = [
    `profile of ${r.name} (${p.totalMs} ms sampled${r.profileFile ? `, ${r.profileFile}` : ''})`,
    '  cost breakdown (share of the server thread; ms per request):',
  ];
  for (const c of p.costs) lines.push(`    ${c.pct.toFixed(1).padStart(5)} %  ${perReq(c.pct).padStart(6)}  ${c.cost}`);
  lines.push('  self time by area:');
  for (const a of p.byArea.slice(0, 12)) lines.push(`    ${a.pct.toFixed(1).padStart(5)} %  ${a.area}`);
  lines.push('  self time by function:');
  for (const s of p.selfTop.slice(0, 12)) lines.push(`    ${s.pct.toFixed(1).padStart(5)} %  ${s.fn}`);
  lines.push('  inclusive time (Ward functions and selected library entry points):');
  for (const s of p.inclusiveTop.slice(0, 20)) lines.push(`    ${s.pct.toFixed(1).padStart(5)} %  ${s.fn}`);
  return lines.join('\n');
}

/** Writes the run as JSON to bench/results/<timestamp>.json and returns the path. */
export function writeResults(dir: string, stamp: string, data: unknown): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${stamp}.json`);
  writeFileSync(path, `${JSON.stringify(data, null, 2)}\n`);
  return path;
}

/** Server plus database CPU per request (the client's is not the service's cost). */
function serviceMsPerRequest(r: ScenarioResult): number | null {
  const c = r.cpu;
  if (c.postgresBenchCpuMs === null || c.postgresBackgroundCpuMs === null) return null;
  return (c.serverCpuMs + c.postgresBenchCpuMs + c.postgresBackgroundCpuMs) / Math.max(1, r.load.total);
}

export interface AuditShare {
  /** CPU per read that the durable audit append adds (bare-read-audited − bare-read). */
  readonly appendMs: number;
  /** Ward's whole read, per request. */
  readonly wardReadMs: number;
  /** What the append adds to Ward's read, as a fraction of the read without it. */
  readonly overhead: number;
}

/**
 * Issue 7's "durable audit must not cost more than 15 %": Ward has no way to read without
 * auditing, so the append is measured on the bare baseline (the same read with and without
 * Ward's grouped audit writer) and set against Ward's whole read, in CPU per request.
 */
export function auditShare(results: readonly ScenarioResult[]): AuditShare | null {
  const bare = results.filter((r) => r.group === 'bare-read').map(serviceMsPerRequest);
  const audited = results.find((r) => r.name === 'bare-read-audited');
  const ward = results.find((r) => r.name === 'ward-read');
  if (!audited || !ward || bare.length === 0 || bare.some((b) => b === null)) return null;
  const bareMs = (bare as number[]).reduce((a, b) => a + b, 0) / bare.length;
  const auditedMs = serviceMsPerRequest(audited);
  const wardReadMs = serviceMsPerRequest(ward);
  if (auditedMs === null || wardReadMs === null) return null;
  const appendMs = auditedMs - bareMs;
  return { appendMs, wardReadMs, overhead: appendMs / Math.max(1e-9, wardReadMs - appendMs) };
}

export function auditShareText(share: AuditShare): string {
  return `${share.overhead <= 0.15 ? 'MET    ' : 'NOT MET'}  audit append adds ${f2(share.appendMs * 1000)} µs of server and database CPU per read; Ward's read costs ${f2(share.wardReadMs * 1000)} µs, so the append is ${pct(share.overhead)} on top of the read without it (goal ≤ 15 %)`;
}
