// The real agent's control socket against a local unprivileged user (`nobody`,
// through setpriv): under umask 000, in a state dir that others may enter (the
// chart's hostPath DirectoryOrCreate makes it 0755), nobody must get in, neither
// through the socket's mode nor, had the mode ever let them connect, past the
// peer check.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { findingOn, startLogFileAgent, type LogFileAgent } from '../helpers/logfile-agent.ts';
import { asNobody, CLEAR, openStateDir, startAgentRacedByNobody } from '../helpers/nobody.ts';

const agents: LogFileAgent[] = [];
after(async () => {
  for (const a of agents) await a.dispose();
});

test('under umask 000 the control socket is created 0600: nobody racing connect() from before the start never gets a clear through', { timeout: 30_000 }, async () => {
  for (let round = 0; round < 3; round++) {
    const { agent, race } = await startAgentRacedByNobody();
    agents.push(agent);
    agent.xid(79);
    assert.equal(await findingOn(agent.a), 'fatal');
    assert.equal(statSync(join(agent.stateDir, 'control.sock')).mode & 0o777, 0o600);
    const result = await race;
    assert.ok(result.tries > 10, `the racer kept trying (${result.tries})`);
    if (result.connected) assert.match(result.reply ?? '', /"ok":false/, `round ${round}: a connection that got in was refused: ${result.reply}`);
    assert.equal(await findingOn(agent.a), 'fatal', 'nothing was cleared');
    await agent.dispose();
  }
});

test('a connection from a uid other than root is refused by its peer credentials even when the socket mode would let it in', async () => {
  const agent = await startLogFileAgent([], { prepare: openStateDir });
  agents.push(agent);
  agent.xid(79);
  assert.equal(await findingOn(agent.a), 'fatal');
  const sock = join(agent.stateDir, 'control.sock');
  // Without the mode in the way nobody could connect: what was lost to the race before.
  chmodSync(sock, 0o666);
  const reply = JSON.parse(await asNobody(CLEAR, [sock])) as { ok: boolean; error?: string };
  assert.deepEqual(reply, { ok: false, error: 'permission denied: uid 65534 may not use the control socket (root only)' });
  assert.equal(await findingOn(agent.a), 'fatal', 'nothing was cleared');
  await agent.a.waitForLine((l) => l.uid === 65534 && String(l.msg).includes('control socket'));
  // Root still can.
  chmodSync(sock, 0o600);
  const root = await new Promise<string>((resolve) => {
    const p = spawn(process.execPath, ['-e', CLEAR, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    p.on('close', () => resolve(out));
  });
  assert.match(root, /"ok":true,.*cleared 1 finding/);
});
