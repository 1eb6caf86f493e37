// Restarts of the real agent: SIGKILL keeps findings, transition time and
// cursor; a changed boot id clears reboot-cleared findings; a corrupt state file
// is a clean start with a warning.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAgentProcess, scratch, waitFor, type AgentProcess } from '../helpers/agent-process.ts';
import { drill, marker, seedCursorAtEnd, uniquePci } from '../helpers/kmsg.ts';
import type { DebugState } from '../../agent/runtime/inspect/state-types.ts';

const dirs: string[] = [];
const agents: AgentProcess[] = [];
after(async () => {
  for (const a of agents) await a.kill();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function start(args: string[]): Promise<AgentProcess> {
  const a = await startAgentProcess(['--dry-run', ...args]);
  agents.push(a);
  await waitFor('ready', async () => ((await a.get('/readyz')).status === 200 ? true : undefined), 5000);
  return a;
}

const ours = (s: DebugState, pci: string) => s.gpus.find((g) => g.pci === pci);

test('SIGKILL and restart: same findings, same transition time, no double count, cursor resumes', async () => {
  const s = scratch();
  dirs.push(s.dir);
  await seedCursorAtEnd(s.stateDir, s.bootId);
  const args = ['--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile, '--accept-drills'];
  const pci = uniquePci();
  const a = await start(args);
  drill({ xid: 79, pci, text: marker() });
  const { value: first } = await waitFor('fatal finding persisted', async () => {
    const st = await a.state();
    const f = ours(st, pci)?.findings.find((x) => x.key === 'xid:79');
    // Wait for the state write that follows the finding, as a crash could come at any time after it.
    return f !== undefined && st.condition.status === 'False' && st.persisted !== null && st.persisted.at >= f.firstSeen ? st : undefined;
  });
  await new Promise((r) => setTimeout(r, 300)); // let the debounced write of the condition land too
  const firstState = await a.state();
  await a.kill();

  const b = await start(args);
  const second = await b.state();
  const f1 = ours(firstState, pci)?.findings.find((x) => x.key === 'xid:79');
  const f2 = ours(second, pci)?.findings.find((x) => x.key === 'xid:79');
  assert.ok(f1 !== undefined && f2 !== undefined, 'finding survives SIGKILL');
  assert.equal(f2.count, 1, 'the record is not read twice');
  assert.equal(f2.firstSeen, f1.firstSeen);
  assert.equal(second.condition.status, 'False');
  assert.equal(second.condition.lastTransitionTime, firstState.condition.lastTransitionTime, 'transition time kept across restart');
  assert.equal(first.condition.lastTransitionTime, firstState.condition.lastTransitionTime);
  assert.ok(second.cursor !== null && firstState.cursor !== null && second.cursor.seq >= firstState.cursor.seq);

  // The same fault again after the restart is a repeat, counted once more.
  drill({ xid: 79, pci, text: marker() });
  await waitFor('repeat counted', async () => {
    const st = await b.state();
    return ours(st, pci)?.findings.find((x) => x.key === 'xid:79')?.count === 2 ? true : undefined;
  });
  assert.equal((await b.state()).condition.lastTransitionTime, firstState.condition.lastTransitionTime);
  assert.equal(await b.stop(), 0, 'SIGTERM exits 0');
});

test('reboot (boot id changes): findings that a reboot clears are gone, the condition goes True', async () => {
  const s = scratch();
  dirs.push(s.dir);
  await seedCursorAtEnd(s.stateDir, s.bootId);
  const pci = uniquePci();
  const a = await start(['--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile, '--accept-drills']);
  drill({ xid: 79, pci, text: marker() });
  await waitFor('finding persisted', async () => {
    const st = await a.state();
    return ours(st, pci) !== undefined && st.condition.status === 'False' && st.persisted !== null ? true : undefined;
  });
  assert.equal(await a.stop(), 0);

  writeFileSync(s.bootIdFile, 'boot-after-reboot\n');
  // A real reboot empties the ring buffer; the fake one cannot, so the rebooted
  // agent reads an empty kernel log file instead of replaying /dev/kmsg.
  const empty = join(s.dir, 'kern.log');
  writeFileSync(empty, '');
  const b = await start(['--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile, '--kmsg', 'none', '--log-file', empty]);
  const st = await b.state();
  assert.equal(st.bootId, 'boot-after-reboot');
  assert.equal(ours(st, pci)?.findings.length ?? 0, 0, 'Xid 79 clears on reboot');
  assert.equal(st.condition.status, 'True');
  assert.equal(st.cursor, null, 'the old boot cursor is dropped');
  await b.waitForLine((l) => l.msg === 'would write event' && (l.event as { reason: string }).reason === 'GPUFindingCleared');
  await b.waitForLine((l) => typeof l.msg === 'string' && l.msg.startsWith('state restored after a reboot'));
});

test('a corrupt state file: a clean start with a warning, not a crash', async () => {
  const s = scratch();
  dirs.push(s.dir);
  await seedCursorAtEnd(s.stateDir, s.bootId);
  const path = join(s.stateDir, 'state.json');
  writeFileSync(path, '{"version":1,"bootId":"x", truncated');
  const a = await start(['--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile]);
  const w = await a.waitForLine((l) => l.level === 40 && typeof l.msg === 'string' && l.msg.includes('not valid JSON'));
  assert.match(String(w.msg), /starting clean/);
  assert.ok(existsSync(`${path}.corrupt`), 'the bad file is kept for a person to look at');
  const st = await a.state();
  assert.equal(st.ready, true);
  assert.equal(st.condition.status, 'True');
  // A fresh, valid state file replaces it.
  await waitFor('new state file', async () => (existsSync(path) && JSON.parse(readFileSync(path, 'utf8')).version === 1 ? true : undefined));

  // Valid JSON of the wrong shape is handled the same way.
  await a.stop();
  writeFileSync(path, JSON.stringify({ version: 1, bootId: s.bootId, health: 'nope' }));
  const b = await start(['--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile]);
  await b.waitForLine((l) => l.level === 40 && typeof l.msg === 'string' && l.msg.includes('unexpected shape'));
  assert.equal((await b.state()).ready, true);
});
