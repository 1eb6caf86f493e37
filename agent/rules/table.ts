// The effective table: the shipped defaults with one override document merged
// onto them field by field, so a user changes `xid.109.severity` without
// copying the rest of the entry or the table. Pure: documents in, table out.
import { RULE_FAMILIES } from './types.ts';
import type { RuleEntry, RuleFamily, RuleTable, Severity } from './types.ts';
import type { EntryPatch, RuleDocument, Validated } from './schema.ts';
import { API_VERSION } from './schema.ts';
import { riskOf, type RiskyRule } from './risk.ts';

function codeOf(family: RuleFamily, key: string): number | string {
  return /^\d+$/.test(key) && family !== 'counter' && family !== 'event' ? Number(key) : key;
}

function apply(base: RuleEntry, patch: EntryPatch, origin: string): RuleEntry {
  const next: RuleEntry = { ...base, origin };
  if (patch.severity !== undefined) next.severity = patch.severity;
  if (patch.action !== undefined) next.action = patch.action;
  if (patch.reason !== undefined) next.reason = patch.reason;
  if (patch.description !== undefined) next.description = patch.description;
  if (patch.escalation !== undefined) next.escalation = patch.escalation;
  if (patch.clearOn !== undefined) next.clearOn = [...new Set(patch.clearOn)];
  if (patch.quietWindow !== undefined) next.quietMs = patch.quietWindow;
  if (patch.sameAs !== undefined) next.sameAs = patch.sameAs;
  return next;
}

/** A defaults entry must say everything; an override may say only what it changes. */
function complete(family: RuleFamily, key: string, patch: EntryPatch, path: string, errors: string[]): RuleEntry | null {
  const missing = (['severity', 'action', 'reason', 'clearOn'] as const).filter((f) => patch[f] === undefined);
  for (const f of missing) errors.push(`${path}.${f}: required in the defaults`);
  if (missing.length > 0) return null;
  return apply(
    {
      family,
      code: codeOf(family, key),
      severity: 'warning',
      action: 'INVESTIGATE',
      reason: '',
      description: '',
      escalation: null,
      clearOn: [],
      quietMs: null,
      sameAs: null,
      origin: 'defaults',
    },
    patch,
    'defaults',
  );
}

function check(entry: RuleEntry, path: string, errors: string[]): void {
  if (entry.clearOn.includes('quiet') && entry.quietMs === null) {
    errors.push(`${path}.quietWindow: required when clearOn includes quiet`);
  }
  if (entry.clearOn.length === 0) errors.push(`${path}.clearOn: at least one of reboot|gpu-reset|quiet|operator`);
  if (entry.sameAs !== null && entry.sameAs === `${entry.family}:${entry.code}`) errors.push(`${path}.sameAs: an entry cannot be the same as itself`);
}

/** Builds the table from the defaults document and an optional override document. */
export function buildTable(defaults: RuleDocument, override: RuleDocument | null, overrideOrigin: string | null): Validated<RuleTable> {
  const errors: string[] = [];
  const entries = new Map<string, RuleEntry>();
  const unknown = {} as Record<RuleFamily, RuleEntry>;

  for (const family of RULE_FAMILIES) {
    const patch = defaults.unknown[family];
    if (patch === undefined) {
      errors.push(`unknown.${family}: required in the defaults`);
      continue;
    }
    const entry = complete(family, '{code}', patch, `unknown.${family}`, errors);
    if (entry !== null) unknown[family] = { ...entry, code: '{code}' };
    for (const [key, p] of Object.entries(defaults.entries[family])) {
      const e = complete(family, key, p, `${family}.${key}`, errors);
      if (e !== null) entries.set(`${family}:${key}`, e);
    }
  }
  const ladder = { ...defaults.ladder };
  if (ladder.repairs === undefined || ladder.reason === undefined) errors.push('ladder: repairs and reason required in the defaults');
  if (errors.length > 0) return { ok: false, errors: errors.map((e) => `defaults: ${e}`) };

  // What the defaults said, for telling which overrides are risky.
  const defaultEntries = new Map(entries);
  const defaultUnknown = { ...unknown };
  const overridden: string[] = [];
  if (override !== null) {
    const origin = overrideOrigin ?? 'override';
    for (const family of RULE_FAMILIES) {
      const patch = override.unknown[family];
      if (patch !== undefined) {
        unknown[family] = apply(unknown[family], patch, origin);
        check(unknown[family], `unknown.${family}`, errors);
        overridden.push(`unknown.${family}`);
      }
      for (const [key, p] of Object.entries(override.entries[family])) {
        const id = `${family}:${key}`;
        // A code the defaults do not list starts from the family's unknown default.
        const base = entries.get(id) ?? { ...unknown[family], code: codeOf(family, key) };
        const next = apply(base, p, origin);
        check(next, `${family}.${key}`, errors);
        entries.set(id, next);
        overridden.push(id);
      }
    }
  }
  for (const [field, value] of Object.entries(override?.ladder ?? {})) {
    Object.assign(ladder, { [field]: value });
    overridden.push(`ladder.${field}`);
  }
  for (const family of RULE_FAMILIES) check(unknown[family], `unknown.${family}`, errors);
  for (const [id, e] of entries) check(e, id.replace(':', '.'), errors);
  if (errors.length > 0) return { ok: false, errors: [...new Set(errors)] };

  const risky: RiskyRule[] = [];
  for (const family of RULE_FAMILIES) {
    const why = riskOf(`unknown.${family}`, unknown[family], defaultUnknown[family]);
    if (why !== null) risky.push({ key: `unknown.${family}`, why });
  }
  for (const [id, e] of entries) {
    const why = riskOf(id, e, defaultEntries.get(id) ?? null);
    if (why !== null) risky.push({ key: id, why });
  }

  return {
    ok: true,
    value: {
      apiVersion: defaults.apiVersion || API_VERSION,
      entries,
      unknown,
      origin: override === null ? 'defaults' : `defaults + ${overrideOrigin ?? 'override'}`,
      overridden,
      risky,
      ladder: { repairs: ladder.repairs ?? 0, reason: ladder.reason ?? '' },
    },
  };
}

export interface Lookup {
  entry: RuleEntry;
  /** The table key that matched, e.g. `dcgm:4/fail`, or `unknown.xid`. */
  matched: string;
  unknown: boolean;
}

/** Fills `{code}` in the entry's reasons; `{level}` waits until the severity is known. */
function withCode(entry: RuleEntry, code: number | string): RuleEntry {
  const fill = (s: string) => s.replaceAll('{code}', String(code));
  if (entry.code === code && !entry.reason.includes('{code}') && !(entry.escalation?.reason ?? '').includes('{code}')) return entry;
  return {
    ...entry,
    code,
    reason: fill(entry.reason),
    escalation: entry.escalation === null ? null : { ...entry.escalation, reason: entry.escalation.reason === null ? null : fill(entry.escalation.reason) },
  };
}

/**
 * The entry for a code: `dcgm` tries CODE/RESULT, CODE, RESULT; `fabric` FIELD/STATE,
 * FIELD; `sxid` tries CODE then `fatal`/`non-fatal` by the record's flag; then the
 * family's unknown default.
 */
export function lookupEntry(table: RuleTable, family: RuleFamily, code: number | string, variant: string | null, skipCode = false): Lookup {
  const tryKey = (key: string): Lookup | null => {
    const entry = table.entries.get(key);
    return entry === undefined ? null : { entry: withCode(entry, code), matched: key, unknown: false };
  };
  const found =
    (!skipCode && (family === 'dcgm' || family === 'fabric') && variant !== null ? tryKey(`${family}:${code}/${variant}`) : null) ??
    (skipCode ? null : tryKey(`${family}:${code}`)) ??
    ((family === 'dcgm' || family === 'sxid') && variant !== null ? tryKey(`${family}:${variant}`) : null);
  if (found !== null) return found;
  return { entry: withCode(table.unknown[family], code), matched: `unknown.${family}`, unknown: true };
}

/** `{level}` in a reason reads `Error` for fatal and `Warning` otherwise, as the EKS agent's reasons do. */
export function fillLevel(reason: string, severity: Severity): string {
  return reason.replaceAll('{level}', severity === 'fatal' ? 'Error' : 'Warning');
}
