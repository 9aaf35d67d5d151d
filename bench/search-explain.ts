/**
 * The query plans behind one request of each search scenario: the SQL Ward sends while answering
 * it alone is captured (by wrapping pg's Client#query in this process for that request only — Ward
 * runs in-process and has no hook for it), then run again under EXPLAIN (ANALYZE, BUFFERS) on the
 * bench database, so that a sequential scan or a slow join shows at the size measured.
 */
import pg from 'pg';

export interface ExplainedStatement {
  readonly sql: string;
  readonly executionMs: number;
  /** Planning time, after a first plain EXPLAIN has warmed this session's catalog caches (as Ward's pooled sessions are). */
  readonly planningMs: number;
  /** Rows the statement returned, and the most rows any node of its plan produced (per loop, times loops). */
  readonly rows: number;
  readonly mostRowsInANode: number;
  /** Tables of more than LARGE_TABLE rows read by a sequential scan. */
  readonly seqScans: readonly string[];
  readonly plan: string;
}

/** A sequential scan of a table this small is the right plan, and not worth a mention. */
const LARGE_TABLE = 10_000;

/** Whether a statement is worth a look: slow, reading far more rows than it returns, or scanning a large table. */
export function suspicious(s: ExplainedStatement): boolean {
  return s.executionMs > 1 || s.mostRowsInANode > 100 * Math.max(1, s.rows) || s.seqScans.length > 0;
}

interface Captured {
  readonly text: string;
  readonly values: readonly unknown[];
}

type QueryFn = (this: pg.Client, ...args: unknown[]) => unknown;

/** Runs `request` with pg's queries recorded; only reads of Ward's tables are kept (no audit insert, no BEGIN). */
export async function captureQueries(request: () => Promise<void>): Promise<Captured[]> {
  const proto = pg.Client.prototype as unknown as { query: QueryFn };
  const original = proto.query;
  const captured: Captured[] = [];
  proto.query = function (this: pg.Client, ...args: unknown[]) {
    const [first, second] = args;
    const config = typeof first === 'object' && first !== null ? (first as { text?: unknown; values?: unknown }) : undefined;
    const text = typeof first === 'string' ? first : typeof config?.text === 'string' ? config.text : undefined;
    const values = Array.isArray(second) ? second : Array.isArray(config?.values) ? config.values : [];
    if (text && /^\s*(SELECT|WITH)\b/i.test(text) && /\bward_/.test(text)) captured.push({ text, values });
    return original.apply(this, args);
  };
  try {
    await request();
  } finally {
    proto.query = original;
  }
  return captured;
}

/** EXPLAIN (ANALYZE, BUFFERS) of each captured statement, with its own parameters, on `databaseUrl`. */
export async function explain(databaseUrl: string, statements: readonly Captured[]): Promise<ExplainedStatement[]> {
  const c = new pg.Client({ connectionString: databaseUrl, application_name: 'ward-bench-explain' });
  await c.connect();
  try {
    const out: ExplainedStatement[] = [];
    for (const s of statements) {
      await c.query(`EXPLAIN ${s.text}`, s.values as unknown[]);
      const { rows } = await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${s.text}`, s.values as unknown[]);
      const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
      const nodeRows = [...plan.matchAll(/actual time=[\d.]+\.\.[\d.]+ rows=(\d+) loops=(\d+)/g)].map((m) => Number(m[1]) * Number(m[2]));
      const scanned = [...new Set([...plan.matchAll(/Seq Scan on (\w+)/g)].map((m) => m[1] as string))];
      const large: string[] = [];
      for (const table of scanned) {
        const size = await c.query<{ n: number }>('SELECT reltuples::float8 AS n FROM pg_class WHERE relname = $1', [table]);
        if ((size.rows[0]?.n ?? 0) > LARGE_TABLE) large.push(table);
      }
      out.push({
        sql: s.text.replace(/\s+/g, ' ').trim(),
        executionMs: Number(/Execution Time: ([\d.]+) ms/.exec(plan)?.[1] ?? Number.NaN),
        planningMs: Number(/Planning Time: ([\d.]+) ms/.exec(plan)?.[1] ?? Number.NaN),
        rows: nodeRows[0] ?? 0,
        mostRowsInANode: Math.max(0, ...nodeRows),
        seqScans: large,
        plan,
      });
    }
    return out;
  } finally {
    await c.end();
  }
}

/** A plain-text rendering of the plans of each scenario, for the results file. */
export function explainText(byScenario: Readonly<Record<string, readonly ExplainedStatement[]>>): string {
  return Object.entries(byScenario)
    .map(([name, statements]) =>
      [
        `=== ${name}`,
        ...statements.map(
          (s, i) =>
            `--- statement ${i + 1} (${s.executionMs.toFixed(2)} ms execution, ${s.planningMs.toFixed(2)} ms planning, ${s.rows} rows, at most ${s.mostRowsInANode} in one node)\n${s.sql}\n${s.plan}`,
        ),
      ].join('\n'),
    )
    .join('\n\n');
}
