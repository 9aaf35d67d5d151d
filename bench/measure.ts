/**
 * Running one scenario: the load generator in its child process, and the measured window around
 * it (CPU accounting, audit entries, optional profile).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CpuWindow, startCpuWindow } from './cpu.js';
import type { BenchDatabase } from './database.js';
import type { ChildMessage, LoadPlan, LoadResult, LoadSpec, ParentMessage } from './load-generator.js';
import { Profiler, type ProfileSummary, summarise } from './profile.js';
import type { ScenarioResult } from './report.js';

export interface MeasureOptions {
  readonly connections: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  /** Where profiles go, named `<stamp>-<scenario>.cpuprofile`. */
  readonly resultsDir: string;
  readonly stamp: string;
  readonly log: (line: string) => void;
}

export class LoadGenerator {
  readonly #child: ChildProcess;
  #pending: { onMessage: (m: ChildMessage) => void; reject: (e: Error) => void } | null = null;
  #exited = false;

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.on('message', (m: ChildMessage) => this.#pending?.onMessage(m));
    child.on('exit', (code, signal) => {
      this.#exited = true;
      this.#pending?.reject(new Error(`load generator exited (code ${code}, signal ${signal})`));
    });
  }

  static async start(): Promise<LoadGenerator> {
    const child = fork(fileURLToPath(new URL('./load-generator.ts', import.meta.url)), [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const gen = new LoadGenerator(child);
    await new Promise<void>((resolve, reject) => {
      gen.#pending = { onMessage: (m) => m.type === 'ready' && resolve(), reject };
    });
    gen.#pending = null;
    return gen;
  }

  /** Runs one spec; `onStart` fires when the measured window opens (after warm-up), `onEnd` when it closes. */
  async run<S>(spec: LoadSpec, onStart: () => Promise<S>, onEnd: (s: S) => Promise<void>): Promise<LoadResult> {
    return new Promise<LoadResult>((resolve, reject) => {
      let started: Promise<S> | undefined;
      this.#pending = {
        reject,
        onMessage: (m) => {
          if (m.type === 'started') started = onStart();
          else if (m.type === 'error') reject(new Error(`load generator: ${m.message}`));
          else if (m.type === 'result') {
            const result = m.result;
            (started ?? onStart()).then(onEnd).then(() => resolve(result), reject);
          }
        },
      };
      this.#child.send({ type: 'run', spec } satisfies ParentMessage);
    }).finally(() => {
      this.#pending = null;
    });
  }

  stop(): void {
    if (this.#exited) return;
    if (this.#child.connected) this.#child.send({ type: 'exit' } satisfies ParentMessage);
    else this.#child.kill();
  }
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly url: string;
  readonly plan: LoadPlan;
  readonly headers: Record<string, string>;
  readonly caPem?: string;
  readonly baseline?: string;
  /** Bare scenarios measured twice share a group; Ward's ratios use the group's mean. */
  readonly group?: string;
  readonly profile?: boolean;
  /** Ward scenarios: count the audit entries and commits of the measured window. */
  readonly audited?: boolean;
}

export async function measure(gen: LoadGenerator, db: BenchDatabase, s: Scenario, o: MeasureOptions): Promise<ScenarioResult> {
  await db.checkpoint();
  o.log(`${s.name}: ${s.description} — ${o.warmupSeconds}s warm-up, ${o.seconds}s measured`);
  const profiler = s.profile ? new Profiler() : null;
  let cpu: CpuWindow | undefined;
  let profile: ProfileSummary | undefined;
  let profileFile: string | undefined;
  let auditHead = 0;
  const load = await gen.run(
    {
      name: s.name,
      url: s.url,
      connections: o.connections,
      seconds: o.seconds,
      warmupSeconds: o.warmupSeconds,
      headers: s.headers,
      ...(s.caPem ? { caPem: s.caPem } : {}),
      plan: s.plan,
    },
    async () => {
      if (s.audited) auditHead = await db.auditHead();
      await profiler?.start();
      return startCpuWindow(() => db.backends());
    },
    async (end) => {
      cpu = await end();
      if (profiler) {
        const raw = await profiler.stop();
        profiler.close();
        profileFile = join(o.resultsDir, `${o.stamp}-${s.name}.cpuprofile`);
        writeFileSync(profileFile, JSON.stringify(raw));
        profile = summarise(raw);
      }
    },
  );
  if (!cpu) throw new Error('measurement window never closed');
  // Let requests still in flight when the client stopped finish before anything else happens.
  await new Promise((r) => setTimeout(r, 1000));
  const audit = s.audited ? await db.auditSince(auditHead) : undefined;
  const bad = load.errors + load.non2xx;
  o.log(
    `${s.name}: ${load.okPerSecond.toFixed(1)} req/s, p50 ${load.latencyMs.p50} ms, p99 ${load.latencyMs.p99} ms` +
      (bad ? ` — ${load.errors} ERRORS, ${load.non2xx} NON-2XX (${JSON.stringify(load.statusCodes)})` : ''),
  );
  if (audit)
    o.log(
      `${s.name}: ${audit.entries} audit entries in ${audit.commits} commits (${(audit.entries / Math.max(1, audit.commits)).toFixed(1)} per commit)`,
    );
  return {
    name: s.name,
    description: s.description,
    load,
    cpu,
    ...(s.baseline ? { baseline: s.baseline } : {}),
    ...(s.group ? { group: s.group } : {}),
    ...(audit ? { audit: { ...audit, perCommit: audit.entries / Math.max(1, audit.commits) } } : {}),
    ...(profile ? { profile } : {}),
    ...(profileFile ? { profileFile } : {}),
  };
}
