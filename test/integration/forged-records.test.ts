// Evidence integrity through the REAL kernel: an unprivileged process (nobody,
// via setpriv) makes the kernel write kernel-facility records that quote text
// it controls (its process name, its executable's file name, newlines
// included), traps, an OOM kill in a small memory cgroup, and drop_caches
// (root). The real agent on the real /dev/kmsg must stay True with no finding
// and count every one of them as rejected; the same records in a kern.log
// (syslog and dmesg forms) and logger-style lines must do the same through --log-file.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startAgentProcess, scratch, waitFor, type AgentProcess } from '../helpers/agent-process.ts';
import { seedCursorAtEnd } from '../helpers/kmsg.ts';
import { buildForger as buildForgerIn, forge, renamed as renamedIn, type Vector } from '../helpers/forge.ts';
import { syslogStamp } from '../helpers/log-lines.ts';
import type { KmsgRecord } from '../../agent/parse/kmsg-record.ts';
import type { DebugState } from '../../agent/report/debug/state-types.ts';

const dirs: string[] = [];
const agents: AgentProcess[] = [];
const cgroups: string[] = [];
after(async () => {
  for (const a of agents) await a.kill();
  for (const c of cgroups) if (existsSync(c)) rmdirSync(c);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A work dir every user can enter, with the forger compiled into it. */
function buildForger(): string {
  const bin = buildForgerIn(tmpdir());
  dirs.push(join(bin, '..'));
  return bin;
}

/** The forger under a file name of the attacker's choice (any bytes but '/' and NUL). */
function renamed(bin: string, fileName: string): string {
  const link = renamedIn(tmpdir(), bin, fileName);
  dirs.push(join(link, '..'));
  return link;
}

/** A memory cgroup of 32 MiB (v1 or v2), for the OOM killer. */
function memoryCgroup(): string {
  const name = `gha-forge-${randomBytes(4).toString('hex')}`;
  const v1 = '/sys/fs/cgroup/memory';
  if (existsSync(join(v1, 'memory.limit_in_bytes'))) {
    const dir = join(v1, name);
    mkdirSync(dir);
    cgroups.push(dir);
    writeFileSync(join(dir, 'memory.limit_in_bytes'), String(32 << 20));
    return dir;
  }
  const dir = join('/sys/fs/cgroup', name);
  mkdirSync(dir);
  cgroups.push(dir);
  writeFileSync(join(dir, 'memory.max'), String(32 << 20));
  if (existsSync(join(dir, 'memory.swap.max'))) writeFileSync(join(dir, 'memory.swap.max'), '0');
  return dir;
}

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
  const bin = buildForger();
  const a = await cleanAgent([]);
  const before = await a.state();
  assert.equal(before.condition.status, 'True');
  const rejectedBefore = rejectedBy(before, 'kmsg');

  const vectors: Vector[] = [
    ...['79', '48', '64', '95', '154'].map((code) => ({ name: `process name "NVRM: Xid ${code}," in a segfault report`, argv: [bin, 'segv', `NVRM: Xid ${code},`] })),
    { name: 'a file name with a PCI address at the end of a segfault report', argv: [renamed(bin, 'NVRM: Xid (PCI:0000:3b:00): 48, x'), 'segv', 'x'] },
    { name: 'a file name forging fallen off the bus', argv: [renamed(bin, 'NVRM: GPU 0000:5e:00.0: GPU has fallen off the bus'), 'segv', 'x'] },
    { name: "a file name with a newline: the driver's Xid line as the record's second line", argv: [renamed(bin, 'x\nNVRM: Xid (PCI:0000:3b:00): 79, pid=1, name=x, GPU has fallen off the bus.\n'), 'segv', 'x'] },
    {
      name: 'a file name with newlines: the three-line fallen-off-the-bus message',
      argv: [renamed(bin, 'x\nNVRM: The NVIDIA GPU 0000:3b:00.0\nNVRM: (PCI ID: 10de:2330) installed in this system has\nNVRM: fallen off the bus and is not responding to commands.\n'), 'segv', 'x'],
    },
    { name: 'a file name with a newline: an identity line', argv: [renamed(bin, 'x\nNVRM: GPU at PCI:0000:3b:00: GPU-00000000-1111-2222-3333-444444444444\n'), 'segv', 'x'] },
    { name: 'a file name with a newline: a fatal SXid', argv: [renamed(bin, 'x\nnvidia-nvswitch0: SXid (PCI:0000:c3:00.0): 24007, Fatal, Link 30 x\n'), 'segv', 'x'] },
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
