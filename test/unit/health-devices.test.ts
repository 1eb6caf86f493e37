// A kernel record is evidence about a GPU only when it names one of this node's
// NVIDIA devices (sysfs, the driver's identity lines, DCGM/NVML inventories).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromSnapshot, learnDevices, toSnapshot, verdictOf } from '../../agent/health/index.ts';
import { GPU0, GPU1, M, T0, at, feed, rules, watched, xid } from './health-fixtures.ts';

const OTHER = { pci: '0000:c1:00.0' };

test('with no device known, the format check alone decides: a fatal Xid on any address counts', () => {
  const { state } = feed(watched(), [at(xid(79, OTHER), T0)]);
  assert.equal(verdictOf(state, T0).status, 'False');
});

test('a kernel Xid naming a device the node does not have is no finding: a warning notice and a count', () => {
  const state = watched();
  learnDevices(state, [GPU0.pci, GPU1.pci], 'sysfs');
  const r = feed(state, [at(xid(79, OTHER), T0), at(xid(48, { pci: null }), T0 + M)]);
  assert.equal(verdictOf(r.state, T0 + M).status, 'True');
  assert.deepEqual(r.notices.map((n) => [n.type, n.reason, n.key]), [
    ['Warning', 'GPUHealthRecordRejected', 'evidence/foreign-device'],
    ['Warning', 'GPUHealthRecordRejected', 'evidence/foreign-device'],
  ]);
  assert.match(r.notices[0]?.note ?? '', /Xid 79 names 0000:c1:00\.0, which is not one of this node's 2 NVIDIA devices/);
  assert.deepEqual(r.state.devices.foreign, { kmsg: 2 });
  assert.equal([...r.state.gpus.values()].some((g) => g.findings.size > 0), false);
});

test('the same Xid on a device the node has is fatal', () => {
  const state = watched();
  learnDevices(state, ['0000:3B:00'], 'sysfs');
  const { state: s } = feed(state, [at(xid(79, { pci: '0000:3b:00.0' }), T0)]);
  assert.equal(verdictOf(s, T0).status, 'False');
});

test('identity lines alone do not make the list binding: only sysfs lists every device on the bus', () => {
  const r = feed(watched(), [at({ kind: 'gpu-identity', gpu: { pci: GPU0.pci, uuid: 'GPU-1' } }, T0), at(xid(79, OTHER), T0 + M)]);
  assert.equal(r.state.devices.listed, false);
  assert.equal(verdictOf(r.state, T0 + M).status, 'False');
});

test('the driver identity line and the management stack name devices; a drill does not', () => {
  const state = watched();
  learnDevices(state, [GPU0.pci], 'sysfs');
  const r = feed(state, [
    at({ kind: 'gpu-identity', gpu: { pci: GPU1.pci, uuid: 'GPU-2' } }, T0),
    at({ kind: 'gpu-inventory', gpus: [{ pci: '0000:da:00.0', uuid: 'GPU-3', index: 2 }] }, T0, 'nvml'),
    at({ kind: 'gpu-identity', gpu: { pci: OTHER.pci, uuid: 'GPU-4' } }, T0, 'kmsg', true),
  ]);
  assert.deepEqual([...r.state.devices.known], [[GPU0.pci, 'sysfs'], [GPU1.pci, 'kernel'], ['0000:da:00.0', 'nvml']]);
});

test('drills and the management stack are not held to the device list', () => {
  const state = watched();
  learnDevices(state, [GPU0.pci], 'sysfs');
  const r = feed(state, [at(xid(79, OTHER), T0, 'kmsg', true), at(xid(48, { pci: '0000:c2:00.0' }), T0, 'dcgm')]);
  const reasons = [...r.state.gpus.values()].flatMap((g) => [...g.findings.values()].map((f) => f.key));
  assert.deepEqual(reasons.sort(), ['xid:48', 'xid:79']);
});

test('the device list survives a restart in the same boot, not a reboot', () => {
  const state = watched();
  learnDevices(state, [GPU0.pci], 'sysfs');
  const snap = JSON.parse(JSON.stringify(toSnapshot(state))) as unknown;
  assert.deepEqual([...fromSnapshot(snap, 'boot-1', rules, T0).state.devices.known.keys()], [GPU0.pci]);
  assert.deepEqual([...fromSnapshot(snap, 'boot-2', rules, T0).state.devices.known.keys()], []);
  // A file an older agent wrote has no device list: restored with none.
  const { devices: _, ...old } = snap as Record<string, unknown>;
  assert.equal(fromSnapshot(old, 'boot-1', rules, T0).state.devices.known.size, 0);
});
