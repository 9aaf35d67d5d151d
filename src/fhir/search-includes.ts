import { isResourceType } from './definitions.js';
import { WardError } from './errors.js';
import { indexedParameter } from './search-extraction.js';

/**
 * One `_include` or `_revinclude` (R4 §3.1.1.5.4): follow the reference parameter `param` of
 * `sourceType` forward (from the matches to what they reference) or in reverse (to what
 * references the matches). `'*'` stands for every reference parameter (and, in reverse, every
 * source type). Only `iterate` ones are applied again to what was included.
 */
export interface IncludeSpec {
  readonly reverse: boolean;
  readonly iterate: boolean;
  readonly sourceType: string | '*';
  readonly param: string | '*';
  readonly targetType: string | undefined;
}

/** Parses `Type:param[:targetType]`, `Type:*` or `*`; anything else is a 400 (or ignored when lenient). */
export function parseInclude(searchedType: string, name: string, raw: string): IncludeSpec {
  const [base, modifier] = name.split(':', 2) as [string, string | undefined];
  const reverse = base === '_revinclude';
  if (modifier !== undefined && modifier !== 'iterate' && modifier !== 'recurse') throw unknownInclude(name);
  const iterate = modifier !== undefined;
  if (raw === '*') return { reverse, iterate, sourceType: '*', param: '*', targetType: undefined };
  const [sourceType = '', param = '', targetType, ...rest] = raw.split(':');
  if (rest.length > 0 || !isResourceType(sourceType)) throw invalidInclude(name);
  if (targetType !== undefined && !isResourceType(targetType)) throw invalidInclude(name);
  if (param !== '*' && indexedParameter(sourceType, param)?.type !== 'reference') throw invalidInclude(name);
  // Without :iterate an _include starts from the matches, so it must name their type.
  if (!reverse && !iterate && sourceType !== searchedType) throw invalidInclude(name);
  return { reverse, iterate, sourceType, param, targetType };
}

function unknownInclude(name: string): WardError {
  return new WardError('WARD_UNKNOWN_PARAMETER', {
    details: [{ diagnostics: `Search parameter is unknown or not supported: ${name.split(':', 2)[0]} with this modifier` }],
  });
}

function invalidInclude(name: string): WardError {
  return new WardError('WARD_INVALID_REQUEST', {
    details: [
      {
        diagnostics: `Parameter ${name.split(':', 2)[0]} must be SourceType:referenceParameter[:TargetType] or *, and an _include without :iterate must start from the searched type`,
      },
    ],
  });
}
