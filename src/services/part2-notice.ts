import { isPlainObject } from '../fhir/index.js';
import { PART2_CONSENT_EXTENSION, PART2_NOTICE_EXTENSION, PART2_NOTICE_LABEL } from '../vault/index.js';

/**
 * A Bundle that holds a Part 2 record disclosed by the vault (its resource carries the §2.32
 * notice in `meta.extension`) carries the notice itself too, with the NORDSCLCDS label and a
 * reference to every Consent its Part 2 entries were disclosed under, so that a recipient who
 * reads only the Bundle's envelope still gets them (42 CFR §2.32(a), (b)). Others are unchanged.
 */
export function withRedisclosureNotice<T extends Record<string, unknown>>(bundle: T): T {
  const entries = Array.isArray(bundle.entry) ? bundle.entry : [];
  let notice: unknown;
  const consents = new Map<string, unknown>();
  for (const entry of entries) {
    const meta = isPlainObject(entry) && isPlainObject(entry.resource) ? entry.resource.meta : undefined;
    const extensions = isPlainObject(meta) && Array.isArray(meta.extension) ? meta.extension.filter(isPlainObject) : [];
    for (const e of extensions) {
      if (e.url === PART2_NOTICE_EXTENSION) notice ??= e;
      if (e.url === PART2_CONSENT_EXTENSION && isPlainObject(e.valueReference)) consents.set(String(e.valueReference.reference), e);
    }
  }
  if (notice === undefined) return bundle;
  return { ...bundle, meta: { security: [PART2_NOTICE_LABEL], extension: [notice, ...consents.values()] } };
}
