// Evidence -> the rule that applies to it. Pure. Evidence that is no fault by
// itself (identity, inventory, a device count that matches) classifies to null.
import type { Evidence } from '../model/evidence.ts';
import type { RuleFamily, RuleMatch, RuleTable } from './types.ts';
import { RULE_FAMILIES } from './types.ts';
import { lookupEntry } from './table.ts';

/** DCGM's XID incidents carry the Xid number only in their message text. */
const XID_IN_MESSAGE = /\bxid\D{0,4}(\d{1,4})\b/i;

function match(table: RuleTable, family: RuleFamily, code: number | string, variant: string | null): RuleMatch {
  const found = lookupEntry(table, family, code, variant);
  return { key: `${family}:${code}`, family, code, variant, entry: found.entry, unknown: found.unknown };
}

/** Follows an entry's `sameAs` once (never a chain), so two views of one fault share a key. */
function follow(table: RuleTable, first: RuleMatch, evidence: Evidence): RuleMatch {
  const target = first.entry.sameAs;
  if (target === null) return first;
  if (target === 'xid:message') {
    const text = evidence.kind === 'dcgm-health' ? evidence.message : '';
    const m = XID_IN_MESSAGE.exec(text);
    if (m !== null) return match(table, 'xid', Number(m[1]), null);
    // No number to go by: skip the code's own entry and use the result-level one.
    const found = lookupEntry(table, first.family, first.code, first.variant, true);
    return { ...first, entry: found.entry, unknown: found.unknown };
  }
  const colon = target.indexOf(':');
  const family = target.slice(0, colon) as RuleFamily;
  if (!RULE_FAMILIES.includes(family)) return first;
  const raw = target.slice(colon + 1);
  const code = /^\d+$/.test(raw) && family !== 'counter' && family !== 'event' ? Number(raw) : raw;
  return match(table, family, code, null);
}

export function classify(table: RuleTable, evidence: Evidence): RuleMatch | null {
  switch (evidence.kind) {
    case 'xid':
      return follow(table, match(table, 'xid', evidence.code, null), evidence);
    case 'sxid':
      return follow(table, match(table, 'sxid', evidence.code, evidence.fatal === null ? null : evidence.fatal ? 'fatal' : 'non-fatal'), evidence);
    case 'dcgm-health':
      return follow(table, match(table, 'dcgm', evidence.code, evidence.result), evidence);
    case 'counter':
      // A counter back at zero (after a reset) is no fault.
      if (!(evidence.value > 0)) return null;
      return follow(table, match(table, 'counter', evidence.counter, null), evidence);
    case 'fallen-off-bus':
      return follow(table, match(table, 'event', 'fallen-off-bus', null), evidence);
    case 'device-count':
      if (evidence.visible >= evidence.expected) return null;
      return follow(table, match(table, 'event', evidence.confirmed === false ? 'device-count-unconfirmed' : 'device-count-mismatch', null), evidence);
    case 'recovery-action':
      return match(table, 'recovery', evidence.to.code, null);
    case 'pcie-aer':
      return follow(table, match(table, 'event', `pcie-aer-${evidence.severity}`, null), evidence);
    case 'gpu-init-failed':
      return follow(table, match(table, 'event', 'gpu-init-failed', null), evidence);
    case 'gpu-unusable':
      return follow(table, match(table, 'event', 'gpu-unusable', null), evidence);
    case 'fabric':
      return match(table, 'fabric', evidence.field, evidence.state);
    case 'gpu-identity':
    case 'gpu-inventory':
    case 'bus-scan':
      return null;
  }
}

/**
 * Parses what a person types for `rules explain`: `xid:79`, `79` (an Xid), `sxid:12`,
 * `dcgm:4`, `dcgm:4/fail`, `dcgm:fail`, `counter:ecc-dbe-volatile`, `event:fallen-off-bus`,
 * `recovery:2`, `fabric:manager/failure`, `fabric:route-unhealthy`. Returns null when it is none of those.
 */
export function parseCodeSpec(spec: string): { family: RuleFamily; code: number | string; variant: string | null } | null {
  const s = spec.trim().toLowerCase();
  if (/^\d+$/.test(s)) return { family: 'xid', code: Number(s), variant: null };
  const colon = s.indexOf(':');
  if (colon < 0) return null;
  const family = s.slice(0, colon) as RuleFamily;
  if (!RULE_FAMILIES.includes(family)) return null;
  const rest = s.slice(colon + 1);
  if (rest === '') return null;
  if (family === 'counter' || family === 'event') return { family, code: rest, variant: null };
  if (family === 'fabric') {
    const m = /^([a-z-]{1,40})(?:\/([a-z0-9-]{1,40}))?$/.exec(rest);
    return m === null ? null : { family, code: m[1] as string, variant: m[2] ?? null };
  }
  if (family === 'dcgm') {
    const m = /^(\d+)(?:\/(fail|warn))?$/.exec(rest);
    if (m !== null) return { family, code: Number(m[1]), variant: m[2] ?? null };
    return rest === 'fail' || rest === 'warn' ? { family, code: rest, variant: rest } : null;
  }
  if (family === 'sxid') {
    const m = /^(\d+)(?:\/(fatal|non-fatal))?$/.exec(rest);
    if (m !== null) return { family, code: Number(m[1]), variant: m[2] ?? null };
    return rest === 'fatal' || rest === 'non-fatal' ? { family, code: rest, variant: rest } : null;
  }
  return /^\d+$/.test(rest) ? { family, code: Number(rest), variant: null } : null;
}
