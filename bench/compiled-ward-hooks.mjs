/** Resolve hook of compiled-ward.mjs: a module under src/ resolves to its compiled twin under dist/. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const src = new URL('../src/', import.meta.url).href;
const dist = new URL('../dist/', import.meta.url).href;

export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  if (!resolved.url.startsWith(src) || !resolved.url.endsWith('.ts')) return resolved;
  const compiled = `${dist}${resolved.url.slice(src.length, -'.ts'.length)}.js`;
  // A module missing from dist/ means the build is stale: fail loudly rather than mix the two.
  if (!existsSync(fileURLToPath(compiled))) throw new Error(`${compiled} is missing: run npm run build first`);
  return { url: compiled, format: 'module', shortCircuit: true };
}
