// The rule document's shape, checked with zod. Every error names its YAML path
// (`xid.79.severity: expected one of fatal|warning|info|ignore`), because the
// document arrives as a ConfigMap key that a person edits by hand.
import { z } from 'zod';
import { COUNTER_NAMES, FABRIC_FIELDS } from '../model/evidence.ts';
import { CLEAR_ON, REPAIR_ACTIONS, RULE_FAMILIES, SEVERITIES } from './types.ts';
import type { ClearOn, Escalation, LadderSettings, RepairAction, RuleFamily, Severity } from './types.ts';
import { parseDuration as parseWindow } from '../model/duration.ts';

export const API_VERSION = 'gpu-health-agent/v1';

export const EVENTS = [
  'fallen-off-bus',
  'device-count-mismatch',
  'device-count-unconfirmed',
  'pcie-aer-fatal',
  'pcie-aer-nonfatal',
  'pcie-aer-correctable',
  'gpu-init-failed',
  'gpu-unusable',
] as const;
const FABRIC_KEY = new RegExp(`^(${FABRIC_FIELDS.join('|')})(/[a-z0-9-]{1,40})?$`);

/** Which keys each family accepts, and how to say so when one is wrong. */
const KEY_RULES: Record<RuleFamily, { test: (key: string) => boolean; expected: string }> = {
  xid: { test: (k) => /^\d{1,4}$/.test(k), expected: 'an Xid number' },
  sxid: { test: (k) => /^\d{1,5}$/.test(k) || k === 'fatal' || k === 'non-fatal', expected: 'an SXid number, fatal or non-fatal' },
  dcgm: {
    test: (k) => /^\d{1,4}(\/(fail|warn))?$/.test(k) || k === 'fail' || k === 'warn',
    expected: 'a DCGM error code (DCGM_FR_*), CODE/fail, CODE/warn, fail or warn',
  },
  counter: { test: (k) => (COUNTER_NAMES as readonly string[]).includes(k), expected: `one of ${COUNTER_NAMES.join('|')}` },
  event: { test: (k) => (EVENTS as readonly string[]).includes(k), expected: `one of ${EVENTS.join('|')}` },
  recovery: { test: (k) => /^\d{1,3}$/.test(k), expected: 'a GPU recovery action number (NVML nvmlDeviceGpuRecoveryAction_t)' },
  fabric: { test: (k) => FABRIC_KEY.test(k), expected: `a fabric field (${FABRIC_FIELDS.join('|')}), optionally /STATE` },
};

/** Kubernetes condition reason syntax, after `{code}` / `{level}` are filled in. */
const REASON = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;

/** A zod error callback: `required` for a missing field, `text` for a wrong one. */
function says(text: string) {
  return (iss: { input?: unknown }) => (iss.input === undefined ? 'required' : text);
}

function oneOf<T extends string>(values: readonly T[]) {
  return z.enum(values as [T, ...T[]], { error: says(`expected one of ${values.join('|')}`) });
}

const severity = oneOf<Severity>(SEVERITIES);
const action = oneOf<RepairAction>(REPAIR_ACTIONS);
const clearOn = oneOf<ClearOn>(CLEAR_ON);

const reason = z
  .string({ error: says('expected a string') })
  .max(128, { error: () => 'at most 128 characters' })
  .refine((s) => REASON.test(s.replaceAll('{code}', '0').replaceAll('{level}', 'Error')), {
    error: () => 'expected a CamelCase reason (letters, digits, _ , :), optionally with {code} and {level}',
  });

const window = z
  .string({ error: says('expected a duration such as 90s, 10m, 1h') })
  .transform((s, ctx) => {
    const ms = parseWindow(s);
    if (ms === null) {
      ctx.addIssue({ code: 'custom', message: `expected a duration such as 90s, 10m, 1h, got "${s}"` });
      return z.NEVER;
    }
    return ms;
  });

const sameAs = z
  .string({ error: () => 'expected FAMILY:CODE, e.g. xid:79' })
  .refine((s) => s === 'xid:message' || new RegExp(`^(${RULE_FAMILIES.join('|')}):[A-Za-z0-9/-]+$`).test(s), {
    error: () => 'expected FAMILY:CODE (e.g. xid:79, counter:ecc-dbe-volatile) or xid:message',
  });

const escalation = z.strictObject(
  {
    count: z.number({ error: says('expected a whole number from 2 to 100') }).int().min(2).max(100),
    window,
    scope: oneOf(['gpu', 'node'] as const).default('gpu'),
    severity: severity.default('fatal'),
    action: action.nullable().default(null),
    reason: reason.nullable().default(null),
    distinct: oneOf(['process'] as const).nullable().default(null),
  },
  { error: (iss) => (iss.code === 'unrecognized_keys' ? undefined : 'expected a mapping {count, window, scope, severity}') },
).transform(
  (e): Escalation => ({
    count: e.count,
    windowMs: e.window,
    scope: e.scope,
    severity: e.severity,
    action: e.action,
    reason: e.reason,
    distinct: e.distinct,
  }),
);

/** One entry as a file spells it; every field optional, because overrides change only what they name. */
export const EntryPatchSchema = z.strictObject(
  {
    severity: severity.optional(),
    action: action.optional(),
    reason: reason.optional(),
    description: z.string({ error: () => 'expected a string' }).max(1000).optional(),
    escalation: escalation.nullable().optional(),
    clearOn: z.array(clearOn, { error: () => `expected a list of ${CLEAR_ON.join('|')}` }).optional(),
    quietWindow: window.nullable().optional(),
    sameAs: sameAs.nullable().optional(),
  },
  { error: (iss) => (iss.code === 'unrecognized_keys' ? undefined : 'expected a mapping of entry fields') },
);
export type EntryPatch = z.output<typeof EntryPatchSchema>;

/** The repair ladder's settings as a file spells them; each optional in an override. */
export const LadderSchema = z.strictObject(
  {
    repairs: z.number({ error: says('expected a whole number from 0 (off) to 15') }).int().min(0).max(15).optional(),
    reason: z
      .string({ error: says('expected a string') })
      .max(128, { error: () => 'at most 128 characters' })
      .refine((s) => REASON.test(s.replaceAll('{reason}', 'X').replaceAll('{code}', '0').replaceAll('{level}', 'Error')), {
        error: () => 'expected a CamelCase reason (letters, digits, _ , :), optionally with {reason}',
      })
      .optional(),
  },
  { error: (iss) => (iss.code === 'unrecognized_keys' ? undefined : 'expected a mapping {repairs, reason}') },
);

export interface RuleDocument {
  apiVersion: string;
  /** Per family, the entries the document lists, by key. */
  entries: Record<RuleFamily, Record<string, EntryPatch>>;
  unknown: Partial<Record<RuleFamily, EntryPatch>>;
  ladder: Partial<LadderSettings>;
}

export type Validated<T> = { ok: true; value: T } | { ok: false; errors: string[] };

const TOP_KEYS = new Set(['apiVersion', 'version', 'kind', 'unknown', 'ladder', ...RULE_FAMILIES]);

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function issuesAt(prefix: string, error: z.ZodError): string[] {
  return error.issues.map((iss) => {
    const path = [prefix, ...iss.path.map(String)].filter((p) => p !== '').join('.');
    if (iss.code === 'unrecognized_keys') return `${path}: unknown field ${iss.keys.map((k) => `"${k}"`).join(', ')}`;
    return `${path}: ${iss.message}`;
  });
}

/**
 * Checks a parsed YAML document. Keys starting with `x-` at the top level are
 * ignored, so a file can keep YAML anchors there.
 */
export function validateRuleDocument(raw: unknown): Validated<RuleDocument> {
  const errors: string[] = [];
  if (!isMapping(raw)) return { ok: false, errors: ['(document): expected a mapping with apiVersion and rule families'] };

  let apiVersion = '';
  if (raw.apiVersion !== undefined) {
    if (raw.apiVersion !== API_VERSION) errors.push(`apiVersion: expected ${API_VERSION}, got ${JSON.stringify(raw.apiVersion)}`);
    apiVersion = API_VERSION;
  }
  if (raw.version !== undefined) {
    if (raw.version !== 1) errors.push(`version: expected 1, got ${JSON.stringify(raw.version)}`);
    apiVersion = API_VERSION;
  }
  if (apiVersion === '' && errors.length === 0) errors.push(`apiVersion: required (apiVersion: ${API_VERSION}, or version: 1)`);
  if (raw.kind !== undefined && raw.kind !== 'RuleTable') errors.push(`kind: expected RuleTable, got ${JSON.stringify(raw.kind)}`);
  for (const key of Object.keys(raw)) {
    if (!TOP_KEYS.has(key) && !key.startsWith('x-')) {
      errors.push(`${key}: unknown top-level key (expected apiVersion, unknown, ladder, ${RULE_FAMILIES.join(', ')})`);
    }
  }

  const entries = Object.fromEntries(RULE_FAMILIES.map((f) => [f, {}])) as Record<RuleFamily, Record<string, EntryPatch>>;
  for (const family of RULE_FAMILIES) {
    const section = raw[family];
    if (section === undefined || section === null) continue;
    if (!isMapping(section)) {
      errors.push(`${family}: expected a mapping of ${KEY_RULES[family].expected} to entries`);
      continue;
    }
    for (const [key, value] of Object.entries(section)) {
      if (!KEY_RULES[family].test(key)) {
        errors.push(`${family}.${key}: expected the key to be ${KEY_RULES[family].expected}`);
        continue;
      }
      const parsed = EntryPatchSchema.safeParse(value ?? {});
      if (parsed.success) entries[family][key] = parsed.data;
      else errors.push(...issuesAt(`${family}.${key}`, parsed.error));
    }
  }

  const unknown: Partial<Record<RuleFamily, EntryPatch>> = {};
  if (raw.unknown !== undefined && raw.unknown !== null) {
    if (!isMapping(raw.unknown)) errors.push(`unknown: expected a mapping of ${RULE_FAMILIES.join('|')} to entries`);
    else {
      for (const [family, value] of Object.entries(raw.unknown)) {
        if (!(RULE_FAMILIES as readonly string[]).includes(family)) {
          errors.push(`unknown.${family}: expected one of ${RULE_FAMILIES.join('|')}`);
          continue;
        }
        const parsed = EntryPatchSchema.safeParse(value ?? {});
        if (parsed.success) unknown[family as RuleFamily] = parsed.data;
        else errors.push(...issuesAt(`unknown.${family}`, parsed.error));
      }
    }
  }

  let ladder: Partial<LadderSettings> = {};
  if (raw.ladder !== undefined && raw.ladder !== null) {
    const parsed = LadderSchema.safeParse(raw.ladder);
    if (parsed.success) ladder = Object.fromEntries(Object.entries(parsed.data).filter(([, v]) => v !== undefined));
    else errors.push(...issuesAt('ladder', parsed.error));
  }

  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, value: { apiVersion, entries, unknown, ladder } };
}
