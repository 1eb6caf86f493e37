// A local unprivileged user against the agent's control socket: node run as
// uid/gid 65534 (`nobody`) through setpriv, with small client scripts.
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startLogFileAgent, type AgentPaths, type LogFileAgent } from './logfile-agent.ts';

/** Runs `script` under node as uid/gid 65534; resolves with its stdout. */
export function asNobody(script: string, args: string[], timeoutMs = 10_000): Promise<string> {
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
export const CLEAR = `
const s = require('node:net').createConnection(process.argv[1]);
let buf = '';
s.on('connect', () => s.write('{"op":"clear"}\\n'));
s.on('data', (c) => (buf += c));
s.on('end', () => console.log(buf.trim()));
s.on('error', (e) => console.log(JSON.stringify({ connectError: e.code })));
`;

// Loops connect() on argv[1] for argv[2] ms from before the agent creates it; holds the
// first connection that gets through, sends a clear argv[3] ms later, prints the reply.
export const RACE = `
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

/** The state dir as the chart's hostPath DirectoryOrCreate leaves it: 0755, inside a directory others may enter. */
export function openStateDir({ dir, stateDir }: AgentPaths): void {
  chmodSync(dir, 0o755);
  mkdirSync(stateDir);
  chmodSync(stateDir, 0o755);
}

export interface RaceResult {
  connected: boolean;
  tries: number;
  /** The agent's answer to the clear, when nobody got a connection. */
  reply?: string;
}

/**
 * Starts the agent under umask 000 in a 0755 state dir while nobody loops connect() on
 * its control socket from before the start (for 1.5 s), holding the first connection
 * that gets through and sending a clear on it 1.5 s later, once a finding is there.
 */
export async function startAgentRacedByNobody(): Promise<{ agent: LogFileAgent; race: Promise<RaceResult> }> {
  let race: Promise<string> | null = null;
  const agent = await startLogFileAgent([], {
    wrap: ['sh', '-c', 'umask 000; exec "$0" "$@"'],
    prepare: (p) => {
      openStateDir(p);
      race = asNobody(RACE, [join(p.stateDir, 'control.sock'), '1500', '1500']);
    },
  });
  return { agent, race: (race as unknown as Promise<string>).then((out) => JSON.parse(out) as RaceResult) };
}
