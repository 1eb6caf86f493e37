import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromKernel, stripLinePrefix } from '../../agent/parse/line-prefix.ts';
import { timestampToMs } from '../../agent/parse/timestamp.ts';

const MSG = 'NVRM: Xid (PCI:0000:3b:00): 79, pid=1, name=x, GPU has fallen off the bus.';

const cases: Array<[string, string, Partial<ReturnType<typeof stripLinePrefix>>]> = [
  ['bare message', MSG, { facility: null, ident: null, timestamp: null }],
  ['dmesg', `[  123.456789] ${MSG}`, { monoUsec: 123456789, timestamp: '[  123.456789]' }],
  ['dmesg, printk caller id', `[   36.764462][  T291] ${MSG}`, { monoUsec: 36764462 }],
  ['dmesg -d delta', `[  +0.000844] ${MSG}`, { monoUsec: null, timestamp: '[  +0.000844]' }],
  ['dmesg -H', `[Sep19 16:18] ${MSG}`, { timestamp: '[Sep19 16:18]' }],
  ['dmesg -T', `[Mon Nov 27 10:00:00 2026] ${MSG}`, { timestamp: '[Mon Nov 27 10:00:00 2026]' }],
  ['dmesg -T, single-digit day', `[Mon Aug  5 03:54:13 2024] ${MSG}`, { timestamp: '[Mon Aug  5 03:54:13 2024]' }],
  ['dmesg -T, German', `[Mo Nov 27 10:00:00 2026] ${MSG}`, {}],
  ['dmesg -r', `<4>[  123.456789] ${MSG}`, { facility: 0, level: 4, monoUsec: 123456789 }],
  ['dmesg --decode', `kern  :warn  : [  123.456789] ${MSG}`, { facility: 0, level: 4, monoUsec: 123456789 }],
  ['dmesg --decode --time-format iso', `kern  :err   : 2025-01-25T10:34:54,859532+00:00 ${MSG}`, { facility: 0, level: 3, timestamp: '2025-01-25T10:34:54,859532+00:00' }],
  ['dmesg --decode, user facility', `user  :warn  : [  639.035695] ${MSG}`, { facility: 1 }],
  ['syslog', `Nov 27 10:00:00 gpu-node-1 kernel: ${MSG}`, { ident: 'kernel', facility: 0, timestamp: 'Nov 27 10:00:00' }],
  ['syslog, single-digit day', `Jan  3 07:39:45 ubuntu kernel: [17257.355375] ${MSG}`, { ident: 'kernel', monoUsec: 17257355375 }],
  ['syslog, German month', `Mär 27 17:40:36 knoten kernel: ${MSG}`, { ident: 'kernel' }],
  ['syslog, French month', `janv. 29 20:50:17 kevin kernel: ${MSG}`, { ident: 'kernel' }],
  ['syslog, Chinese month', `1月 03 07:39:44 node kernel: ${MSG}`, { ident: 'kernel' }],
  ['syslog, Russian month', `янв 03 07:39:44 node kernel: ${MSG}`, { ident: 'kernel' }],
  ['journal short-precise', `Nov 27 10:00:00.123456 gpu-node-1 kernel: ${MSG}`, { ident: 'kernel' }],
  ['journal short-iso', `2026-11-27T10:00:00+0000 gpu-node-1 kernel: ${MSG}`, { ident: 'kernel', timestamp: '2026-11-27T10:00:00+0000' }],
  ['RFC 3339 syslog', `2026-11-27T10:00:00.123456+01:00 gpu-node-1 kernel: ${MSG}`, { ident: 'kernel' }],
  ['syslog without host', `Mar 29 15:38:59 kernel: ${MSG}`, { ident: 'kernel' }],
  ['kernel: only', `kernel: ${MSG}`, { ident: 'kernel', facility: 0 }],
  ['raw kmsg record', `4,1234,5678,-;${MSG}`, { facility: 0, level: 4, seq: 1234, monoUsec: 5678 }],
  ['continuation line indented by dmesg', `               ${MSG}`, {}],
  ['CRLF', `[  1.000000] ${MSG}\r`, {}],
];

for (const [name, line, want] of cases) {
  test(`prefix: ${name}`, () => {
    const s = stripLinePrefix(line);
    assert.equal(s.message, MSG);
    for (const [k, v] of Object.entries(want)) assert.deepEqual(s[k as keyof typeof s], v, k);
  });
}

test('a kernel subsystem prefix is not mistaken for a syslog identifier', () => {
  const s = stripLinePrefix('2025-01-25T10:34:54,859532+00:00 nvidia-nvswitch1: SXid (PCI:0000:84:00.0): 12028, Data {}');
  assert.equal(s.message, 'nvidia-nvswitch1: SXid (PCI:0000:84:00.0): 12028, Data {}');
  assert.equal(s.ident, null);
});

test('non-kernel identifiers and facilities are recognised as not from the kernel', () => {
  assert.equal(fromKernel(stripLinePrefix(`Mar 05 23:33:35 ivosung bumblebeed[1734]: ${MSG}`)), false);
  assert.equal(fromKernel(stripLinePrefix(`<12>${MSG}`)), false);
  assert.equal(fromKernel(stripLinePrefix(`12,1,2,-;${MSG}`)), false);
  assert.equal(fromKernel(stripLinePrefix(`Nov 27 10:00:00 h kernel: ${MSG}`)), true);
  assert.equal(fromKernel(stripLinePrefix(MSG)), null);
});

test('rsyslog #012 becomes a newline', () => {
  assert.equal(stripLinePrefix('Jun 30 11:07:05 gpu-0 kernel: NVRM: a#012NVRM: b').message, 'NVRM: a\nNVRM: b');
});

test('timestamps to wall time', () => {
  const now = Date.UTC(2026, 10, 27, 12, 0, 0);
  assert.equal(timestampToMs('2025-01-25T10:34:54,859532+00:00', now), Date.UTC(2025, 0, 25, 10, 34, 54, 859));
  assert.equal(timestampToMs('[Wed Jul 31 23:14:18 2024]', now), new Date(2024, 6, 31, 23, 14, 18).getTime());
  assert.equal(timestampToMs('Nov 27 10:00:00', now), new Date(2026, 10, 27, 10, 0, 0).getTime());
  // December lines read in January belong to last year.
  assert.equal(timestampToMs('Dec 31 23:00:00', Date.UTC(2027, 0, 1, 12)), new Date(2026, 11, 31, 23).getTime());
  assert.equal(timestampToMs('Mär 27 17:40:36', now), null);
  assert.equal(timestampToMs('[  123.456]', now), null);
  assert.equal(timestampToMs(null, now), null);
});
