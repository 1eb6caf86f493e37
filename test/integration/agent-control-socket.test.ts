// The real agent's control socket against a local unprivileged user (`nobody`,
// through setpriv): under umask 000, in a state dir that others may enter (the
// chart's hostPath DirectoryOrCreate makes it 0755), nobody must get in, neither
// through the socket's mode nor, had the mode ever let them connect, past the
// peer check.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { findingOn, startLogFileAgent, type LogFileAgent } from '../helpers/logfile-agent.ts';

const agents: LogFileAgent[] = [];
after(async () => {
  for (const a of agents) await a.dispose();
});

/** Runs `script` under node as uid/gid 65534; resolves with its stdout. */
function asNobody(script: string, args: string[], timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    p.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(t);
      if (code === 0) resolve(out);
      else reject(new Error(`nobody's client exited ${code}: ${err}`));
    });
  });
}

// Connects to argv[1] and sends a clear; prints the reply or the connect error's code.
const CLEAR = `
const s = require('node:net').createConnection(process.argv[1]);
let buf = '';
s.on('connect', () => s.write('{"op":"clear"}\\n'));
s.on('data', (c) => (buf += c));
s.on('end', () => console.log(buf.trim()));
s.on('error', (e) => console.log(JSON.stringify({ connectError: e.code })));
`;

// Loops connect() on argv[1] for argv[2] ms from before the agent creates it; holds the
// first connection that gets through, sends a clear argv[3] ms later, prints the reply.
const RACE = `
const net = require('node:net');
const [path, forMs, waitMs] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
const end = Date.now() + forMs;
let tries = 0;
const attempt = () => {
  tries++;
  const s = net.createConnection(path);
  s.on('connect', () => {
    let buf = '';
    s.on('data', (c) => (buf += c));
    s.on('end', () => console.log(JSON.stringify({ connected: true, tries, reply: buf.trim() })));
    setTimeout(() => s.write('{"op":"clear"}\\n'), waitMs);
  });
  s.on('error', () => (Date.now() < end ? setImmediate(attempt) : console.log(JSON.stringify({ connected: false, tries }))));
};
attempt();
`;

const openDirs = ({ dir, stateDir }: { dir: string; stateDir: string }): void => {
  chmodSync(dir, 0o755);
  mkdirSync(stateDir);
  chmodSync(stateDir, 0o755);
};

test('under umask 000 the control socket is created 0600: nobody racing connect() from before the start never gets a clear through', { timeout: 30_000 }, async () => {
  for (let round = 0; round < 3; round++) {
    let race: Promise<string> | null = null;
    const agent = await startLogFileAgent([], {
      wrap: ['sh', '-c', 'umask 000; exec "$0" "$@"'],
      prepare: (p) => {
        openDirs(p);
        race = asNobody(RACE, [join(p.stateDir, 'control.sock'), '1500', '1500']);
      },
    });
    agents.push(agent);
    agent.xid(79);
    assert.equal(await findingOn(agent.a), 'fatal');
    assert.equal(statSync(join(agent.stateDir, 'control.sock')).mode & 0o777, 0o600);
    const result = JSON.parse(await (race as unknown as Promise<string>)) as { connected: boolean; tries: number; reply?: string };
    assert.ok(result.tries > 10, `the racer kept trying (${result.tries})`);
    if (result.connected) assert.match(result.reply ?? '', /"ok":false/, `round ${round}: a connection that got in was refused: ${result.reply}`);
    assert.equal(await findingOn(agent.a), 'fatal', 'nothing was cleared');
    await agent.dispose();
  }
});

test('a connection from a uid other than root is refused by its peer credentials even when the socket mode would let it in', async () => {
  const agent = await startLogFileAgent([], { prepare: openDirs });
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
