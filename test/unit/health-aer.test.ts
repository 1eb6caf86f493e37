// PCIe AER on a GPU's link: the kernel's counters (sysfs) and its records. Fatal
// is fatal, non-fatal a warning, correctable a rate: one error stays info, more
// than DCGM's 8 a minute is a warning Event. Only the node's NVIDIA functions
// and the port right above each count; other devices' AER is not ours.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AerSeverity, Evidence, Observation } from '../../agent/model/evidence.ts';
import { fromSnapshot, toSnapshot, verdictOf } from '../../agent/health/index.ts';
import { GPU0, M, S, T0, at, feed, findings, rules, watched } from './health-fixtures.ts';

const PORT = '0000:3a:01.0';
const NIC = '0000:5e:00.0';

function bus(time: number, aerCounters: string[] = [GPU0.pci as string]): Observation {
  const evidence: Evidence = { kind: 'bus-scan', gpus: [GPU0.pci as string], switches: [], ports: [[PORT, GPU0.pci as string]], aerCounters, expectedGpus: null };
  return at(evidence, time, 'sysfs');
}

function counter(severity: AerSeverity, total: number, time: number): Observation {
  return at({ kind: 'pcie-aer', gpu: GPU0, severity, total, text: `${total} ${severity}` }, time, 'sysfs');
}

function record(severity: AerSeverity, pci: string, time: number, drill = false): Observation {
  return at({ kind: 'pcie-aer', gpu: { pci }, severity, total: null, text: `PCIe Bus Error: severity=${severity}` }, time, 'kmsg', drill);
}

test('a fatal AER record on the port above a GPU is a fatal finding on that GPU', () => {
  const r = feed(watched(), [bus(T0, []), record('fatal', PORT, T0 + S)]);
  const v = verdictOf(r.state, T0 + S);
  assert.equal(v.status, 'False');
  assert.equal(v.reason, 'NvidiaPCIeFatalError');
  assert.match(v.message, /on GPU \(0000:3b:00\.0\)/);
  assert.deepEqual(r.notices.map((n) => n.reason), ['NvidiaPCIeFatalError']);
});

test("another device's AER (a NIC, a disk) is not evidence, and says nothing: no finding, no notice", () => {
  const r = feed(watched(), [bus(T0), record('fatal', NIC, T0 + S)]);
  assert.equal(verdictOf(r.state, T0 + S).status, 'True');
  assert.deepEqual(r.notices, []);
  assert.equal([...r.state.gpus.values()].some((g) => g.findings.size > 0), false);
});

test('without a listing of the bus an AER address says nothing about whose device it is', () => {
  const r = feed(watched(), [record('fatal', GPU0.pci as string, T0)]);
  assert.equal(verdictOf(r.state, T0).status, 'True');
  // A drill names its GPU itself.
  const d = feed(watched(), [record('fatal', GPU0.pci as string, T0, true)]);
  assert.equal(verdictOf(d.state, T0).reason, 'NvidiaPCIeFatalError');
});

test('a single correctable error stays True and makes no Event; it is info in the state', () => {
  const r = feed(watched(), [bus(T0), counter('correctable', 1, T0 + S)]);
  assert.equal(verdictOf(r.state, T0 + S).status, 'True');
  assert.deepEqual(r.notices, []);
  assert.deepEqual(findings(r.state).map((f) => [f.key, f.entry.severity, f.count]), [['event:pcie-aer-correctable', 'info', 1]]);
});

test('correctable errors faster than 8 a minute: a warning Event, the condition stays True', () => {
  const r = feed(watched(), [bus(T0), counter('correctable', 2, T0 + S), counter('correctable', 5, T0 + 11 * S), counter('correctable', 12, T0 + 21 * S)]);
  assert.equal(verdictOf(r.state, T0 + 21 * S).status, 'True');
  const f = findings(r.state)[0];
  assert.equal(f?.escalated, true);
  assert.equal(f?.count, 12, 'each error counts, not each reading');
  // The escalation, and from then on the finding's own Event series (a warning now).
  assert.deepEqual(r.notices.map((n) => [n.reason, n.key.endsWith('/escalated')]), [['NvidiaPCIeCorrectableWarning', false], ['NvidiaPCIeCorrectableWarning', true]]);
  assert.match(r.notices[1]?.note ?? '', /Escalated: 9 occurrences within 60s on the gpu/);
});

test('the same number of correctable errors spread over an hour is no rate: no Event', () => {
  const obs = [bus(T0), counter('correctable', 1, T0)];
  for (let i = 1; i <= 12; i++) obs.push(counter('correctable', 1 + i, T0 + i * 5 * M));
  const r = feed(watched(), obs);
  assert.equal(findings(r.state)[0]?.escalated, false);
  assert.deepEqual(r.notices, []);
});

test("the counters' first reading is errors since boot, not a burst: one occurrence", () => {
  const r = feed(watched(), [bus(T0), counter('correctable', 400, T0)]);
  const f = findings(r.state)[0];
  assert.equal(f?.count, 400);
  assert.equal(f?.escalated, false);
});

test('where the kernel keeps counters, its record of the same error is detail: counted once', () => {
  const r = feed(watched(), [bus(T0), record('nonfatal', GPU0.pci as string, T0 + S), counter('nonfatal', 1, T0 + 2 * S), record('nonfatal', PORT, T0 + 9 * S), counter('nonfatal', 2, T0 + 10 * S)]);
  const f = findings(r.state)[0];
  assert.equal(f?.count, 2);
  assert.equal(verdictOf(r.state, T0 + 10 * S).status, 'True', 'non-fatal is a warning');
  assert.deepEqual(r.notices.map((n) => n.reason), ['NvidiaPCIeNonFatalWarning', 'NvidiaPCIeNonFatalWarning']);
});

test('without counters (no AER stats for the GPU) every record counts', () => {
  const r = feed(watched(), [bus(T0, []), record('nonfatal', GPU0.pci as string, T0 + S), record('nonfatal', GPU0.pci as string, T0 + 20 * S)]);
  assert.equal(findings(r.state)[0]?.count, 2);
});

test('a fatal counter is False; after a restart in the same boot the same total is not counted again', () => {
  const r = feed(watched(), [bus(T0), counter('fatal', 1, T0 + S)]);
  assert.equal(verdictOf(r.state, T0 + S).reason, 'NvidiaPCIeFatalError');
  const restored = fromSnapshot(JSON.parse(JSON.stringify(toSnapshot(r.state))), 'boot-1', rules, T0 + M).state;
  const again = feed(restored, [bus(T0 + M), counter('fatal', 1, T0 + M)]);
  assert.equal(findings(again.state)[0]?.count, 1);
  assert.deepEqual(again.notices, []);
  // A reboot clears it, as a fatal PCIe error needs one.
  const rebooted = fromSnapshot(JSON.parse(JSON.stringify(toSnapshot(again.state))), 'boot-2', rules, T0 + 2 * M).state;
  assert.equal(findings(rebooted).length, 0);
});
