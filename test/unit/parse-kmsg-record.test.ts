import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseKmsgRecord, unescapeKmsg } from '../../agent/parse/kmsg-record.ts';

test('parses prio, seq, usec, flags and text; facility and level from prio', () => {
  const r = parseKmsgRecord('6,1234,5678901,-;NVRM: Xid (PCI:0000:3b:00): 79, pid=1, name=x, GPU has fallen off the bus.\n');
  assert.ok(r);
  assert.equal(r.prio, 6);
  assert.equal(r.facility, 0);
  assert.equal(r.level, 6);
  assert.equal(r.seq, 1234);
  assert.equal(r.usec, 5678901);
  assert.equal(r.flags, '-');
  assert.equal(r.text, 'NVRM: Xid (PCI:0000:3b:00): 79, pid=1, name=x, GPU has fallen off the bus.');
  assert.equal(r.dict, null);
});

test('user facility record (what a drill writer produces)', () => {
  const r = parseKmsgRecord('12,99,1,-;gpu-health-agent-drill: hello\n');
  assert.equal(r?.facility, 1);
  assert.equal(r?.level, 4);
});

test('extra header fields after flags (caller id on newer kernels) are ignored', () => {
  const r = parseKmsgRecord('4,7,8,c,caller=T12;text');
  assert.equal(r?.flags, 'c');
  assert.equal(r?.text, 'text');
});

test('continuation lines become a dictionary, values unescaped', () => {
  const r = parseKmsgRecord('3,5,6,-;nvidia 0000:3b:00.0: something\n SUBSYSTEM=pci\n DEVICE=+pci:0000:3b:00.0\n NOTE=a\\x5cb\n');
  assert.deepEqual(r?.dict, { SUBSYSTEM: 'pci', DEVICE: '+pci:0000:3b:00.0', NOTE: 'a\\b' });
});

test('\\xNN escapes: embedded newline, backslash, UTF-8 bytes', () => {
  assert.equal(unescapeKmsg('a\\x0ab'), 'a\nb');
  assert.equal(unescapeKmsg('back\\x5cslash'), 'back\\slash');
  assert.equal(unescapeKmsg('caf\\xc3\\xa9'), 'café');
  assert.equal(unescapeKmsg('bad \\xZZ and \\x4'), 'bad \\xZZ and \\x4');
  assert.equal(unescapeKmsg('\\xff'), '\uFFFD');
  const r = parseKmsgRecord('4,10,20,-;NVRM: The NVIDIA GPU 0000:b3:00.0\\x0aNVRM: fallen off the bus and is not responding to commands.\\x0a');
  assert.equal(r?.text, 'NVRM: The NVIDIA GPU 0000:b3:00.0\nNVRM: fallen off the bus and is not responding to commands.\n');
});

test('malformed and truncated records return null, never throw', () => {
  for (const bad of ['', ';', 'abc', '6,1;x', '6,,1,-;x', 'x,1,2,-;t', '6,1,2', '6,1,2,-', '-1,2,3,-;x', `${'9'.repeat(30)},1,2,-;x`]) {
    assert.equal(parseKmsgRecord(bad), null, JSON.stringify(bad));
  }
  assert.equal(parseKmsgRecord('6,1,2;no flags')?.text, 'no flags');
});
