// --log-file read positions survive a SIGKILL: the real agent persists
// (path, inode, offset) in its state file like the kmsg cursor, so a restart
// reads what was written while it was down (forgets nothing) and not what it
// had read (replays nothing). A file replaced while it was down is new: read whole.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratch, startAgentProcess, waitFor, type AgentProcess } from '../helpers/agent-process.ts';
import type { DebugState } from '../../agent/runtime/inspect/state-types.ts';

const PCI = '0000:5e:00.0';
const dirs: string[] = [];
const agents: AgentProcess[] = [];
after(async () => {
  for (const a of agents) await a.kill();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

let pid = 1000;
/** An application-caused Xid (warning): every line is one more occurrence of one finding. */
function xid13(log: string, n: number, partialTail = ''): void {
  let text = '';
  for (let i = 0; i < n; i++) text += `kernel: NVRM: Xid (PCI:${PCI.slice(0, -2)}): 13, pid=${++pid}, name=train, Graphics SM Warp Exception\n`;
  appendFileSync(log, text + partialTail);
}

const count = (st: DebugState): number => st.gpus.find((g) => g.pci === PCI)?.findings.find((f) => f.key === 'xid:13')?.count ?? 0;

async function start(s: { stateDir: string; bootIdFile: string }, log: string): Promise<AgentProcess> {
  const a = await startAgentProcess(['--kmsg', 'none', '--log-file', log, '--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile, '--dry-run']);
  agents.push(a);
  await waitFor('ready', async () => ((await a.get('/readyz')).status === 200 ? true : undefined), 5000);
  return a;
}

async function countReaches(a: AgentProcess, n: number): Promise<void> {
  await waitFor(`Xid 13 count ${n}`, async () => (count(await a.state()) === n ? true : undefined), 5000, 25);
}

/** The state file holds our file's position at its current end. */
async function persistedAtEnd(stateDir: string, log: string): Promise<{ ino: number; offset: number }> {
  const { value } = await waitFor('position persisted', async () => {
    const doc = JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as { logFiles?: Array<{ path: string; ino: number; offset: number }> };
    const p = doc.logFiles?.find((x) => x.path === log);
    return p !== undefined && p.offset === statSync(log).size ? p : undefined;
  }, 5000, 25);
  return value;
}

test('write, SIGKILL, write more, restart: every line counted exactly once', async () => {
  const s = scratch();
  dirs.push(s.dir);
  const log = join(s.dir, 'kern.log');
  writeFileSync(log, '');
  const a = await start(s, log);
  xid13(log, 2);
  await countReaches(a, 2);
  const p = await persistedAtEnd(s.stateDir, log);
  assert.equal(p.ino, statSync(log).ino);
  await a.kill();

  // While the agent is down: one complete line and one the writer has not finished.
  xid13(log, 1, `kernel: NVRM: Xid (PCI:${PCI.slice(0, -2)}): 13, pid=77`);
  const b = await start(s, log);
  await countReaches(b, 3);
  appendFileSync(log, ', name=train, Graphics SM Warp Exception\n'); // the rest of that line, now through tail
  await countReaches(b, 4);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(count(await b.state()), 4, 'nothing replayed, nothing forgotten');
  const detail = (await b.state()).gpus.find((g) => g.pci === PCI)?.findings[0]?.detail ?? '';
  assert.match(detail, /pid=77/, 'the line split across the restart was joined');
  await persistedAtEnd(s.stateDir, log);
  assert.equal(await b.stop(), 0);
});

test('file rotated away while the agent was down: the new file is read from its start', async () => {
  const s = scratch();
  dirs.push(s.dir);
  const log = join(s.dir, 'kern.log');
  writeFileSync(log, '');
  const a = await start(s, log);
  xid13(log, 3);
  await countReaches(a, 3);
  await persistedAtEnd(s.stateDir, log);
  await a.kill();

  renameSync(log, `${log}.1`);
  writeFileSync(log, '');
  xid13(log, 2);
  const b = await start(s, log);
  await countReaches(b, 5);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(count(await b.state()), 5);
});
