import { createHash } from 'node:crypto';

/**
 * Most statement shapes named per process. Each named statement stays prepared on every pooled
 * connection that ran it, so the set must be bounded: search SQL has a shape per combination of
 * parameters, modifiers and value counts, and a client choosing those could otherwise grow every
 * backend's memory without end. Past the bound a new shape runs unnamed (parsed and planned each
 * time, as before), which is slower, never wrong.
 */
export const MAX_NAMED_SHAPES = 500;

const names = new Map<string, string>();

/**
 * The name under which a generated statement is prepared (PostgreSQL then parses it once per
 * connection, and may keep a generic plan), or undefined once MAX_NAMED_SHAPES shapes are named.
 * The name is a hash of the text, so one name never stands for two texts; the text holds only
 * SQL and placeholders, never a searched value.
 */
export function shapeName(prefix: string, sql: string): string | undefined {
  const known = names.get(sql);
  if (known !== undefined || names.size >= MAX_NAMED_SHAPES) return known;
  const name = `${prefix}_${createHash('sha256').update(sql).digest('hex').slice(0, 32)}`;
  names.set(sql, name);
  return name;
}
