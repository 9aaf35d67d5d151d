import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BlindIndexer } from '../../src/crypto/index.js';
import { parseSearch } from '../../src/fhir/index.js';
import type { SearchCondition } from '../../src/store/index.js';
import { conditionsOf } from '../../src/vault/search-conditions.js';

/**
 * What a chained or `_has` search sends to the store, at every level: the inner searches' conditions
 * are built the same way as the outer ones, so identifying values reach the database only as
 * blind-index hashes (invariant 3), never as the text the caller typed.
 */
describe('chained and _has conditions (pure)', () => {
  const indexer = new BlindIndexer(randomBytes(32));
  const now = new Date('2026-01-01');

  async function allConditions(type: string, query: string): Promise<SearchCondition[][]> {
    const levels: SearchCondition[][] = [];
    const inner = async (innerType: string, criteria: Parameters<typeof conditionsOf>[2]): Promise<string[]> => {
      levels.push(await conditionsOf(indexer, innerType, criteria, now, inner));
      return ['an-id'];
    };
    const request = parseSearch(type, new URLSearchParams(query), { lenient: false, now });
    levels.push(await conditionsOf(indexer, type, request.criteria, now, inner));
    return levels;
  }

  it.each([
    ['Observation', 'subject:Patient.name=Bravo', /bravo/i],
    ['Observation', 'patient.identifier=urn:x|MRN-77', /MRN-77/],
    ['Observation', 'patient.birthdate=1970-01-01', /1970/],
    ['Observation', 'patient.organization.name=Bravo%20Clinic', /bravo/i],
    ['Organization', '_has:Patient:organization:telecom=555-0199', /555-0199/],
    ['Observation', '_has:Observation:derived-from:patient.telecom=555-0199', /555-0199/],
    ['Patient', 'identifier=urn:x|MRN-77&phone=555-0199', /MRN-77|555-0199/],
    ['Organization', '_has:Patient:organization:name=Bravo', /bravo/i],
  ])('%s?%s reaches the store with hashes only', async (type, query, secret) => {
    const levels = await allConditions(type, query);
    expect(levels.length > 1).toBe(/\.|_has:/.test(query));
    const sent = JSON.stringify(levels, (_k, v) => (v?.type === 'Buffer' ? '<hash>' : v));
    expect(sent).not.toMatch(secret);
    expect(sent).toContain('<hash>');
  });
});
