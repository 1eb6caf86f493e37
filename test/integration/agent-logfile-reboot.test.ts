// A kernel log file survives reboots: lines an earlier boot wrote (the very
// Xid 79 that got the node rebooted) are not evidence in this boot. The real
// agent, a real file, a fake boot id and a fake /proc/uptime or btime.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratch, startAgentProcess, waitFor, type AgentProcess } from '../helpers/agent-process.ts';
import type { DebugState } from '../../agent/runtime/inspect/state-types.ts';
import { syslogStamp } from '../helpers/log-lines.ts';

const PCI_OLD = '0000:5e:00.0';
const PCI_NEW = '0000:86:00.0';
const UUID_OLD = 'GPU-11111111-2222-3333-4444-555555555555';
const dirs: string[] = [];
const agents: AgentProcess[] = [];
after(async () => {
  for (const a of agents) await a.kill();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const bus = (pci: string): string => pci.slice(0, -2);
const xid79 = (at: number, pci: string): string => `${syslogStamp(at)} gpu-node kernel: NVRM: Xid (PCI:${bus(pci)}): 79, pid=1234, name=train, GPU has fallen off the bus.\n`;
const benign = (at: number): string => `${syslogStamp(at)} gpu-node kernel: eth0: link up\n`;

function fakeBoot(dir: string, bootIdFile: string, bootId: string, bootTimeMs: number): string {
  writeFileSync(bootIdFile, `${bootId}\n`);
  const f = join(dir, 'stat');
  writeFileSync(f, `cpu  1 2 3 4\nbtime ${Math.floor(bootTimeMs / 1000)}\nprocesses 9\n`);
  return f;
}

async function start(s: { stateDir: string; bootIdFile: string }, log: string, uptimeFile: string): Promise<AgentProcess> {
  const a = await startAgentProcess(['--kmsg', 'none', '--log-file', log, '--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile, '--uptime-file', uptimeFile, '--dry-run']);
  agents.push(a);
  await waitFor('ready', async () => ((await a.get('/readyz')).status === 200 ? true : undefined), 5000);
  return a;
}

const logfileSource = (st: DebugState) => st.sources.find((x) => x.source === 'logfile');
const hasXid79 = (st: DebugState, pci: string): boolean => st.gpus.some((g) => g.pci === pci && g.findings.some((f) => f.key === 'xid:79'));

/** Every line of the file has been read (the backlog is read after the agent says it is ready). */
async function readAll(a: AgentProcess, lines: number): Promise<DebugState> {
  await waitFor(`${lines} lines read`, async () => ((logfileSource(await a.state())?.recordsRead ?? 0) >= lines ? true : undefined), 5000);
  // Then a moment for the verdict to settle on what they said.
  await new Promise((r) => setTimeout(r, 200));
  return a.state();
}

test('reboot: the Xid 79 written before the reboot is not read again as a fault; a new one after boot is', async () => {
  const s = scratch('boot-a');
  dirs.push(s.dir);
  const log = join(s.dir, 'kern.log');
  const t0 = Date.now();
  const bootA = t0 - 3 * 3_600_000;
  let uptime = fakeBoot(s.dir, s.bootIdFile, 'boot-a', bootA);
  writeFileSync(log, '');
  const a = await start(s, log, uptime);
  // An application Xid (a warning) gets boot A's read position saved.
  appendFileSync(log, benign(t0 - 3_600_000) + `${syslogStamp(t0 - 3_599_000)} gpu-node kernel: NVRM: Xid (PCI:${bus(PCI_OLD)}): 13, pid=9, name=train, Graphics SM Warp Exception\n`);
  await readAll(a, 2);
  const saved = await waitFor('boot A position saved', async () => {
    const doc = JSON.parse(readFileSync(join(s.stateDir, 'state.json'), 'utf8')) as { logFiles?: Array<{ offset: number }> };
    const off = doc.logFiles?.[0]?.offset;
    return off !== undefined && off === statSync(log).size ? off : undefined;
  }, 5000);
  assert.ok(saved.value > 0);
  assert.equal((await a.state()).condition.status, 'True');
  await a.kill(); // the node hangs: the agent writes nothing more

  // Written by boot A after its agent's last read: the fault that got the node rebooted.
  const faultAt = t0 - 20 * 60_000;
  appendFileSync(log, xid79(faultAt, PCI_OLD) + xid79(faultAt + 1000, PCI_OLD));
  utimesSync(log, (faultAt + 1000) / 1000, (faultAt + 1000) / 1000);
  uptime = fakeBoot(s.dir, s.bootIdFile, 'boot-b', t0 - 5 * 60_000);

  const b = await start(s, log, uptime);
  const st = await readAll(b, 2); // resumed at boot A's offset: the two lines written since
  assert.equal(st.bootId, 'boot-b');
  assert.equal(hasXid79(st, PCI_OLD), false, 'the earlier boot\'s Xid 79 is no finding');
  assert.equal(st.condition.status, 'True');
  assert.equal(logfileSource(st)?.skippedPreviousBoot, 2);
  const metrics = (await b.get('/metrics')).body;
  assert.match(metrics, /gpu_health_lines_skipped_previous_boot_total\{source="logfile"\} 2\b/);

  // This boot's own Xid 79 is a fault.
  appendFileSync(log, xid79(Date.now(), PCI_OLD));
  await waitFor('condition False', async () => {
    const now = await b.state();
    return now.condition.status === 'False' && hasXid79(now, PCI_OLD) ? true : undefined;
  }, 5000);
  assert.equal(logfileSource(await b.state())?.skippedPreviousBoot, 2);
  assert.equal(await b.stop(), 0);
});

test('first start on a file holding an earlier boot: only this boot\'s Xid counts', async () => {
  const s = scratch();
  dirs.push(s.dir);
  const log = join(s.dir, 'kern.log');
  const t0 = Date.now();
  const boot = t0 - 10 * 60_000;
  const uptime = fakeBoot(s.dir, s.bootIdFile, s.bootId, boot);
  const current = t0 - 60_000;
  writeFileSync(log, [
    benign(t0 - 2 * 86_400_000),
    xid79(t0 - 2 * 86_400_000 + 5000, PCI_OLD),
    benign(boot + 1000),
    xid79(current, PCI_NEW),
  ].join(''));
  utimesSync(log, current / 1000, current / 1000);
  const a = await start(s, log, uptime);
  const st = await readAll(a, 4);
  assert.equal(hasXid79(st, PCI_OLD), false, 'two days old, an earlier boot');
  assert.equal(hasXid79(st, PCI_NEW), true, 'after this boot began');
  assert.equal(st.condition.status, 'False');
  assert.equal(logfileSource(st)?.skippedPreviousBoot, 1);
  assert.equal(await a.stop(), 0);
});

test('dmesg-style [seconds] stamps: only lines after the last reset count', async () => {
  const s = scratch();
  dirs.push(s.dir);
  const log = join(s.dir, 'kern.log');
  const uptime = join(s.dir, 'uptime');
  writeFileSync(uptime, '400.25 1500.10\n'); // this boot is 400 s old
  writeFileSync(log, [
    // First boot.
    `[    5.100000] NVRM: GPU at PCI:${PCI_OLD}: ${UUID_OLD}`,
    `[  912.500000] NVRM: Xid (PCI:${bus(PCI_OLD)}): 79, pid=4242, name=python3, GPU has fallen off the bus.`,
    // Second boot: its seconds start over.
    `[    0.000000] Linux version 6.8.0`,
    `[    5.200000] NVRM: GPU at PCI:${PCI_OLD}: ${UUID_OLD}`,
    `[   60.000000] NVRM: Xid (PCI:${bus(PCI_OLD)}): 48, pid=1, name=x, DBE (double-bit error)`,
    // This boot.
    `[    0.000000] Linux version 6.8.0`,
    `[   30.000000] NVRM: Xid (PCI:${bus(PCI_NEW)}): 79, pid=7, name=train, GPU has fallen off the bus.`,
    '',
  ].join('\n'));
  const a = await start(s, log, uptime);
  const st = await readAll(a, 7);
  const old = st.gpus.find((g) => g.pci === PCI_OLD);
  assert.deepEqual(old?.findings.map((f) => f.key) ?? [], [], 'nothing from the two earlier boots');
  assert.equal(old?.uuid, UUID_OLD, 'an earlier boot\'s identity line still names the GPU');
  assert.equal(hasXid79(st, PCI_NEW), true);
  assert.equal(st.condition.status, 'False');
  assert.equal(logfileSource(st)?.skippedPreviousBoot, 2);

  // Live lines are this boot's whatever their stamp says.
  appendFileSync(log, `[  912.600000] NVRM: Xid (PCI:${bus(PCI_OLD)}): 79, pid=1, name=x, GPU has fallen off the bus.\n`);
  await waitFor('live Xid 79', async () => (hasXid79(await a.state(), PCI_OLD) ? true : undefined), 5000);
  assert.equal(await a.stop(), 0);
});
