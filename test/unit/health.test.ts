// Findings: identity, dedup (one fault counts once), escalation, Xid 154, drills.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeHealth, observe, SAME_OCCURRENCE_MS, verdictOf } from '../../agent/health/index.ts';
import { at, dcgm, feed, findings, GPU0, GPU1, M, override, recovery, rules, S, T0, watched, xid } from './health-fixtures.ts';

test('the same Xid on the same GPU raises count and last seen, not a new finding', () => {
  const { state, notices } = feed(watched(), [at(xid(79), T0), at(xid(79), T0 + 5 * S), at(xid(79), T0 + 20 * S)]);
  const fs = findings(state);
  assert.equal(fs.length, 1);
  assert.equal(fs[0]?.count, 3);
  assert.equal(fs[0]?.firstSeen, T0);
  assert.equal(fs[0]?.lastSeen, T0 + 20 * S);
  assert.equal(notices.length, 3);
  assert.equal(new Set(notices.map((n) => n.key)).size, 1, 'repeats are one Event series');
  assert.ok(notices.every((n) => n.reason === 'NvidiaXID79Error' && n.type === 'Warning'));
});

test('the kernel record and DCGM\'s report of one fault count once', () => {
  // DCGM's Xid stream and the kernel's line, seconds apart.
  let { state } = feed(watched(), [at(xid(48), T0, 'kmsg'), at(xid(48), T0 + 3 * S, 'dcgm')]);
  let f = findings(state)[0];
  assert.equal(f?.count, 1);
  assert.deepEqual(f?.sources, ['kmsg', 'dcgm']);
  // Later than the window from the other source: a new occurrence.
  ({ state } = feed(state, [at(xid(48), T0 + 3 * S + SAME_OCCURRENCE_MS + 1, 'dcgm')]));
  assert.equal(findings(state)[0]?.count, 2);

  // DCGM's health check repeats its (sticky) incident every poll: counted once, it only refreshes last seen.
  ({ state } = feed(watched(), [
    at(xid(79), T0, 'kmsg'),
    ...Array.from({ length: 10 }, (_, i) => at(dcgm(120, 'fail'), T0 + (i + 1) * 30 * S, 'dcgm')),
  ]));
  f = findings(state)[0];
  assert.equal(findings(state).length, 1);
  assert.equal(f?.key, 'xid:79');
  assert.equal(f?.count, 1);
  assert.equal(f?.lastSeen, T0 + 300 * S);

  // "fallen off the bus" and its Xid 79 line: one fault.
  ({ state } = feed(watched(), [
    at({ kind: 'fallen-off-bus', gpu: GPU0, text: 'NVRM: The NVIDIA GPU 0000:3b:00.0 ... has fallen off the bus.' }, T0),
    at(xid(79), T0 + 1),
  ]));
  assert.equal(findings(state).length, 1);
  assert.equal(findings(state)[0]?.count, 1);
});

test('a counter counts when its value changes, not when it is reported again', () => {
  const c = (value: number) => ({ kind: 'counter' as const, gpu: GPU0, counter: 'ecc-dbe-volatile' as const, value });
  const { state } = feed(watched(), [at(c(1), T0, 'nvml'), at(c(1), T0 + M, 'nvml'), at(c(1), T0 + 2 * M, 'dcgm'), at(c(3), T0 + 3 * M, 'nvml')]);
  const f = findings(state)[0];
  assert.equal(f?.count, 2);
  assert.equal(verdictOf(state, T0 + 3 * M).reason, 'NvidiaDoubleBitError');
});

test('identity: PCI from the kernel, UUID and index from DCGM end up on one GPU', () => {
  let { state } = feed(watched(), [at(xid(79, { pci: '0000:3B:00' }), T0)]);
  ({ state } = feed(state, [at({ kind: 'gpu-identity', gpu: { pci: '0000:3b:00.0', uuid: 'GPU-aaaa' } }, T0 + S)]));
  ({ state } = feed(state, [at({ kind: 'gpu-inventory', gpus: [{ pci: '00000000:3B:00.0', uuid: 'GPU-aaaa', index: 2 }] }, T0 + 2 * S, 'dcgm')]));
  ({ state } = feed(state, [at(dcgm(120, 'fail', { pci: null, uuid: 'GPU-aaaa' }), T0 + 3 * S, 'dcgm')]));
  ({ state } = feed(state, [at(xid(79, { pci: null, index: 2 }), T0 + 60 * S, 'nvml')]));
  assert.equal([...state.gpus.keys()].length, 1);
  const gpu = describeHealth(state).gpus[0];
  assert.deepEqual({ pci: gpu?.pci, uuid: gpu?.uuid, index: gpu?.index }, { pci: '0000:3b:00.0', uuid: 'GPU-aaaa', index: 2 });
  assert.equal(gpu?.findings.length, 1);
  assert.equal(gpu?.findings[0]?.count, 2);
  assert.match(verdictOf(state, T0 + M).message, /GPU 2 \(0000:3b:00\.0, GPU-aaaa\)/);

  // A record found by UUID alone, then linked to its PCI address: merged.
  ({ state } = feed(watched(), [at(xid(48, { pci: null, uuid: 'GPU-bbbb' }), T0, 'dcgm'), at(xid(79, GPU1), T0 + S)]));
  assert.equal(state.gpus.size, 2);
  ({ state } = feed(state, [at({ kind: 'gpu-identity', gpu: { pci: GPU1.pci, uuid: 'GPU-bbbb' } }, T0 + 2 * S)]));
  assert.equal(state.gpus.size, 1);
  assert.deepEqual(findings(state, `pci:${GPU1.pci}`).map((f) => f.key).sort(), ['xid:48', 'xid:79']);
});

test('escalation: Xid 13 from three different processes within the window becomes fatal', () => {
  // The same process crash-looping does not escalate.
  let { state } = feed(watched(), Array.from({ length: 10 }, (_, i) => at(xid(13, GPU0, 'train.py'), T0 + i * M)));
  assert.equal(findings(state)[0]?.count, 10);
  assert.equal(verdictOf(state, T0 + 10 * M).status, 'True');

  // Three distinct applications on one GPU within an hour do.
  const r = feed(watched(), [at(xid(13, GPU0, 'a'), T0), at(xid(13, GPU0, 'b'), T0 + 20 * M), at(xid(13, GPU0, 'c'), T0 + 40 * M)]);
  state = r.state;
  const v = verdictOf(state, T0 + 40 * M);
  assert.equal(v.status, 'False');
  assert.equal(v.reason, 'NvidiaXID13Error');
  assert.match(v.message, /action RESET_GPU/);
  const esc = r.notices.filter((n) => n.key.endsWith('/escalated'));
  assert.equal(esc.length, 1);
  assert.equal(esc[0]?.reason, 'NvidiaXID13Error');

  // Spread wider than the window: no escalation.
  ({ state } = feed(watched(), [at(xid(13, GPU0, 'a'), T0), at(xid(13, GPU0, 'b'), T0 + 40 * M), at(xid(13, GPU0, 'c'), T0 + 100 * M)]));
  assert.equal(verdictOf(state, T0 + 100 * M).status, 'True');
});

test('escalation by plain count, per GPU and per node', () => {
  const nv = (value: number) => ({ kind: 'counter' as const, gpu: GPU0, counter: 'nvlink-errors' as const, value });
  let { state } = feed(watched(), [at(nv(1), T0, 'nvml'), at(nv(2), T0 + M, 'nvml')]);
  assert.equal(verdictOf(state, T0 + M).status, 'True');
  ({ state } = feed(state, [at(nv(3), T0 + 2 * M, 'nvml')]));
  assert.equal(verdictOf(state, T0 + 2 * M).reason, 'NvidiaNVLinkError');
  assert.equal(verdictOf(state, T0 + 2 * M).status, 'False');

  const table = override('xid:\n  43: {escalation: {count: 3, window: 10m, scope: node, severity: fatal}}\n');
  ({ state } = feed(watched(), [at(xid(43, GPU0), T0), at(xid(43, GPU1), T0 + M)], table));
  assert.equal(verdictOf(state, T0 + M).status, 'True');
  ({ state } = feed(state, [at(xid(43, GPU1), T0 + 2 * M)], table));
  const v = verdictOf(state, T0 + 2 * M);
  assert.equal(v.status, 'False');
  assert.equal(v.reason, 'NvidiaXID43Error');
  assert.ok(findings(state).every((f) => f.escalated) && findings(state, `pci:${GPU1.pci}`).every((f) => f.escalated), 'both GPUs escalate');
});

test('unknown codes are warnings: an Event, no condition change', () => {
  const { state, notices } = feed(watched(), [at(xid(4242), T0)]);
  assert.equal(verdictOf(state, T0).status, 'True');
  assert.equal(notices[0]?.reason, 'NvidiaXID4242Warning');
  assert.equal(notices[0]?.type, 'Warning');
  assert.equal(describeHealth(state).gpus[0]?.findings[0]?.rule, 'unknown default (defaults)');
});

test('Xid 154: the driver\'s action overrides the table for that GPU; back to None is recovery', () => {
  // An NVLink5 Xid alone is a warning ...
  let { state } = feed(watched(), [at(xid(145), T0), at(xid(74, GPU1), T0 + S)]);
  assert.equal(verdictOf(state, T0).status, 'False', 'GPU1 has Xid 74');
  assert.equal(verdictOf(state, T0).reason, 'NvidiaXID74Error');
  // ... until the driver asks for a reset on that GPU.
  ({ state } = feed(state, [at(recovery(1), T0 + 2 * S)]));
  let v = verdictOf(state, T0 + 2 * S);
  assert.equal(v.reason, 'NvidiaXID74Error', 'both RESET_GPU: the older one leads');
  assert.match(v.message, /NvidiaGPURecoveryActionGPUReset on GPU \(0000:3b:00\.0\)/);
  // The driver changes its mind: reboot. The newer verdict replaces the older on that GPU.
  ({ state } = feed(state, [at(recovery(2), T0 + 3 * S)]));
  v = verdictOf(state, T0 + 3 * S);
  assert.equal(v.reason, 'NvidiaGPURecoveryActionNodeReboot', 'reboot beats reset');
  assert.doesNotMatch(v.message, /GPURecoveryActionGPUReset/);
  assert.deepEqual(findings(state).map((f) => f.key).sort(), ['recovery:2', 'xid:145']);
  // Back to None on GPU0: its recovery findings and what a reset clears go; GPU1 is untouched.
  const r = observe(state, at(recovery(0), T0 + 10 * M), rules, T0 + 10 * M);
  state = r.state;
  assert.deepEqual(findings(state).map((f) => f.key), ['xid:145'], 'the NVLink5 warning clears on quiet, not on reset');
  assert.equal(r.notices.length, 1);
  assert.equal(r.notices[0]?.reason, 'GPUFindingCleared');
  assert.equal(r.notices[0]?.type, 'Normal');
  assert.match(r.notices[0]?.note ?? '', /recovery action is back to None/);
  assert.equal(verdictOf(state, T0 + 10 * M).reason, 'NvidiaXID74Error', 'GPU1 still broken');
  // A drill's None does not clear real findings.
  ({ state } = feed(state, [at(recovery(0, GPU1), T0 + 11 * M, 'kmsg', true)]));
  assert.equal(verdictOf(state, T0 + 11 * M).reason, 'NvidiaXID74Error');
  ({ state } = feed(state, [at(recovery(0, GPU1), T0 + 12 * M)]));
  assert.equal(verdictOf(state, T0 + 12 * M).status, 'True');
});

test('drill findings are labelled everywhere and kept apart from real ones', () => {
  const r = feed(watched(), [at(xid(79), T0, 'kmsg', true)]);
  let state = r.state;
  assert.equal(r.notices[0]?.drill, true);
  assert.match(r.notices[0]?.note ?? '', /^\[drill\] NvidiaXID79Error/);
  const v = verdictOf(state, T0);
  assert.equal(v.status, 'False');
  assert.match(v.message, /^\[drill\] NvidiaXID79Error/);
  assert.equal(describeHealth(state).gpus[0]?.findings[0]?.drill, true);
  // A real Xid 79 is its own finding, not a repeat of the drill.
  ({ state } = feed(state, [at(xid(79), T0 + S)]));
  const fs = findings(state);
  assert.equal(fs.length, 2);
  assert.deepEqual(fs.map((f) => [f.drill, f.count]), [[true, 1], [false, 1]]);
});
