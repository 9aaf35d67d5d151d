import { describe, expect, it } from 'vitest';
import { isWardError, snapshotJson } from '../../src/fhir/index.js';

describe('the snapshot of a body taken before it is checked', () => {
  it('is an equal copy that later changes to the input do not reach', () => {
    const input = { resourceType: 'Patient', name: [{ family: 'Doe', given: ['A'] }], active: true, n: 1.5, x: null };
    const copy = snapshotJson(input);
    expect(copy).toEqual(input);
    input.name[0]?.given.push('B');
    input.active = false;
    expect(copy.name[0]?.given).toEqual(['A']);
    expect(copy.active).toBe(true);
  });

  it('keeps a "__proto__" key from JSON as an own property, never as the copy\'s prototype', () => {
    const input = JSON.parse('{"resourceType":"Patient","__proto__":{"polluted":true},"meta":{"__proto__":[1]}}');
    const copy = snapshotJson(input) as Record<string, unknown>;
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect((copy as { polluted?: unknown }).polluted).toBeUndefined();
    expect(Object.keys(copy)).toEqual(['resourceType', '__proto__', 'meta']);
    expect(Object.getOwnPropertyDescriptor(copy, '__proto__')?.value).toEqual({ polluted: true });
    expect(JSON.stringify(copy)).toBe(JSON.stringify(input));
  });

  it('refuses JSON nested deeper than any resource can be, with a resource error instead of a stack overflow', () => {
    const deep = JSON.parse(`${'['.repeat(5_000)}${']'.repeat(5_000)}`);
    let error: unknown;
    try {
      snapshotJson({ resourceType: 'Basic', extension: deep });
    } catch (e) {
      error = e;
    }
    expect(isWardError(error) && error.code).toBe('WARD_INVALID_RESOURCE');
  });

  it('copies values that are not JSON data as structuredClone does', () => {
    const when = new Date('2020-01-01T00:00:00Z');
    const copy = snapshotJson({ when });
    expect(copy.when).not.toBe(when);
    expect(copy.when).toEqual(when);
  });
});
