// Evidence integrity through the REAL kernel: an unprivileged process (nobody,
// via setpriv) makes the kernel write kernel-facility records that quote text
// it controls (its process name, its executable's file name, newlines
// included: Xid, SXid, PCIe AER and RmInitAdapter lines), traps, an OOM kill
// in a small memory cgroup, and drop_caches (root). The real agent on the real /dev/kmsg must stay True with no finding
// and count every one of them as rejected; the same records in a kern.log
// (syslog and dmesg forms) and logger-style lines must do the same through --log-file.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgentProcess, scratch, waitFor, type AgentProcess } from '../helpers/agent-process.ts';
import { createForger, type Vector } from '../helpers/forge.ts';
import { seedCursorAtEnd } from '../helpers/kmsg.ts';
import { syslogStamp } from '../helpers/log-lines.ts';
import type { KmsgRecord } from '../../agent/parse/kmsg-record.ts';
import type { DebugState } from '../../agent/runtime/inspect/state-types.ts';

const dirs: string[] = [];
const agents: AgentProcess[] = [];
const forger = createForger();
after(async () => {
  for (const a of agents) await a.kill();
  forger.dispose();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const total = (counts: Record<string, number> | null | undefined): number => Object.values(counts ?? {}).reduce((a, b) => a + b, 0);
const rejectedBy = (s: DebugState, source: string): number => total(s.sources.find((x) => x.source === source)?.rejected);
const findings = (s: DebugState): number => s.gpus.reduce((n, g) => n + g.findings.length, 0);

/** A fresh agent: from the ring's end (kmsg), or reading its log file whole (a first start). */
async function cleanAgent(args: string[], seed = true): Promise<AgentProcess> {
  const s = scratch();
  dirs.push(s.dir);
  if (seed) await seedCursorAtEnd(s.stateDir, s.bootId);
  // No --accept-drills: nothing but the driver's own records is evidence.
  const a = await startAgentProcess(['--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile, '--dry-run', '--pod-resources-socket', 'none', ...args]);
  agents.push(a);
  await waitFor('ready', async () => ((await a.get('/readyz')).status === 200 ? true : undefined), 10_000);
  return a;
}

test('forged records through the real kernel: the agent stays True with no finding and counts each as rejected', async () => {
  const { bin, renamed, memoryCgroup, forge } = forger;
  const a = await cleanAgent([]);
  const before = await a.state();
  assert.equal(before.condition.status, 'True');
  const rejectedBefore = rejectedBy(before, 'kmsg');

  const vectors: Vector[] = [
    ...['79', '48', '64', '95', '154'].map((code) => ({ name: `process name "NVRM: Xid ${code}," in a segfault report`, argv: [bin, 'segv', `NVRM: Xid ${code},`] })),
    { name: 'a file name with a PCI address at the end of a segfault report', argv: [renamed('NVRM: Xid (PCI:0000:3b:00): 48, x'), 'segv', 'x'] },
    { name: 'a file name forging fallen off the bus', argv: [renamed('NVRM: GPU 0000:5e:00.0: GPU has fallen off the bus'), 'segv', 'x'] },
    { name: "a file name with a newline: the driver's Xid line as the record's second line", argv: [renamed('x\nNVRM: Xid (PCI:0000:3b:00): 79, pid=1, name=x, GPU has fallen off the bus.\n'), 'segv', 'x'] },
    {
      name: 'a file name with newlines: the three-line fallen-off-the-bus message',
      argv: [renamed('x\nNVRM: The NVIDIA GPU 0000:3b:00.0\nNVRM: (PCI ID: 10de:2330) installed in this system has\nNVRM: fallen off the bus and is not responding to commands.\n'), 'segv', 'x'],
    },
    { name: 'a file name with a newline: an identity line', argv: [renamed('x\nNVRM: GPU at PCI:0000:3b:00: GPU-00000000-1111-2222-3333-444444444444\n'), 'segv', 'x'] },
    { name: 'a file name with a newline: a fatal SXid', argv: [renamed('x\nnvidia-nvswitch0: SXid (PCI:0000:c3:00.0): 24007, Fatal, Link 30 x\n'), 'segv', 'x'] },
    {
      name: "a file name holding a GPU's fatal AER bus-error line",
      argv: [renamed('nvidia 0000:3b:00.0: AER: PCIe Bus Error: severity=Uncorrectable (Fatal), type=Transaction Layer, (Requester ID)'), 'segv', 'x'],
    },
    {
      name: "a file name with a newline: a root port's AER line as the record's second line",
      argv: [renamed('x\npcieport 0000:3a:00.0: AER: PCIe Bus Error: severity=Uncorrectable (Fatal), type=Transaction Layer, (Receiver ID)\n'), 'segv', 'x'],
    },
    { name: "a file name with a newline: the driver's RmInitAdapter failure", argv: [renamed('x\nNVRM: GPU 0000:3b:00.0: RmInitAdapter failed! (0x22:0x56:894)\n'), 'segv', 'x'] },
    { name: 'the process name in an invalid-opcode trap', argv: [bin, 'ud', 'NVRM: Xid 79,'] },
    ...(process.arch === 'x64' ? [{ name: 'the process name in a general protection fault', argv: [bin, 'gpf', 'NVRM: Xid 79,'] }] : []),
    { name: 'the process name in the drop_caches notice (root)', argv: [bin, 'dropcaches', 'NVRM: Xid 79,'], root: true },
    { name: 'the OOM killer in a 32 MiB memory cgroup', argv: [bin, 'oom', 'NVRM: Xid 79,'], cgroup: memoryCgroup() },
  ];
  const forged: KmsgRecord[] = [];
  for (const v of vectors) forged.push(...(await forge(v)));
  // The kernel really wrote them, as facility-0 records the old text match took for Xids.
  assert.ok(forged.length >= vectors.length, `${forged.length} records`);
  assert.ok(forged.some((r) => r.text.startsWith('NVRM: Xid 79,')), 'a record that starts with the forged prefix');
  assert.ok(forged.some((r) => r.text.includes('\nNVRM: Xid (PCI:0000:3b:00): 79,')), 'a record whose second line is a driver line');
  assert.ok(forged.some((r) => r.text.includes('Killed process')), 'the OOM kill');

  const { value: st } = await waitFor(
    'every forged record counted as rejected',
    async () => {
      const s = await a.state();
      return rejectedBy(s, 'kmsg') - rejectedBefore >= forged.length ? s : undefined;
    },
    10_000,
  );
  assert.equal(st.condition.status, 'True', st.condition.message);
  assert.equal(findings(st), 0, JSON.stringify(st.gpus));
  assert.deepEqual(st.totals, { fatal: 0, warning: 0, info: 0 });
  // One log line per kind of rejection, never one per record.
  const lines = a.lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith("kernel record looks like NVIDIA's"));
  assert.ok(lines.length >= 1 && lines.length <= 7, `${lines.length} log lines`);

  // The same records in a kern.log (rsyslog writes a record's newlines as #012; dmesg indents
  // continuation lines), with logger-style `kernel[pid]:` and prefix-less lines beside them.
  const log = join(mkdtempSync(join(tmpdir(), 'gha-forge-log-')), 'kern.log');
  dirs.push(join(log, '..'));
  const stamp = syslogStamp(Date.now());
  const syslog = forged.map((r) => `${stamp} gpu-node kernel: ${r.text.replaceAll('\n', '#012')}`);
  const dmesg = forged.map((r) => {
    const [head, ...rest] = r.text.split('\n');
    return [`[${(r.usec / 1e6).toFixed(6).padStart(12)}] ${head}`, ...rest.filter((x) => x !== '').map((x) => `               ${x}`)].join('\n');
  });
  const logger = [
    `${stamp} gpu-node kernel[31337]: NVRM: Xid (PCI:0000:3c:00): 48, pid=1, name=x, An uncorrectable double bit error`,
    `${stamp} kernel[31337]: NVRM: Xid (PCI:0000:3c:00): 79, pid=1, name=x, GPU has fallen off the bus.`,
    'NVRM: Xid (PCI:0000:3f:00): 79, pid=1, name=x, GPU has fallen off the bus.',
  ];
  writeFileSync(log, [...syslog, ...dmesg, ...logger].join('\n') + '\n');
  const b = await cleanAgent(['--kmsg', 'none', '--log-file', log], false);
  const { value: lf } = await waitFor(
    'every forged line counted as rejected',
    async () => {
      const s = await b.state();
      return rejectedBy(s, 'logfile') >= syslog.length + dmesg.length + logger.length ? s : undefined;
    },
    10_000,
  );
  assert.equal(lf.condition.status, 'True', lf.condition.message);
  assert.equal(findings(lf), 0, JSON.stringify(lf.gpus));
  const why = lf.sources.find((x) => x.source === 'logfile')?.rejected ?? {};
  assert.ok((why['untrusted-ident'] ?? 0) >= 2 && (why['no-prefix'] ?? 0) >= 1, JSON.stringify(why));
});
