import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createNvidiaLineParser, recogniseLine, type NvidiaRecord } from '../../agent/parse/nvidia.ts';
import { toObservation } from '../../agent/parse/observation.ts';
import { isDrillText } from '../../agent/parse/drill-marker.ts';
import { formatDrill } from '../../agent/sources/kmsg/drill.ts';

function one(line: string): NvidiaRecord {
  const r = recogniseLine(line);
  assert.ok(r, `no record for ${line}`);
  return r;
}

test('Xid address forms: PCI:, none, two-part, redacted, MIG GI/CI, no address', () => {
  assert.equal(one('NVRM: Xid (PCI:0000:3b:00): 79, pid=1, name=a, x').pci, '0000:3b:00.0');
  assert.equal(one('NVRM: Xid (0000:3b:00): 79, x').pci, '0000:3b:00.0');
  assert.equal(one('NVRM: Xid (3b:00): 79, x').pci, '0000:3b:00.0');
  const red = one('NVRM: Xid (PCI:XXXX:XX:XX): 79, pid=1, name=a, GPU has fallen off the bus.');
  assert.equal(red.kind, 'xid');
  assert.equal(red.pci, null);
  assert.equal(red.code, 79);
  assert.equal(one('NVRM: Xid (PCI:<removed>): 48, DBE').code, 48);
  const mig = one('NVRM: Xid (PCI:0000:3b:00 GPU-I:01 GPU-CI:02): 13, pid=9, name=a, Graphics Exception');
  assert.ok(mig.kind === 'xid');
  assert.equal(mig.gpuInstance, 1);
  assert.equal(mig.computeInstance, 2);
  assert.equal(mig.pci, '0000:3b:00.0');
  const none = one('NVRM: Xid: 79, GPU has fallen off the bus.');
  assert.equal(none.pci, null);
  assert.equal(none.code, 79);
  assert.equal(one('NVRM: Xid 79, x').code, 79);
  assert.equal(one('NVRM: Xid (): 31, x').pci, null);
});

test('pid forms and free text are kept', () => {
  const r = one("NVRM: Xid (PCI:0000:3b:00): 31, pid='<unknown>', name=<unknown>, Ch 00000008, intr 0");
  assert.ok(r.kind === 'xid');
  assert.deepEqual([r.pid, r.processName, r.text], [null, null, 'Ch 00000008, intr 0']);
  const n = one("NVRM: Xid (PCI:0000:3b:00): 74, pid='N/A', NVLink: fatal error detected on link 2");
  assert.ok(n.kind === 'xid');
  assert.equal(n.pid, null);
  assert.equal(n.text, 'NVLink: fatal error detected on link 2');
});

test('Xid 154: both actions as number and name; "to" only form; unknown shape falls back to xid', () => {
  const r = one('NVRM: Xid (PCI:0000:3b:00): 154, GPU recovery action changed from 0x0 (None) to 0x4 (Drain and Reset)');
  assert.ok(r.kind === 'xid154');
  assert.deepEqual(r.from, { code: 0, name: 'None' });
  assert.deepEqual(r.to, { code: 4, name: 'Drain and Reset' });
  const t = one('NVRM: Xid (PCI:0000:3b:00): 154, GPU recovery action changed to 0x2 (Node Reboot Required)');
  assert.ok(t.kind === 'xid154');
  assert.equal(t.from, null);
  assert.equal(t.to.code, 2);
  assert.equal(one('NVRM: Xid (PCI:0000:3b:00): 154, something else').kind, 'xid');
});

test('SXid without a switch prefix and with an unusual severity spelling', () => {
  const r = one('SXid (PCI:0000:c3:00.0): 24007, Fatal, Link 30 sourcetrack timeout error');
  assert.ok(r.kind === 'sxid');
  assert.deepEqual([r.switchIndex, r.fatal, r.link, r.part], [null, true, 30, 'header']);
  const s = one('nvidia-nvswitch12: SXid (PCI:0000:05:00.0): 11004, Nonfatal, Link 3 ingress invalid ACL');
  assert.ok(s.kind === 'sxid');
  assert.deepEqual([s.switchIndex, s.fatal, s.link], [12, false, 3]);
});

test('fallen off the bus: one kmsg record with embedded newlines is joined', () => {
  const p = createNvidiaLineParser();
  const recs = p.push('NVRM: The NVIDIA GPU 0000:b3:00.0\nNVRM: (PCI ID: 10de:26b5) installed in this system has\nNVRM: fallen off the bus and is not responding to commands.\n');
  assert.equal(recs.length, 1);
  const r = recs[0];
  assert.ok(r?.kind === 'fallen-off-bus');
  assert.equal(r.pci, '0000:b3:00.0');
  assert.equal(r.pciId, '10de:26b5');
  assert.equal(r.text, 'The NVIDIA GPU 0000:b3:00.0 (PCI ID: 10de:26b5) installed in this system has fallen off the bus and is not responding to commands.');
});

test('fallen off the bus: two-line form, and the join window expires', () => {
  const p = createNvidiaLineParser();
  assert.deepEqual(p.push('NVRM: The NVIDIA GPU 0000:01:00.0 (PCI ID: 10de:2d04) installed in this system has'), []);
  const [r] = p.push('NVRM: fallen off the bus and is not responding to commands.');
  assert.ok(r?.kind === 'fallen-off-bus');
  assert.equal(r.pci, '0000:01:00.0');
  assert.equal(r.spanLines, 2);

  const q = createNvidiaLineParser();
  q.push('NVRM: The NVIDIA GPU 0000:01:00.0 (PCI ID: 10de:1234) installed in this system is');
  for (let i = 0; i < 6; i++) q.push(`NVRM: unrelated ${i}`);
  const [late] = q.push('NVRM: fallen off the bus and is not responding to commands.');
  assert.ok(late?.kind === 'fallen-off-bus');
  assert.equal(late.pci, null, 'too far from its start: not attributed to that GPU');
});

test('the unsupported-GPU message starts like fallen-off-bus but is not an event', () => {
  const p = createNvidiaLineParser();
  const out = p.push('NVRM: The NVIDIA GPU 0000:01:00.0 (PCI ID: 10de:1234)\nNVRM: installed in this system is not supported by the\nNVRM: NVIDIA 535.54.03 driver release.\n');
  assert.deepEqual(out, []);
});

test('negatives: module loading, nvidia-modeset, API mismatch, AER lines that report no error, stack frames, Xorg, other NVRM lines', () => {
  const p = createNvidiaLineParser();
  for (const line of [
    'NVRM: loading NVIDIA UNIX x86_64 Kernel Module  535.183.01  Sun May 12 19:39:15 UTC 2024',
    'nvidia-modeset: Loading NVIDIA Kernel Mode Setting Driver for UNIX platforms  535.183.01',
    'nvidia-nvlink: Nvlink Core is being initialized, major device number 237',
    'NVRM: API mismatch: the client has the version 535.54.03, but\nNVRM: this kernel module has the version 530.30.02.',
    'nvidia 0000:3b:00.0: AER: can\'t recover (no error_detected callback)',
    'pcieport 0000:00:1c.0: AER: enabled with IRQ 122',
    'nvidia 0000:3b:00.0: AER:   device [10de:2330] error status/mask=00000001/0000e000',
    'pcieport 0000:00:1c.5: AER: Corrected error received: id=00e5',
    '00000000c7da3938: ffffffffc2202667 (_nv012865rm+0x77/0x330 [nvidia])',
    '(EE) NVIDIA(GPU-0): Failed to initialize the NVIDIA GPU at PCI:1:0:0.  Please',
    'NVRM: GPU Board Serial Number: 1650423013443',
    'NVRM: RmInitAdapter: osInitNvMapping failed, bailing out of RmInitAdapter',
    'NVRM: Xid is a word here but no code follows',
    'nvidia-uvm: Loaded the UVM driver, major device number 508.',
    'NVRM: nvidia-bug-report.sh mentions fallen-off-the-bus recovery',
  ]) {
    assert.deepEqual(p.push(line), [], line);
  }
});

test('drills: formatted lines carry the tag and are recognised as records', () => {
  const line = formatDrill({ xid: 79, pci: '0000:3B:00.0', text: 'run=abc GPU has fallen off the bus.' });
  assert.match(line, /^<12>gpu-health-agent-drill: NVRM: Xid \(PCI:0000:3b:00\): 79, \[DRILL\] run=abc/);
  const body = line.slice(4);
  assert.ok(isDrillText(body));
  const r = one(body);
  assert.equal(r.kind, 'xid');
  assert.equal(r.code, 79);
  assert.equal(r.pci, '0000:3b:00.0');
  const s = one(formatDrill({ sxid: 24007, fatal: true, link: 30, switchIndex: 2, pci: '0000:c3:00.0' }).slice(4));
  assert.ok(s.kind === 'sxid');
  assert.deepEqual([s.switchIndex, s.fatal, s.link], [2, true, 30]);
  const f = one(formatDrill({ fallenOffBus: true, pci: '0000:b3:00.0' }).slice(4));
  assert.equal(f.kind, 'fallen-off-bus');
  assert.equal(f.pci, '0000:b3:00.0');
  assert.throws(() => formatDrill({ pci: 'nope', xid: 1 }));
  assert.throws(() => formatDrill({ pci: '3b:00' }));
  // A process name is not at the start of a message: it cannot make a real Xid look like a drill.
  assert.equal(isDrillText('NVRM: Xid (PCI:0000:3b:00): 13, pid=1, name=gpu-health-agent-drill, x'), false);
});

test('observation adapter: kinds map onto the shared model', () => {
  const at = 1_700_000_000_000;
  const x = toObservation(one('NVRM: Xid (PCI:0000:3b:00): 79, pid=5, name=p, GPU has fallen off the bus.'), 'kmsg', at, false);
  assert.deepEqual(x, {
    evidence: { kind: 'xid', gpu: { pci: '0000:3b:00.0', uuid: null, index: null }, code: 79, pid: 5, processName: 'p', text: 'GPU has fallen off the bus.' },
    source: 'kmsg', at, drill: false,
  });
  const ra = toObservation(one('NVRM: Xid (PCI:0000:3b:00): 154, GPU recovery action changed from 0x0 (None) to 0x2 (Node Reboot Required)'), 'logfile', at, true);
  assert.deepEqual(ra?.evidence, { kind: 'recovery-action', gpu: { pci: '0000:3b:00.0', uuid: null, index: null }, from: { code: 0, name: 'None' }, to: { code: 2, name: 'Node Reboot Required' } });
  assert.equal(ra?.drill, true);
  const id = toObservation(one('NVRM: GPU at PCI:0000:00:05: GPU-efbdfde9-5798-a6e7-4c46-12518fa15375'), 'kmsg', at, false);
  assert.deepEqual(id?.evidence, { kind: 'gpu-identity', gpu: { pci: '0000:00:05.0', uuid: 'GPU-efbdfde9-5798-a6e7-4c46-12518fa15375', index: null } });
  const sx = toObservation(one('nvidia-nvswitch0: SXid (PCI:0000:c3:00.0): 24007, Fatal, Link 30 x'), 'kmsg', at, false);
  assert.equal(sx?.evidence.kind, 'sxid');
  // The detail lines of an SXid repeat its code: not a second event.
  assert.equal(toObservation(one('nvidia-nvswitch0: SXid (PCI:0000:c3:00.0): 24007, Data {0x1}'), 'kmsg', at, false), null);
  const fb = toObservation(one('NVRM: GPU 0000:05:00.0: GPU has fallen off the bus.'), 'kmsg', at, false);
  assert.deepEqual(fb?.evidence, { kind: 'fallen-off-bus', gpu: { pci: '0000:05:00.0', uuid: null, index: null }, text: 'GPU 0000:05:00.0: GPU has fallen off the bus.' });
});
