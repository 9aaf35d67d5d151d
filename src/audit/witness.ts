import { closeSync, createReadStream, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { type TreeHead, treeHeadFromJson, treeHeadToJson } from './tree-head.js';

/**
 * Witnesses keep a copy of every signed tree head outside the database, so that deleting the
 * newest entries together with their heads, or restoring an older database, is still caught:
 * the witness then holds a head the database no longer reaches (issue 7, "Witness").
 */
export interface Witness {
  /** Called after the head has committed in the database, never before. */
  witness(head: TreeHead): Promise<void>;
}

/** Appends one JSON line per head to a file (0600), flushed to disk before it returns. */
export class FileWitness implements Witness {
  constructor(readonly path: string) {}

  async witness(head: TreeHead): Promise<void> {
    // Asynchronous: an fsync can take tens of milliseconds, and requests must not wait on it.
    const file = await open(this.path, 'a', 0o600);
    try {
      await file.write(`${JSON.stringify(treeHeadToJson(head))}\n`);
      await file.sync();
    } finally {
      await file.close();
    }
  }
}

/** POSTs each head as JSON to a URL the operator runs or trusts (e.g. another site's log). */
export class HttpWitness implements Witness {
  constructor(
    readonly url: string,
    readonly timeoutMs = 5000,
  ) {}

  async witness(head: TreeHead): Promise<void> {
    const response = await fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(treeHeadToJson(head)),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (!response.ok) throw new Error(`witness answered ${response.status}`);
  }
}

export type WitnessLine = { readonly line: number } & ({ readonly head: TreeHead } | { readonly malformed: true });

/** Streams the heads of a witness file in order; a line that is not a head is reported, not thrown. */
export async function* readWitnessFile(path: string): AsyncGenerator<WitnessLine> {
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Number.POSITIVE_INFINITY });
  let line = 0;
  for await (const text of lines) {
    line += 1;
    if (text.trim() === '') continue;
    let head: TreeHead | undefined;
    try {
      head = treeHeadFromJson(JSON.parse(text));
    } catch {
      head = undefined;
    }
    yield head ? { line, head } : { line, malformed: true };
  }
}

/** The newest head in a witness file (its last well-formed line), read from the file's end. */
export function readNewestWitnessed(path: string): TreeHead | undefined {
  if (!existsSync(path)) return undefined;
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, 64 * 1024);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    const lines = buffer.toString('utf8').split('\n').reverse();
    for (const line of lines) {
      if (line.trim() === '') continue;
      try {
        const head = treeHeadFromJson(JSON.parse(line));
        if (head) return head;
      } catch {
        // A torn or partial line (the window's first): try the one before.
      }
    }
    return undefined;
  } finally {
    closeSync(fd);
  }
}
