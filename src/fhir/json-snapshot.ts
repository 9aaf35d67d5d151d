import { WardError } from './errors.js';

/** JSON nesting (objects and arrays) a snapshot follows; validation refuses resources far shallower (128 objects). */
const MAX_JSON_DEPTH = 512;

/**
 * A copy of a body taken before it is checked, so what is validated and decided on is what is
 * stored, whatever else holds the input. Request bodies are JSON data (objects, arrays and
 * primitives), which a plain walk copies about four times faster than structuredClone (two
 * snapshots per written resource made that a tenth of an import's CPU); anything else (a Date,
 * a Map) is left to structuredClone. A `__proto__` key stays an own data property, as
 * JSON.parse made it, never the copy's prototype.
 */
export function snapshotJson<T>(value: T): T {
  return copy(value, 0) as T;
}

function copy(value: unknown, depth: number): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= MAX_JSON_DEPTH) {
    throw new WardError('WARD_INVALID_RESOURCE', { details: [{ diagnostics: `Nesting deeper than ${MAX_JSON_DEPTH} levels` }] });
  }
  if (Array.isArray(value)) {
    const out = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = copy(value[i], depth + 1);
    return out;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return structuredClone(value);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const v = copy((value as Record<string, unknown>)[key], depth + 1);
    if (key === '__proto__') Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
    else out[key] = v;
  }
  return out;
}
