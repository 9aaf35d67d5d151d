import { describe, expect, it } from 'vitest';
import { MAX_NAMED_SHAPES, shapeName } from '../../src/store/statement-names.js';

describe('prepared statement names of generated SQL', () => {
  it('names one text the same way every time, and two texts differently', () => {
    const a = shapeName('ward_test', 'SELECT 1 WHERE $1::text = $2::text');
    expect(a).toMatch(/^ward_test_[0-9a-f]{32}$/);
    expect(shapeName('ward_test', 'SELECT 1 WHERE $1::text = $2::text')).toBe(a);
    expect(shapeName('ward_test', 'SELECT 1 WHERE $1::text <> $2::text')).not.toBe(a);
  });

  it('names at most MAX_NAMED_SHAPES texts (each is prepared on every pooled connection), and keeps naming those', () => {
    const first = shapeName('ward_test', 'SELECT 0');
    const named = Array.from({ length: MAX_NAMED_SHAPES + 10 }, (_, i) => shapeName('ward_test', `SELECT ${i + 1}`));
    expect(named.filter((n) => n !== undefined).length).toBeLessThanOrEqual(MAX_NAMED_SHAPES);
    expect(named.at(-1)).toBeUndefined();
    expect(shapeName('ward_test', 'SELECT 0')).toBe(first);
  });
});
