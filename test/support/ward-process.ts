import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';

export const WARD_BIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'ward.js');

export interface WardProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  stop(): Promise<number | null>;
}

/** Starts `ward start` as its own process and waits for the URL it prints. */
export async function startWardProcess(env: Record<string, string>): Promise<WardProcess> {
  const child = spawn(process.execPath, [WARD_BIN, 'start'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString('utf8');
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString('utf8');
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ward did not start within 60 s:\n${out}`)), 60_000);
    const check = () => {
      const m = /serving FHIR R4 at (https?:\/\/\S+)\/fhir/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => reject(new Error(`ward exited with ${code}:\n${out}`)));
  });
  return {
    child,
    url,
    output: () => out,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill('SIGTERM');
      }),
  };
}

/**
 * oidc-provider's notice, printed when it loads on Node 20 (it asks for Node 22 LTS; ADR 0013 and
 * docs/operations.md say why Ward runs on 20 for now). It is the one line a command may print to
 * stderr besides its own; everything else still fails the "stderr is empty" checks.
 */
const RUNTIME_NOTICE = /^oidc-provider WARNING: Unsupported runtime\. Use Node\.js v22\.x LTS, or a later LTS release\.\n/m;

/** Runs the `ward` CLI to completion; `stderr` is what the command printed (without the runtime notice). */
export function runWard(
  args: string[],
  env: Record<string, string>,
  timeoutMs = 60_000,
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [WARD_BIN, ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: timeoutMs });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.replace(RUNTIME_NOTICE, '') };
}

export interface HttpsResult {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  readonly protocol: string | null;
}

/** An HTTPS request that trusts only Ward's development CA. */
export function httpsCall(
  url: string,
  options: { ca: string; method?: string; headers?: Record<string, string>; body?: string; maxVersion?: 'TLSv1.2' | 'TLSv1.3' },
): Promise<HttpsResult> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        headers: options.headers,
        ca: options.ca,
        ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
      },
      (res) => {
        const protocol = (res.socket as { getProtocol?: () => string | null } | null)?.getProtocol?.() ?? null;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            protocol,
          }),
        );
      },
    );
    req.on('error', reject);
    if (options.body) req.write(options.body);
    req.end();
  });
}

export function readCa(dataDir: string): string {
  return readFileSync(join(dataDir, 'tls', 'ca.pem'), 'utf8');
}
