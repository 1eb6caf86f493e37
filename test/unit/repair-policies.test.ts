// The README's "Repair policies that fit" is held to the rule table: its table
// lists exactly the reasons the shipped rules write with False, each with its
// rule's NVIDIA action and the repair that action maps to, and every reason the
// section names (worked examples included) is one the agent really writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDefaults } from '../../agent/rules/load.ts';
import { fillLevel } from '../../agent/rules/table.ts';
import type { RuleEntry } from '../../agent/rules/types.ts';
import { READY_REASON, UNOBSERVABLE_REASON } from '../../agent/health/index.ts';
import { ROOT } from '../../scripts/generate-manifests.ts';

/** Reason (with `<n>` for a code filled in at run time) -> NVIDIA action, for every default that can be fatal. */
function fatalReasons(): Map<string, string> {
  const table = loadDefaults();
  const out = new Map<string, string>();
  const add = (e: RuleEntry, template: string, action: string): void => {
    const reason = fillLevel(template, 'fatal').replaceAll('{code}', typeof e.code === 'number' ? String(e.code) : '<n>');
    const had = out.get(reason);
    if (had !== undefined && had !== action) throw new Error(`${reason}: two actions in the rule table (${had}, ${action})`);
    out.set(reason, action);
  };
  for (const e of [...table.entries.values(), ...Object.values(table.unknown)]) {
    // Another view of a fault the table knows elsewhere: it is written with that entry's reason.
    if (e.sameAs !== null) continue;
    if (e.severity === 'fatal') add(e, e.reason, e.action);
    if (e.escalation?.severity === 'fatal') add(e, e.escalation.reason ?? e.reason, e.escalation.action ?? e.action);
  }
  // The repair ladder's reason, for a fault that the last reboots did not fix.
  if (table.ladder.repairs > 0 && table.ladder.reason !== '' && !table.ladder.reason.includes('{reason}')) out.set(table.ladder.reason, 'REPLACE');
  return out;
}

function section(readme: string, heading: string): string {
  const start = readme.indexOf(`\n## ${heading}\n`);
  assert.ok(start >= 0, `README has a "## ${heading}" section`);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

/** The rows of the markdown table whose header row starts with `first`. */
function tableRows(text: string, first: string): string[][] {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => l.startsWith(`| ${first} |`));
  assert.ok(at >= 0, `a table headed "${first}"`);
  const rows: string[][] = [];
  for (const line of lines.slice(at + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(line.slice(1, -1).split('|').map((c) => c.trim()));
  }
  return rows;
}

const ticked = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);

const repair = section(readFileSync(join(ROOT, 'README.md'), 'utf8'), 'Repair policies that fit');

function readmeTables(): { repairOf: Map<string, string>; reasons: Map<string, { action: string; repair: string }> } {
  const repairOf = new Map(tableRows(repair, 'NVIDIA action').map((r) => [ticked(r[0] as string)[0] as string, r[1] as string]));
  const reasons = new Map<string, { action: string; repair: string }>();
  for (const row of tableRows(repair, 'Reason')) {
    const action = ticked(row[1] as string)[0] as string;
    for (const reason of ticked(row[0] as string)) {
      assert.ok(!reasons.has(reason), `${reason} is listed once`);
      reasons.set(reason, { action, repair: row[2] as string });
    }
  }
  return { repairOf, reasons };
}

test('the README lists every reason the shipped rules write with False, with its rule\'s NVIDIA action', () => {
  const rules = fatalReasons();
  const { reasons } = readmeTables();
  assert.deepEqual([...reasons.keys()].sort(), [...rules.keys()].sort());
  for (const [reason, action] of rules) assert.equal(reasons.get(reason)?.action, action, reason);
});

test('each reason\'s repair is the one its NVIDIA action maps to, and every action maps to Reboot or Replace', () => {
  const { repairOf, reasons } = readmeTables();
  for (const [action, r] of repairOf) assert.match(r, /^(Reboot|Replace)$/, action);
  for (const [reason, { action, repair: r }] of reasons) {
    assert.ok(repairOf.has(action), `${reason}: ${action} is in the action table`);
    assert.equal(r, repairOf.get(action), `${reason} (${action})`);
  }
});

test('every reason the section names, worked examples included, is one the agent writes', () => {
  const written = [...fatalReasons().keys(), READY_REASON, UNOBSERVABLE_REASON];
  const pattern = new RegExp(`^(?:${written.map((r) => r.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace('<n>', '(?:<n>|\\d+)')).join('|')})$`);
  const named = [
    ...ticked(repair).filter((t) => /^(Nvidia|DCGM)/.test(t)),
    ...[...repair.matchAll(/nodeUnhealthyReason: (\S+?)[,}]/g)].map((m) => m[1] as string),
  ];
  assert.ok(named.length > 30, `found ${named.length} reason names`);
  // A family (`NvidiaXID<n>Error`) is fine when the agent writes members of it.
  const family = (n: string): boolean => n.includes('<n>') && written.some((w) => new RegExp(`^${n.replace('<n>', '\\d+')}$`).test(w));
  assert.deepEqual(named.filter((n) => !pattern.test(n) && !family(n)), [], 'reasons the agent never writes');
  // The worked examples give an override to each repair.
  const overrides = [...repair.matchAll(/nodeUnhealthyReason: (\S+?), .*repairAction: (\w+)\}/g)].map((m) => [m[1] as string, m[2] as string] as const);
  const { reasons, repairOf } = readmeTables();
  for (const [reason, action] of overrides) {
    const row = reasons.get(reason) ?? reasons.get(reason.replace(/\d+(Error)?$/, (_, e: string | undefined) => `<n>${e ?? ''}`));
    assert.equal(action, row?.repair, `the override for ${reason} gives the table's repair`);
  }
  assert.deepEqual([...new Set(overrides.map((o) => o[1]))].sort(), [...new Set(repairOf.values())].sort());
});
