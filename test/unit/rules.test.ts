import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classify, parseCodeSpec } from '../../agent/rules/classify.ts';
import { loadDefaults, loadRuleFile, tableFromText } from '../../agent/rules/load.ts';
import { fillLevel, lookupEntry } from '../../agent/rules/table.ts';
import type { RuleTable } from '../../agent/rules/types.ts';
import type { Evidence } from '../../agent/model/evidence.ts';

const defaults = loadDefaults();
const gpu = { pci: '0000:3b:00.0' };
const xid = (code: number): Evidence => ({ kind: 'xid', gpu, code, pid: null, processName: null, text: '' });

function reasonFor(table: RuleTable, e: Evidence): { key: string; severity: string; reason: string } {
  const m = classify(table, e);
  assert.ok(m !== null);
  return { key: m.key, severity: m.entry.severity, reason: fillLevel(m.entry.reason, m.entry.severity) };
}

test('the catalog codes DESIGN.md lists as fatal are fatal with EKS reasons', () => {
  for (const code of [46, 48, 54, 62, 64, 74, 79, 95, 110, 119, 120, 136, 140, 143, 151, 156, 158]) {
    assert.deepEqual(reasonFor(defaults, xid(code)), { key: `xid:${code}`, severity: 'fatal', reason: `NvidiaXID${code}Error` }, `xid ${code}`);
  }
});

test('application, no-action, disputed and NVLink5 codes are warnings', () => {
  for (const code of [13, 31, 43, 45, 68, 69, 94, 38, 63, 92, 121, 109, 144, 145, 146, 147, 148, 149, 150]) {
    const r = reasonFor(defaults, xid(code));
    assert.equal(r.severity, 'warning', `xid ${code}`);
    assert.equal(r.reason, `NvidiaXID${code}Warning`);
  }
});

test('unknown codes are warnings in every family, never fatal by default', () => {
  assert.deepEqual(reasonFor(defaults, xid(9999)), { key: 'xid:9999', severity: 'warning', reason: 'NvidiaXID9999Warning' });
  assert.equal(classify(defaults, xid(9999))?.unknown, true);
  for (const family of Object.values(defaults.unknown)) assert.notEqual(family.severity, 'fatal', family.family);
  const sxid = classify(defaults, { kind: 'sxid', gpu, code: 77, switchIndex: 0, fatal: null, link: null, text: '' });
  assert.equal(sxid?.entry.severity, 'warning');
  const rec = classify(defaults, { kind: 'recovery-action', gpu, from: null, to: { code: 42, name: 'Future' } });
  assert.equal(rec?.entry.severity, 'warning');
});

test('EKS-compatible reasons for counters, DCGM, device count and events', () => {
  assert.deepEqual(reasonFor(defaults, { kind: 'counter', gpu, counter: 'ecc-dbe-volatile', value: 2 }), {
    key: 'counter:ecc-dbe-volatile',
    severity: 'fatal',
    reason: 'NvidiaDoubleBitError',
  });
  assert.equal(reasonFor(defaults, { kind: 'counter', gpu, counter: 'nvlink-errors', value: 5 }).reason, 'NvidiaNVLinkError');
  assert.deepEqual(reasonFor(defaults, { kind: 'device-count', visible: 7, expected: 8 }), {
    key: 'event:device-count-mismatch',
    severity: 'fatal',
    reason: 'NvidiaDeviceCountMismatch',
  });
  assert.equal(classify(defaults, { kind: 'device-count', visible: 8, expected: 8 }), null);
  const dcgm = (code: number, result: 'warn' | 'fail', message = '') => ({ kind: 'dcgm-health' as const, gpu, system: 'nvlink', result, code, message });
  assert.deepEqual(reasonFor(defaults, dcgm(14, 'fail')), { key: 'dcgm:14', severity: 'fatal', reason: 'DCGMHealthCode14' });
  assert.deepEqual(reasonFor(defaults, dcgm(14, 'warn')), { key: 'dcgm:14', severity: 'warning', reason: 'DCGMHealthCode14' });
  assert.equal(reasonFor(defaults, dcgm(10, 'fail')).severity, 'warning', 'thermal throttling is not a broken GPU');
  assert.equal(reasonFor(defaults, dcgm(122, 'fail')).severity, 'ignore', 'IMEX health, as the EKS agent');
  assert.equal(classify(defaults, { kind: 'counter', gpu, counter: 'ecc-dbe-volatile', value: 0 }), null);
});

test('sameAs: DCGM and kernel views of one fault share a key', () => {
  const dcgm = (code: number, result: 'warn' | 'fail', message = '') => ({ kind: 'dcgm-health' as const, gpu, system: 'mem', result, code, message });
  assert.equal(classify(defaults, dcgm(120, 'fail'))?.key, 'xid:79');
  assert.equal(classify(defaults, dcgm(81, 'fail'))?.key, 'xid:95');
  assert.equal(classify(defaults, dcgm(4, 'fail'))?.key, 'counter:ecc-dbe-volatile');
  assert.equal(classify(defaults, dcgm(126, 'fail'))?.key, 'recovery:2');
  assert.deepEqual(reasonFor(defaults, dcgm(101, 'fail', 'Detected XID 48 for GPU 0')), { key: 'xid:48', severity: 'fatal', reason: 'NvidiaXID48Error' });
  assert.deepEqual(reasonFor(defaults, dcgm(101, 'warn', 'XID 13 seen')), { key: 'xid:13', severity: 'warning', reason: 'NvidiaXID13Warning' });
  // No number in the message: the result decides.
  assert.deepEqual(reasonFor(defaults, dcgm(101, 'fail', 'an xid happened')), { key: 'dcgm:101', severity: 'fatal', reason: 'DCGMHealthCode101' });
  assert.equal(classify(defaults, { kind: 'fallen-off-bus', gpu, text: 'fallen off the bus' })?.key, 'xid:79');
});

test('SXids follow the record\'s own Fatal / Non-fatal flag', () => {
  const sxid = (fatal: boolean) => ({ kind: 'sxid' as const, gpu, code: 12028, switchIndex: 1, fatal, link: 4, text: '' });
  assert.deepEqual(reasonFor(defaults, sxid(true)), { key: 'sxid:12028', severity: 'fatal', reason: 'NvidiaSXID12028Error' });
  assert.deepEqual(reasonFor(defaults, sxid(false)), { key: 'sxid:12028', severity: 'warning', reason: 'NvidiaSXID12028Warning' });
});

test('Xid 154 recovery actions: reset, reboot and drain-and-reset are fatal, None is not', () => {
  const rec = (code: number) => classify(defaults, { kind: 'recovery-action', gpu, from: null, to: { code, name: '' } })?.entry;
  assert.equal(rec(1)?.reason, 'NvidiaGPURecoveryActionGPUReset');
  assert.equal(rec(1)?.severity, 'fatal');
  assert.equal(rec(2)?.reason, 'NvidiaGPURecoveryActionNodeReboot');
  assert.equal(rec(2)?.action, 'RESTART_BM');
  assert.equal(rec(4)?.reason, 'NvidiaGPURecoveryActionDrainAndReset');
  assert.equal(rec(4)?.severity, 'fatal');
  assert.equal(rec(0)?.severity, 'ignore');
});

test('identity evidence is no fault', () => {
  assert.equal(classify(defaults, { kind: 'gpu-identity', gpu: { pci: '0000:3b:00.0', uuid: 'GPU-1' } }), null);
  assert.equal(classify(defaults, { kind: 'gpu-inventory', gpus: [] }), null);
});

const V1 = 'apiVersion: gpu-health-agent/v1\n';

test('an override changes single fields and keeps the rest of the default entry', () => {
  const r = tableFromText(`${V1}xid:\n  109: {severity: fatal}\n  142: {severity: fatal, action: RESET_GPU}\nunknown:\n  xid: {severity: info}\n`, '/etc/rules/rules.yaml');
  assert.ok(r.ok);
  const e109 = r.table.entries.get('xid:109');
  assert.equal(e109?.severity, 'fatal');
  assert.equal(e109?.action, 'RESET_GPU');
  assert.match(e109?.description ?? '', /Context switch/);
  assert.equal(e109?.origin, '/etc/rules/rules.yaml');
  assert.equal(fillLevel(e109?.reason ?? '', 'fatal'), 'NvidiaXID109Error');
  // A code the defaults lack starts from the unknown default.
  assert.equal(reasonFor(r.table, xid(142)).reason, 'NvidiaXID142Error');
  assert.equal(reasonFor(r.table, xid(7777)).severity, 'info');
  // Untouched entries still come from the defaults.
  assert.equal(r.table.entries.get('xid:79')?.origin, 'defaults');
  assert.deepEqual([...r.table.overridden].sort(), ['unknown.xid', 'xid:109', 'xid:142']);
  assert.equal(r.table.origin, 'defaults + /etc/rules/rules.yaml');
});

test('version: 1 is accepted as well as apiVersion', () => {
  assert.ok(tableFromText('version: 1\nxid:\n  43: {severity: info}\n', 'f').ok);
});

function errorsOf(text: string): string[] {
  const r = tableFromText(text, 'rules.yaml');
  assert.ok(!r.ok, 'expected the document to be refused');
  return r.errors;
}

test('validation errors name the YAML path and what is wrong', () => {
  assert.deepEqual(errorsOf(`${V1}xid:\n  79: {severity: fatl}\n`), ['xid.79.severity: expected one of fatal|warning|info|ignore']);
  assert.deepEqual(errorsOf(`${V1}xid:\n  79: {severty: fatal}\n`), ['xid.79: unknown field "severty"']);
  assert.deepEqual(errorsOf(`${V1}xid:\n  79: {action: REBOOT}\n`), [
    'xid.79.action: expected one of REPLACE|RESTART_BM|CHECK_MECHANICALS|RESTART_VM|DRAIN_AND_RESET|RESET_GPU|RESET_FABRIC|CONTACT_SUPPORT|INVESTIGATE|RESTART_APP|IGNORE|NONE',
  ]);
  assert.deepEqual(errorsOf(`${V1}xid:\n  abc: {}\n`), ['xid.abc: expected the key to be an Xid number']);
  assert.deepEqual(errorsOf(`${V1}xid:\n  13: {escalation: {count: 1, window: 10m}}\n`), ['xid.13.escalation.count: expected a whole number from 2 to 100']);
  assert.deepEqual(errorsOf(`${V1}xid:\n  13: {escalation: {count: 3, window: 10 minutes}}\n`), [
    'xid.13.escalation.window: expected a duration such as 90s, 10m, 1h, got "10 minutes"',
  ]);
  assert.deepEqual(errorsOf(`${V1}xid:\n  13: {escalation: {count: 3}}\n`), ['xid.13.escalation.window: required']);
  assert.deepEqual(errorsOf(`${V1}xid:\n  13: {clearOn: [quiet, later]}\n`), ['xid.13.clearOn.1: expected one of reboot|gpu-reset|quiet|operator|recovered']);
  assert.deepEqual(errorsOf(`${V1}xid:\n  79: {clearOn: [quiet]}\n`), ['xid.79.quietWindow: required when clearOn includes quiet']);
  assert.deepEqual(errorsOf(`${V1}xid:\n  79: {reason: "GPU broke"}\n`), [
    'xid.79.reason: expected a CamelCase reason (letters, digits, _ , :), optionally with {code} and {level}',
  ]);
  assert.deepEqual(errorsOf(`${V1}counter:\n  ecc-sbe: {severity: fatal}\n`), [
    'counter.ecc-sbe: expected the key to be one of ecc-dbe-volatile|retired-pages-pending|row-remap-failure|row-remap-pending|nvlink-errors',
  ]);
  assert.deepEqual(errorsOf(`${V1}xids:\n  79: {}\n`), ['xids: unknown top-level key (expected apiVersion, unknown, ladder, xid, sxid, dcgm, counter, event, recovery, fabric)']);
  assert.deepEqual(errorsOf('xid:\n  79: {severity: fatal}\n'), ['apiVersion: required (apiVersion: gpu-health-agent/v1, or version: 1)']);
  assert.deepEqual(errorsOf('apiVersion: gpu-health-agent/v2\n'), ['apiVersion: expected gpu-health-agent/v1, got "gpu-health-agent/v2"']);
  assert.deepEqual(errorsOf(''), ['(document): empty; expected apiVersion and rule entries']);
  assert.match(errorsOf(`${V1}xid: [\n`)[0] ?? '', /^\(yaml\): .*line \d+, column \d+/);
  assert.match(errorsOf(`${V1}xid:\n  79: {severity: fatal}\n  79: {severity: info}\n`)[0] ?? '', /^\(yaml\): .*unique/i);
});

test('loadRuleFile reads a file, and names the path when it cannot', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rules-'));
  const good = join(dir, 'good.yaml');
  writeFileSync(good, `${V1}xid:\n  43: {severity: fatal}\n`);
  const ok = await loadRuleFile(good);
  assert.ok(ok.ok);
  assert.equal(ok.table.entries.get('xid:43')?.severity, 'fatal');
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, `${V1}xid:\n  43: {severity: nope}\n`);
  const no = await loadRuleFile(bad);
  assert.ok(!no.ok);
  assert.equal(no.error, `${bad}: xid.43.severity: expected one of fatal|warning|info|ignore`);
  const missing = await loadRuleFile(join(dir, 'missing.yaml'));
  assert.ok(!missing.ok);
  assert.match(missing.error, /missing\.yaml: cannot read: ENOENT/);
});

test('parseCodeSpec reads what `rules explain` accepts', () => {
  assert.deepEqual(parseCodeSpec('79'), { family: 'xid', code: 79, variant: null });
  assert.deepEqual(parseCodeSpec('xid:79'), { family: 'xid', code: 79, variant: null });
  assert.deepEqual(parseCodeSpec('SXID:12'), { family: 'sxid', code: 12, variant: null });
  assert.deepEqual(parseCodeSpec('dcgm:14/fail'), { family: 'dcgm', code: 14, variant: 'fail' });
  assert.deepEqual(parseCodeSpec('dcgm:warn'), { family: 'dcgm', code: 'warn', variant: 'warn' });
  assert.deepEqual(parseCodeSpec('counter:ecc-dbe-volatile'), { family: 'counter', code: 'ecc-dbe-volatile', variant: null });
  assert.deepEqual(parseCodeSpec('recovery:2'), { family: 'recovery', code: 2, variant: null });
  assert.equal(parseCodeSpec('foo:1'), null);
  assert.equal(parseCodeSpec('xid:abc'), null);
});

test('issue 14 entries: fabric states, AER, init failures, the ladder; each overridable, each checked', () => {
  const t = loadDefaults();
  assert.deepEqual(t.ladder, { repairs: 2, reason: 'NvidiaGPUFaultRecurring' });
  assert.equal(lookupEntry(t, 'fabric', 'manager', 'failure').entry.severity, 'fatal');
  assert.equal(lookupEntry(t, 'fabric', 'manager', 'in-progress').entry.severity, 'info');
  assert.equal(lookupEntry(t, 'fabric', 'manager', 'unknown').matched, 'unknown.fabric');
  assert.equal(lookupEntry(t, 'fabric', 'incorrect-configuration', 'unknown-12').entry.severity, 'warning');
  assert.equal(lookupEntry(t, 'event', 'pcie-aer-fatal', null).entry.severity, 'fatal');
  assert.equal(lookupEntry(t, 'event', 'pcie-aer-correctable', null).entry.escalation?.count, 9);
  assert.equal(lookupEntry(t, 'event', 'gpu-unusable', null).entry.escalation?.severity, 'fatal');
  const o = tableFromText(`${V1}ladder: {repairs: 4, reason: "{reason}Recurring"}\nfabric:\n  route-recovery/true: {severity: fatal}\n`, 'o.yaml');
  assert.ok(o.ok);
  assert.deepEqual(o.table.ladder, { repairs: 4, reason: '{reason}Recurring' });
  assert.deepEqual([...o.table.overridden].sort(), ['fabric:route-recovery/true', 'ladder.reason', 'ladder.repairs']);
  assert.deepEqual(errorsOf(`${V1}ladder: {repairs: 99}\n`), ['ladder.repairs: expected a whole number from 0 (off) to 15']);
  assert.deepEqual(errorsOf(`${V1}ladder: {reason: "not a reason"}\n`), ['ladder.reason: expected a CamelCase reason (letters, digits, _ , :), optionally with {reason}']);
  assert.deepEqual(errorsOf(`${V1}ladder: {after: 2}\n`), ['ladder: unknown field "after"']);
  assert.deepEqual(errorsOf(`${V1}fabric:\n  bogus: {severity: fatal}\n`), [
    'fabric.bogus: expected the key to be a fabric field (manager|degraded-bw|route-recovery|route-unhealthy|access-timeout-recovery|incorrect-configuration|gfm-state), optionally /STATE',
  ]);
  assert.deepEqual(parseCodeSpec('fabric:manager/failure'), { family: 'fabric', code: 'manager', variant: 'failure' });
  assert.deepEqual(parseCodeSpec('event:pcie-aer-fatal'), { family: 'event', code: 'pcie-aer-fatal', variant: null });
});
