import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/fhir/index.js';

describe('docs/errors.md', () => {
  const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'errors.md'), 'utf8');
  const rows = [...doc.matchAll(/^\| `(WARD_[A-Z_]+)` \| (\d{3}) \| `([a-z-]+)` \| (.+) \|$/gm)].map((m) => ({
    code: m[1],
    status: Number(m[2]),
    issue: m[3],
    text: m[4],
  }));

  it('lists every registered error code with its status, issue code and public text, and nothing else', () => {
    const registry = Object.entries(ERROR_CODES).map(([code, e]) => ({ code, status: e.status, issue: e.issue, text: e.text }));
    expect(rows).toEqual(registry);
  });
});
