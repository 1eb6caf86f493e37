// The PCI bus under --sysfs-root: NVIDIA functions, the port above each, and the
// kernel's AER counters as evidence (the sum over the link's two ends, when it
// rose). Root-port totals are metrics only. A real directory tree, no sleeps.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAerFile, readAerCounts, readRootPortTotals } from '../../agent/sources/sysfs/aer.ts';
import { lookAtBus } from '../../agent/sources/sysfs/bus.ts';
import { scanNvidiaFunctions } from '../../agent/sources/sysfs/nvidia-devices.ts';
import { SysfsTree } from '../helpers/sysfs-tree.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tree(): SysfsTree {
  const root = mkdtempSync(join(tmpdir(), 'gha-sysfs-'));
  dirs.push(root);
  return new SysfsTree(root, [
    { bdf: '0000:00:01.0', vendor: '0x8086', cls: '0x060400' }, // root port
    { bdf: '0000:01:00.0', vendor: '0x10b5', cls: '0x060400', parent: '0000:00:01.0' }, // switch upstream port
    { bdf: '0000:02:00.0', vendor: '0x10b5', cls: '0x060400', parent: '0000:01:00.0' }, // switch downstream port
    { bdf: '0000:03:00.0', vendor: '0x10de', cls: '0x030200', parent: '0000:02:00.0' }, // the GPU
    { bdf: '0000:02:01.0', vendor: '0x10b5', cls: '0x060400', parent: '0000:01:00.0' },
    { bdf: '0000:04:00.0', vendor: '0x15b3', cls: '0x020700', parent: '0000:02:01.0' }, // a NIC on the same switch
  ]);
}

const read = { aer: readAerCounts, rootPort: readRootPortTotals };
const devicesDir = (t: SysfsTree) => join(t.root, 'bus/pci/devices');

test('the kernel counter files: bits with counts, the TOTAL line, nothing else', () => {
  assert.deepEqual(parseAerFile('RxErr 3\nBadTLP 0\ncor_errs_bit[9] 2\nTOTAL_ERR_COR 5\n', 'TOTAL_ERR_COR'), { total: 5, bits: { RxErr: 3, 'cor_errs_bit[9]': 2 } });
  assert.equal(parseAerFile('RxErr 3\n', 'TOTAL_ERR_COR'), null, 'no TOTAL: not the kernel format');
  assert.equal(parseAerFile('garbage\n\0\0', 'TOTAL_ERR_FATAL'), null);
});

test('each NVIDIA function is listed with the port right above it and its root port', () => {
  const t = tree();
  const scan = scanNvidiaFunctions(t.root);
  assert.deepEqual(scan.devices.map((d) => [d.pci, d.kind, d.upstream, d.rootPort]), [['0000:03:00.0', 'gpu', '0000:02:00.0', '0000:00:01.0']]);
});

test('a look: the bus, then AER evidence as the sum of the GPU and its port, only when it rose', () => {
  const t = tree();
  t.aer('0000:03:00.0', { correctable: 1 });
  t.aer('0000:02:00.0', { correctable: 2, fatal: 0 });
  t.aer('0000:04:00.0', { fatal: 7 }); // the NIC's: not the GPU's link
  t.rootPort('0000:00:01.0', { correctable: 40, fatal: 7 });
  const last = new Map<string, number>();
  const scan = scanNvidiaFunctions(t.root);
  const first = lookAtBus(scan, devicesDir(t), read, last, 1000, 8);
  assert.deepEqual(first.observations[0]?.evidence, {
    kind: 'bus-scan', gpus: ['0000:03:00.0'], switches: [], ports: [['0000:02:00.0', '0000:03:00.0']], aerCounters: ['0000:03:00.0'], expectedGpus: 8,
  });
  assert.deepEqual(first.observations.slice(1).map((o) => o.evidence.kind === 'pcie-aer' && [o.evidence.gpu.pci, o.evidence.severity, o.evidence.total]), [['0000:03:00.0', 'correctable', 3]]);
  assert.match(first.observations[1]?.evidence.kind === 'pcie-aer' ? first.observations[1].evidence.text : '', /device 1 \(RxErr 1\), port 0000:02:00\.0 2 \(RxErr 2\)/);
  assert.deepEqual(first.samples.filter((s) => s.role === 'rootport').map((s) => [s.pci, s.severity, s.value]), [
    ['0000:00:01.0', 'correctable', 40], ['0000:00:01.0', 'nonfatal', 0], ['0000:00:01.0', 'fatal', 7],
  ]);
  // Nothing rose: no evidence but the look itself.
  assert.equal(lookAtBus(scan, devicesDir(t), read, last, 2000, 8).observations.length, 1);
  t.aer('0000:02:00.0', { correctable: 2, fatal: 1 });
  const third = lookAtBus(scan, devicesDir(t), read, last, 3000, 8);
  assert.deepEqual(third.observations.slice(1).map((o) => o.evidence.kind === 'pcie-aer' && [o.evidence.severity, o.evidence.total]), [['fatal', 1]]);
});

test('a GPU without AER stats (no files) yields the look only; a sysfs root that is not there is an error', () => {
  const t = tree();
  const r = lookAtBus(scanNvidiaFunctions(t.root), devicesDir(t), read, new Map(), 1000, null);
  assert.deepEqual(r.observations.map((o) => o.evidence.kind), ['bus-scan']);
  assert.match(scanNvidiaFunctions(join(t.root, 'nope')).error ?? '', /ENOENT/);
});
