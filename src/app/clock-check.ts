import { type Queryable, readDatabaseTimeMs } from '../store/index.js';

/**
 * Audit times must come from a synchronised clock (45 CFR 170.210(g)). Ward compares its clock
 * with the database server's — a separate host in any real deployment, kept on NTP by its
 * operator — halfway through a round trip, so a drifting or mis-set application host shows up
 * at start and in `/healthz`.
 */
export interface ClockStatus {
  readonly offsetMs: number;
  readonly roundTripMs: number;
  readonly limitMs: number;
  readonly synchronized: boolean;
  readonly reference: 'database server';
  readonly checkedAt: string;
}

export async function checkClock(db: Queryable, now: () => Date, limitMs: number): Promise<ClockStatus> {
  const sent = now().getTime();
  const reference = await readDatabaseTimeMs(db);
  const received = now().getTime();
  const offsetMs = Math.round((sent + received) / 2 - reference);
  return {
    offsetMs,
    roundTripMs: received - sent,
    limitMs,
    synchronized: Math.abs(offsetMs) <= limitMs,
    reference: 'database server',
    checkedAt: new Date(received).toISOString(),
  };
}
