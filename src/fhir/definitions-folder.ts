import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The folder of the official R4 package (hl7.fhir.r4.examples 4.0.1: core definitions and examples). */
export const R4_PACKAGE_DIR = dirname(createRequire(import.meta.url).resolve('hl7.fhir.r4.examples/package.json'));

export function readDefinition<T>(fileName: string): T {
  return JSON.parse(readFileSync(join(R4_PACKAGE_DIR, fileName), 'utf8')) as T;
}
