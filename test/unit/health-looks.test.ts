// GPUs that never come up: on the bus (sysfs), the driver logged RmInitAdapter
// failed, and NVML/DCGM (or, without them, the Node's capacity) lacks it, on two
// looks in a row: fatal, with the PCI address. A busy GPU the driver brings up on
// a retry, or one merely missing from an inventory, stays True.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Evidence, Observation } from '../../agent/model/evidence.ts';
import { fromSnapshot, toSnapshot, updateSource, verdictOf } from '../../agent/health/index.ts';
import type { HealthState } from '../../agent/health/index.ts';
import { GPU0, GPU1, S, T0, at, feed, findings, rules, source, watched } from './health-fixtures.ts';

const A = GPU0.pci as string;
const B = GPU1.pci as string;

function look(time: number, expectedGpus: number | null = null, gpus = [A, B]): Observation {
  const evidence: Evidence = { kind: 'bus-scan', gpus, switches: [], ports: [], aerCounters: [], expectedGpus };
  return at(evidence, time, 'sysfs');
}

const initFailed = (pci: string, time: number, drill = false): Observation =>
  at({ kind: 'gpu-init-failed', gpu: { pci }, text: 'RmInitAdapter failed! (0x22:0x56:894)' }, time, 'kmsg', drill);

const inventory = (pcis: string[], time: number): Observation =>
  at({ kind: 'gpu-inventory', gpus: pcis.map((pci, index) => ({ pci, uuid: `GPU-${index}`, index })) }, time, 'nvml');

function withNvml(): HealthState {
  return updateSource(watched(), source('nvml', 'up', T0), T0).state;
}

test('failed init, NVML lists only the other GPU: info on the first look, fatal on the second, naming the PCI address', () => {
  const r1 = feed(withNvml(), [look(T0), inventory([B], T0), initFailed(A, T0 + S), look(T0 + 10 * S)]);
  assert.equal(verdictOf(r1.state, T0 + 10 * S).status, 'True', 'one look is not enough');
  assert.deepEqual(r1.notices.map((n) => n.reason), ['NvidiaGPUInitFailedWarning']);
  const r2 = feed(r1.state, [look(T0 + 20 * S)]);
  const v = verdictOf(r2.state, T0 + 20 * S);
  assert.equal(v.status, 'False');
  assert.equal(v.reason, 'NvidiaGPUUnusableError');
  assert.match(v.message, /0000:3b:00\.0/);
  assert.match(r2.notices.map((n) => n.note).join('\n'), /not usable: NVML lists 1 GPU\(s\), not this one/);
});

test('a busy GPU the driver brings up on a retry stays True: the next look finds it listed, and the failure is forgotten', () => {
  const r = feed(withNvml(), [look(T0), inventory([B], T0), initFailed(A, T0 + S), look(T0 + 10 * S), inventory([A, B], T0 + 15 * S), look(T0 + 20 * S), look(T0 + 30 * S)]);
  assert.equal(verdictOf(r.state, T0 + 30 * S).status, 'True');
  assert.equal(r.state.devices.initFailed.size, 0);
  assert.deepEqual(findings(r.state).map((f) => f.key), ['event:gpu-init-failed'], 'only the warning about the record');
});

test('looks must be in a row: a usable look between two unusable ones starts the count again', () => {
  const s = feed(withNvml(), [look(T0), inventory([B], T0), initFailed(A, T0 + S), look(T0 + 10 * S), inventory([A, B], T0 + 11 * S), look(T0 + 12 * S)]).state;
  const r = feed(s, [inventory([B], T0 + 13 * S), initFailed(A, T0 + 14 * S), look(T0 + 20 * S)]);
  assert.equal(verdictOf(r.state, T0 + 20 * S).status, 'True');
  assert.equal(verdictOf(feed(r.state, [look(T0 + 30 * S)]).state, T0 + 30 * S).status, 'False');
});

test('a GPU missing from an inventory without any init failure is not this check: True', () => {
  const r = feed(withNvml(), [look(T0), inventory([B], T0), look(T0 + 10 * S), look(T0 + 20 * S), look(T0 + 30 * S)]);
  assert.equal(verdictOf(r.state, T0 + 30 * S).status, 'True');
  assert.deepEqual(r.notices, []);
});

test("without NVML or DCGM the Node's capacity decides: short of the GPUs on the bus is fatal, enough is usable", () => {
  const short = feed(watched(), [initFailed(A, T0), look(T0 + S, 1), look(T0 + 2 * S, 1)]);
  assert.equal(verdictOf(short.state, T0 + 2 * S).reason, 'NvidiaGPUUnusableError');
  assert.match(verdictOf(short.state, T0 + 2 * S).message, /0000:3b:00\.0/);
  const enough = feed(watched(), [initFailed(A, T0), look(T0 + S, 2), look(T0 + 2 * S, 2)]);
  assert.equal(verdictOf(enough.state, T0 + 2 * S).status, 'True');
});

test('with nothing to judge by (no NVML, DCGM or capacity) the record alone stays a warning', () => {
  const r = feed(watched(), [initFailed(A, T0), look(T0 + S), look(T0 + 2 * S), look(T0 + 3 * S)]);
  assert.equal(verdictOf(r.state, T0 + 3 * S).status, 'True');
  assert.deepEqual(findings(r.state).map((f) => f.key), ['event:gpu-init-failed']);
});

test('an NVML that is down is not asked; a GPU gone from the bus is not this check', () => {
  const down = updateSource(withNvml(), source('nvml', 'down', T0), T0).state;
  const r = feed(down, [inventory([B], T0), initFailed(A, T0), look(T0 + S), look(T0 + 2 * S)]);
  assert.equal(verdictOf(r.state, T0 + 2 * S).status, 'True');
  const gone = feed(withNvml(), [inventory([B], T0), initFailed(A, T0), look(T0 + S, null, [B]), look(T0 + 2 * S, null, [B])]);
  assert.equal(verdictOf(gone.state, T0 + 2 * S).status, 'True');
});

test('the failure is remembered across a restart in the same boot, and forgotten on reboot', () => {
  const s = feed(withNvml(), [inventory([B], T0), initFailed(A, T0)]).state;
  const same = fromSnapshot(JSON.parse(JSON.stringify(toSnapshot(s))), 'boot-1', rules, T0 + S).state;
  assert.deepEqual([...same.devices.initFailed.keys()], [A]);
  const next = fromSnapshot(JSON.parse(JSON.stringify(toSnapshot(s))), 'boot-2', rules, T0 + S).state;
  assert.equal(next.devices.initFailed.size, 0);
});

test('a drill of the failure goes the same way, labelled drill', () => {
  const r = feed(withNvml(), [inventory([B], T0), initFailed(A, T0, true), look(T0 + S), look(T0 + 2 * S)]);
  const v = verdictOf(r.state, T0 + 2 * S);
  assert.equal(v.reason, 'NvidiaGPUUnusableError');
  assert.match(v.message, /\[drill\]/);
});

test('the number of looks is the rule table\'s: gpu-unusable escalation count 3', async () => {
  const { override } = await import('./health-fixtures.ts');
  const table = override('event:\n  gpu-unusable: {escalation: {count: 3, window: 10m, severity: fatal}}\n');
  const two = feed(withNvml(), [inventory([B], T0), initFailed(A, T0), look(T0 + S), look(T0 + 2 * S)], table);
  assert.equal(verdictOf(two.state, T0 + 2 * S).status, 'True');
  assert.equal(verdictOf(feed(two.state, [look(T0 + 3 * S)], table).state, T0 + 3 * S).status, 'False');
});
