import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The shared Synthea fixtures: 30 synthetic patients as FHIR R4 transaction Bundles. */
export const SYNTHEA_DIR = join(import.meta.dirname, '..', '..', '..', 'shared', 'fixtures', 'synthea');

export interface SyntheaBundle {
  readonly file: string;
  readonly entries: readonly { fullUrl: string; resource: any }[];
}

export function syntheaBundles(): SyntheaBundle[] {
  return readdirSync(SYNTHEA_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, entries: JSON.parse(readFileSync(join(SYNTHEA_DIR, file), 'utf8')).entry }));
}

/**
 * The identifying strings of every fixture patient — names, identifiers, birth dates, phone
 * numbers, street addresses — that must never appear in a database dump or a log. Strings shorter
 * than 5 characters are left out: they occur by chance in binary files.
 */
export function syntheaPhiStrings(): string[] {
  const out = new Set<string>();
  for (const bundle of syntheaBundles()) {
    for (const { resource } of bundle.entries) {
      if (resource.resourceType !== 'Patient') continue;
      for (const name of resource.name ?? []) {
        for (const part of [name.family, ...(name.given ?? [])]) if (part) out.add(part);
      }
      for (const id of resource.identifier ?? []) if (id.value) out.add(id.value);
      if (resource.birthDate) out.add(resource.birthDate);
      for (const t of resource.telecom ?? []) if (t.value) out.add(t.value);
      for (const a of resource.address ?? []) for (const line of a.line ?? []) out.add(line);
    }
  }
  return [...out].filter((s) => s.length >= 5);
}

/** Rewrites the bundle's urn:uuid references to the ids the server assigned. */
export function rewriteReferences<T>(resource: T, assigned: ReadonlyMap<string, string>): T {
  return JSON.parse(
    JSON.stringify(resource).replace(/"urn:uuid:([0-9a-fA-F-]{36})"/g, (whole, uuid: string) => {
      const target = assigned.get(`urn:uuid:${uuid}`);
      return target ? `"${target}"` : whole;
    }),
  );
}
