/**
 * The only I/O in src/fhir: reading conformance resources (StructureDefinition, ValueSet,
 * CodeSystem) from the installed hl7.fhir.r4.examples package. The package is part of the
 * build, never user data, so reading it is configuration, not data access.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export type JsonObject = { readonly [key: string]: unknown };

// A file name is derived from a canonical URL's last segment; restricting it to this shape
// keeps a hostile or odd URL from naming a path outside the package folder.
const SAFE_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9.-]{0,200}\.json$/;

let packageFolder: string | undefined;

function folder(): string {
  if (packageFolder === undefined) {
    const require = createRequire(import.meta.url);
    packageFolder = dirname(require.resolve('hl7.fhir.r4.examples/package.json'));
  }
  return packageFolder;
}

/** Parses `<folder>/<fileName>`; undefined when the file is absent (e.g. an external ValueSet). */
export function readPackageFile(fileName: string): JsonObject | undefined {
  if (!SAFE_FILE_NAME.test(fileName)) return undefined;
  let text: string;
  try {
    text = readFileSync(join(folder(), fileName), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed: unknown = JSON.parse(text);
  return isJsonObject(parsed) ? parsed : undefined;
}

/** Like readPackageFile, for definitions that must exist (a missing one is a broken install). */
export function readDefinition<T>(fileName: string): T {
  const parsed = readPackageFile(fileName);
  if (!parsed) throw new TypeError(`the R4 definitions package lacks ${fileName}`);
  return parsed as T;
}

/** The names of the package's files. */
export function packageFileNames(): string[] {
  return readdirSync(folder());
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The last path segment of a canonical URL, without a `|version` suffix. */
export function canonicalTail(url: string): string {
  const bare = canonicalBase(url);
  return bare.slice(bare.lastIndexOf('/') + 1);
}

/** A canonical URL without its `|version` suffix. */
export function canonicalBase(url: string): string {
  const bar = url.indexOf('|');
  return bar === -1 ? url : url.slice(0, bar);
}
