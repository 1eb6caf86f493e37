// The one kernel-log recogniser against forged records (each built the way its
// vector builds it) and against real driver lines, which must still count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createKernelLogRecogniser, kmsgOrigin, type Recognised } from '../../agent/parse/kernel-log.ts';
import { stripLinePrefix } from '../../agent/parse/line-prefix.ts';
import { formatDrill } from '../../agent/sources/kmsg/drill.ts';

interface Forged {
  vector: string;
  kmsg?: string;
  line?: string;
  lines?: string[];
  facility?: number;
  unreadable?: boolean;
}

const forged = (JSON.parse(readFileSync(new URL('../fixtures/kernel-log/forged-lines.json', import.meta.url), 'utf8')) as { cases: Forged[] }).cases;

interface RealCase {
  name: string;
  lines: string[];
  expect: Array<{ lineNo: number; kind: string }>;
}
const real = (JSON.parse(readFileSync(new URL('../fixtures/kernel-log/real-lines.json', import.meta.url), 'utf8')) as { cases: RealCase[] }).cases;

function viaKmsg(text: string, facility = 0): Recognised[] {
  const r = createKernelLogRecogniser();
  return r.record(text, kmsgOrigin({ facility, text }));
}

function viaFile(lines: string[]): Recognised[] {
  const r = createKernelLogRecogniser();
  return lines.flatMap((l) => r.line(stripLinePrefix(l)));
}

/** The record as a kern.log line would hold it (syslog, kernel ident, embedded newlines as rsyslog writes them). */
function asSyslog(kmsg: string): string {
  return `Dec  1 08:44:00 gpu-node kernel: ${kmsg.replaceAll('\n', '#012')}`;
}

for (const f of forged) {
  test(`forged, never counts: ${f.vector}`, () => {
    const runs: Array<[string, Recognised[]]> = [];
    if (f.kmsg !== undefined) {
      runs.push(['kmsg', viaKmsg(f.kmsg, f.facility)]);
      if (f.facility === undefined) runs.push(['kern.log', viaFile([asSyslog(f.kmsg)])]);
    }
    if (f.line !== undefined) runs.push(['line', viaFile([f.line])]);
    if (f.lines !== undefined) runs.push(['lines', viaFile(f.lines)]);
    assert.ok(runs.length > 0);
    for (const [how, out] of runs) {
      assert.deepEqual(out.filter((r) => r.rejected === null), [], `${how}: counted`);
      // Every forging attempt shows: it is reported as rejected, with why.
      if (f.unreadable === true) assert.deepEqual(out, [], `${how}: read as a record`);
      else assert.ok(out.length > 0 && out.every((r) => r.rejected !== null), `${how}: not reported as rejected`);
    }
  });
}

// Real driver lines: with a kernel prefix they count from a log file, and their
// message counts as a /dev/kmsg record. A line quoted by another program is the one exception.
const QUOTED = 'Xid 79 quoted inside another program';

for (const c of real) {
  if (c.expect.length === 0) continue;
  test(`real, still counts as a kmsg record: ${c.name}`, () => {
    const r = createKernelLogRecogniser();
    const msgs = c.lines.map((l) => stripLinePrefix(l));
    // A multi-line dmesg message is one kmsg record with embedded newlines.
    const records: string[] = [];
    for (const m of msgs) {
      if (m.indented && m.timestamp === null && records.length > 0) records[records.length - 1] += `\n${m.message}`;
      else records.push(m.message);
    }
    const out = records.flatMap((text) => r.record(text, { trust: 'kernel' }));
    const kinds = out.map((o) => o.record.kind);
    assert.deepEqual(kinds, c.expect.map((e) => e.kind));
    const counted = out.filter((o) => o.rejected === null);
    if (c.name.startsWith(QUOTED)) assert.equal(counted.length, 0);
    else assert.deepEqual(out.map((o) => o.rejected), out.map(() => null));
  });

  const prefixed = c.lines.every((l) => {
    const s = stripLinePrefix(l);
    return s.timestamp !== null || s.ident !== null || s.facility !== null || s.indented;
  });
  if (!prefixed) continue;
  test(`real, still counts from a log file: ${c.name}`, () => {
    const out = viaFile(c.lines);
    assert.deepEqual(out.map((o) => o.record.kind), c.expect.map((e) => e.kind));
    assert.deepEqual(out.map((o) => o.rejected), out.map(() => null));
  });
}

test('a genuine Xid still counts when the process it names is called like a kernel tail (15 bytes cannot hold one)', () => {
  for (const comm of ['[1] vsyscall re', '[1]: segfault a', ' invoked oom-ki', 'IN= OUT= SRC=1 ']) {
    const out = viaKmsg(`NVRM: Xid (PCI:0000:3b:00): 79, pid=7, name=${comm}, GPU has fallen off the bus.`);
    assert.deepEqual(out.map((o) => [o.record.kind, o.rejected]), [['xid', null]], comm);
  }
});

test('a log line without a prefix is reported, not counted', () => {
  const out = viaFile(['NVRM: Xid (PCI:0000:44:00): 79, GPU has fallen off the bus']);
  assert.deepEqual(out.map((o) => [o.record.kind, o.rejected]), [['xid', 'no-prefix']]);
});

test('the three-line fallen-off message counts as one kmsg record and as syslog lines', () => {
  const msg = ['NVRM: The NVIDIA GPU 0000:b3:00.0', 'NVRM: (PCI ID: 10de:26b5) installed in this system has', 'NVRM: fallen off the bus and is not responding to commands.'];
  const one = viaKmsg(msg.join('\n'));
  assert.equal(one.length, 1);
  assert.equal(one[0]?.rejected, null);
  assert.equal(one[0]?.record.pci, '0000:b3:00.0');
  const lines = viaFile(msg.map((m) => `Jan  3 07:39:45 ubuntu kernel: [17257.355375] ${m}`));
  assert.deepEqual(lines.map((o) => [o.record.kind, o.record.pci, o.rejected]), [['fallen-off-bus', '0000:b3:00.0', null]]);
});

test('the driver message cut short or out of order does not count', () => {
  const start = 'NVRM: The NVIDIA GPU 0000:b3:00.0';
  const end = 'NVRM: fallen off the bus and is not responding to commands.';
  // The middle line is missing: no PCI ID, and the end alone names no GPU.
  const out = viaKmsg(`${start}\n${end}`);
  assert.deepEqual(out.filter((o) => o.rejected === null), []);
});

test('a drill counts as a drill only with its tag, in the driver format', () => {
  const ok = viaKmsg('gpu-health-agent-drill: NVRM: GPU 0000:3b:00.0: GPU has fallen off the bus. [DRILL] run=x', 1);
  assert.deepEqual(ok.map((o) => [o.record.kind, o.drill, o.rejected]), [['fallen-off-bus', true, null]]);
  const loose = viaKmsg('gpu-health-agent-drill: [DRILL] NVRM: Xid 79, anywhere', 1);
  assert.deepEqual(loose.filter((o) => o.rejected === null), []);
});

test('a record between the driver lines ends the driver record; an indented line is part of it', () => {
  const across = (between: string) => {
    const r = createKernelLogRecogniser();
    r.line(stripLinePrefix('[  1.000000] NVRM: The NVIDIA GPU 0000:b3:00.0'));
    r.other(between);
    const out = [
      ...r.line(stripLinePrefix('               NVRM: (PCI ID: 10de:26b5) installed in this system has')),
      ...r.line(stripLinePrefix('               NVRM: fallen off the bus and is not responding to commands.')),
    ];
    return out.filter((o) => o.rejected === null).map((o) => [o.record.kind, o.record.pci]);
  };
  assert.deepEqual(across('[  1.000001] usb 1-1: new high-speed USB device number 2'), []);
  assert.deepEqual(across("               (a continuation line with nothing of NVIDIA's in it)"), [['fallen-off-bus', '0000:b3:00.0']]);
});

test('AER and RmInitAdapter drills count as drills only in their whole format, on a user facility', () => {
  for (const spec of [{ aer: 'fatal' as const }, { aer: 'correctable' as const }, { initFailed: true }]) {
    const line = formatDrill({ ...spec, pci: '0000:3b:00.0', text: 'run=x' }).slice(4); // without <12>
    const out = viaKmsg(line, 1);
    assert.deepEqual(out.map((o) => [o.record.pci, o.drill, o.rejected]), [['0000:3b:00.0', true, null]], line);
    // The same text from the kernel facility is no drill and not the kernel's (the tag comes first).
    assert.ok(viaKmsg(line, 0).every((o) => o.rejected !== null), line);
  }
  const fatal = viaKmsg(formatDrill({ aer: 'fatal', pci: '0000:3b:00.0' }).slice(4), 1)[0]?.record;
  assert.ok(fatal?.kind === 'pcie-aer' && fatal.severity === 'fatal' && fatal.part === 'header');
});
