// Restoring the state file loses no fault: the real agent with a kernel log file,
// stopped, its saved findings partly unreadable (as an older agent reads a newer
// one's file after a DaemonSet rollback), started again.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAgentProcess, scratch, waitFor, type AgentProcess } from '../helpers/agent-process.ts';
import { syslogStamp } from '../helpers/log-lines.ts';

const dirs: string[] = [];
const agents: AgentProcess[] = [];
after(async () => {
  for (const a of agents) await a.kill();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const PCI = '0000:3b:00.0';

async function start(args: string[]): Promise<AgentProcess> {
  const a = await startAgentProcess(args);
  agents.push(a);
  await waitFor('ready', async () => ((await a.get('/readyz')).status === 200 ? true : undefined), 5000);
  return a;
}

test('an unreadable saved finding is seen again from the kernel log, the readable ones are kept', async () => {
  const s = scratch();
  dirs.push(s.dir);
  const log = join(s.dir, 'kern.log');
  const stamp = syslogStamp(Date.now());
  writeFileSync(log, [
    `${stamp} gpu-node kernel: NVRM: Xid (PCI:0000:3b:00): 79, pid=1, name=x, GPU has fallen off the bus.`,
    `${stamp} gpu-node kernel: NVRM: Xid (PCI:0000:86:00): 48, pid=1, name=x, DBE`,
    '',
  ].join('\n'));
  const args = ['--kmsg', 'none', '--log-file', log, '--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile, '--dry-run'];
  const a = await start(args);
  await waitFor('two fatal GPUs', async () => ((await a.state()).totals.fatal === 2 ? true : undefined), 5000);
  assert.equal(await a.stop(), 0);

  // One field of the Xid 79 finding is something this version does not read.
  const path = join(s.stateDir, 'state.json');
  const doc = JSON.parse(readFileSync(path, 'utf8')) as { health: { gpus: Array<{ pci: string | null; findings: Array<{ last: { kind: unknown } }> }> } };
  const gpu = doc.health.gpus.find((g) => g.pci === PCI);
  assert.ok(gpu?.findings[0] !== undefined);
  gpu.findings[0].last.kind = 7;
  writeFileSync(path, JSON.stringify(doc));

  const b = await start(args);
  const { value: st } = await waitFor('both faults known again', async () => {
    const x = await b.state();
    return x.totals.fatal === 2 ? x : undefined;
  }, 5000);
  assert.equal(st.condition.status, 'False');
  assert.equal(st.gpus.find((g) => g.pci === PCI)?.findings[0]?.key, 'xid:79', 'read again from the log file');
  // The readable finding was restored, not counted a second time by the replay.
  assert.equal(st.gpus.find((g) => g.pci === '0000:86:00.0')?.findings[0]?.count, 1);
  await b.waitForLine((l) => typeof l.msg === 'string' && /could not be restored; the kernel log is read again/.test(l.msg));
});

test('a fatal finding is on disk before any reporter writes False: a SIGKILL right after loses nothing', async () => {
  const s = scratch();
  dirs.push(s.dir);
  const log = join(s.dir, 'kern.log');
  writeFileSync(log, '');
  const args = ['--kmsg', 'none', '--log-file', log, '--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile, '--dry-run'];
  const a = await start(args);
  await a.waitForLine((l) => l.msg === 'would write node condition');
  appendFileSync(log, `${syslogStamp(Date.now())} gpu-node kernel: NVRM: Xid (PCI:0000:3b:00): 79, pid=1, name=x, GPU has fallen off the bus.\n`);
  await a.waitForLine((l) => l.msg === 'would write node condition' && (l.condition as { status?: string }).status === 'False');
  // The moment the write goes out, the evidence is already in the state file.
  const saved = readFileSync(join(s.stateDir, 'state.json'), 'utf8');
  await a.kill();
  assert.match(saved, /"key":"xid:79"/);
  const b = await start(args);
  const st = await b.state();
  assert.equal(st.condition.status, 'False');
  assert.equal(st.gpus.find((g) => g.pci === PCI)?.findings[0]?.key, 'xid:79');
});
