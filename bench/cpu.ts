import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/**
 * Where the CPU went during a measured window (Linux /proc; null elsewhere): this process (the
 * server under test and its pg pool), the PostgreSQL backends serving the bench database, the
 * other PostgreSQL processes (WAL writer, checkpointer, other databases' backends), and the whole
 * machine — so that CPU used by processes outside the benchmark shows up instead of silently
 * lowering the figures. Event-loop utilisation 1.0 means the server's JavaScript thread never waited.
 */
export interface CpuWindow {
  readonly wallMs: number;
  readonly serverCpuMs: number;
  readonly eventLoopUtilization: number;
  /** Backends connected to the bench database. */
  readonly postgresBenchCpuMs: number | null;
  /** PostgreSQL's own background processes (WAL writer, checkpointer, autovacuum…), shared. */
  readonly postgresBackgroundCpuMs: number | null;
  /** Client backends of other databases: work that is not this benchmark's. */
  readonly postgresForeignCpuMs: number | null;
  /** Busy CPU of the whole machine (all cores), from /proc/stat. */
  readonly machineBusyMs: number | null;
  readonly cores: number;
}

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** CPU ms (user + system) of every process named postgres, by pid; null when /proc is unavailable. */
function postgresCpu(): Map<number, number> | null {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return null;
  }
  const out = new Map<number, number>();
  const tick = 1000 / clockTicks();
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    const close = stat.lastIndexOf(')');
    if (stat.slice(stat.indexOf('(') + 1, close) !== 'postgres') continue;
    // After "pid (comm) ": state is field 3; utime and stime are fields 14 and 15.
    const fields = stat.slice(close + 2).split(' ');
    out.set(Number(pid), (Number(fields[11]) + Number(fields[12])) * tick);
  }
  return out;
}

/** Busy CPU ms of the machine since boot, all cores: everything but idle and iowait. */
function machineBusy(): { busyMs: number; cores: number } | null {
  try {
    const lines = readFileSync('/proc/stat', 'utf8').split('\n');
    const all = (lines[0] ?? '').trim().split(/\s+/).slice(1, 9).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = all;
    const cores = lines.filter((l) => /^cpu\d+ /.test(l)).length;
    return { busyMs: (user + nice + system + irq + softirq + steal) * (1000 / clockTicks()), cores };
  } catch {
    return null;
  }
}

export interface Backends {
  /** pids of the backends connected to the bench database. */
  readonly bench: readonly number[];
  /** pids of client backends connected to any other database. */
  readonly foreign: readonly number[];
}

/**
 * Opens a window; the returned function closes it. `backends` classifies PostgreSQL's processes
 * (from pg_stat_activity); it is asked at both ends of the window.
 */
export async function startCpuWindow(backends: () => Promise<Backends>): Promise<() => Promise<CpuWindow>> {
  const atStart = await backends();
  const pg0 = postgresCpu();
  const m0 = machineBusy();
  const cpu = process.cpuUsage();
  const elu = performance.eventLoopUtilization();
  const t0 = performance.now();
  return async () => {
    const used = process.cpuUsage(cpu);
    const eventLoopUtilization = performance.eventLoopUtilization(elu).utilization;
    const wallMs = performance.now() - t0;
    const pg1 = postgresCpu();
    const m1 = machineBusy();
    const atEnd = await backends();
    const ours = new Set([...atStart.bench, ...atEnd.bench]);
    const foreignPids = new Set([...atStart.foreign, ...atEnd.foreign]);
    let bench: number | null = null;
    let background: number | null = null;
    let foreign: number | null = null;
    if (pg0 && pg1) {
      bench = 0;
      background = 0;
      foreign = 0;
      for (const [pid, ms] of pg1) {
        const delta = ms - (pg0.get(pid) ?? 0);
        if (ours.has(pid)) bench += delta;
        else if (foreignPids.has(pid)) foreign += delta;
        else background += delta;
      }
    }
    return {
      wallMs,
      serverCpuMs: (used.user + used.system) / 1000,
      eventLoopUtilization,
      postgresBenchCpuMs: bench,
      postgresBackgroundCpuMs: background,
      postgresForeignCpuMs: foreign,
      machineBusyMs: m0 && m1 ? m1.busyMs - m0.busyMs : null,
      cores: m1?.cores ?? 0,
    };
  };
}

/** Cores kept busy by everything on the machine over `ms` (null where /proc is unavailable). */
export async function machineLoad(ms: number): Promise<number | null> {
  const a = machineBusy();
  await new Promise((r) => setTimeout(r, ms));
  const b = machineBusy();
  return a && b ? (b.busyMs - a.busyMs) / ms : null;
}
