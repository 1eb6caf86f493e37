// Runs the REAL built agent (`node dist/agent/main.js run ...`) as a child
// process and talks to it the way a person would: its debug endpoint, its log
// lines, signals. Tests must `npm run build` first; a missing build fails loudly.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { DebugState } from '../../agent/runtime/inspect/state-types.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
/** The built agent; GPU_HEALTH_AGENT_MAIN points the tests (and `npm run faults`) at another build, e.g. an older release's. */
export const MAIN = process.env.GPU_HEALTH_AGENT_MAIN ?? join(ROOT, 'dist/agent/main.js');

export function requireBuild(): void {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` before the integration tests`);
}

export interface AgentProcess {
  proc: ChildProcess;
  /** The flags it was started with (after `run` and the test defaults), to start it again. */
  args: string[];
  port: number;
  addr: string;
  /** Parsed JSON log lines so far. */
  lines: Array<Record<string, unknown>>;
  stderr(): string;
  get(path: string): Promise<{ status: number; body: string }>;
  state(): Promise<DebugState>;
  waitForLine(pred: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
  exited: Promise<number | null>;
}

/** A scratch dir with a fake boot id file; `stateDir` is inside it. */
export function scratch(bootId = `boot-${randomBytes(6).toString('hex')}`): { dir: string; stateDir: string; bootIdFile: string; bootId: string } {
  const dir = mkdtempSync(join(tmpdir(), 'gha-it-'));
  const bootIdFile = join(dir, 'boot_id');
  writeFileSync(bootIdFile, `${bootId}\n`);
  return { dir, stateDir: join(dir, 'state'), bootIdFile, bootId };
}

export interface AgentProcessOptions {
  timeoutMs?: number;
  expectListen?: boolean;
  /** A command that execs the agent, e.g. ['prlimit', '--nofile=2048:2048']: the agent keeps its pid. */
  wrap?: string[];
  /** Extra environment. */
  env?: NodeJS.ProcessEnv;
}

export async function startAgentProcess(args: string[], opts: AgentProcessOptions = {}): Promise<AgentProcess> {
  requireBuild();
  const argv = [MAIN, 'run', '--debug-addr', '127.0.0.1:0', '--gpu-backend', 'none', ...args];
  const [cmd, ...rest] = [...(opts.wrap ?? []), process.execPath, ...argv] as [string, ...string[]];
  const proc = spawn(cmd, rest, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_NAME: 'it-node', ...opts.env },
  });
  const lines: Array<Record<string, unknown>> = [];
  let err = '';
  let partial = '';
  const waiters: Array<() => void> = [];
  proc.stdout?.setEncoding('utf8');
  proc.stdout?.on('data', (chunk: string) => {
    partial += chunk;
    let nl;
    while ((nl = partial.indexOf('\n')) !== -1) {
      const text = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      try {
        lines.push(JSON.parse(text) as Record<string, unknown>);
      } catch {
        lines.push({ raw: text });
      }
    }
    for (const w of waiters.splice(0)) w();
  });
  proc.stderr?.setEncoding('utf8');
  proc.stderr?.on('data', (c: string) => (err += c));
  // 'close', not 'exit': it comes after stdout is drained, so every log line is in `lines`.
  const exited = new Promise<number | null>((res) => proc.once('close', (code) => res(code)));

  const waitForLine = async (pred: (l: Record<string, unknown>) => boolean, timeoutMs = 5000): Promise<Record<string, unknown>> => {
    const deadline = Date.now() + timeoutMs;
    let exitedFlag = false;
    void exited.then(() => (exitedFlag = true));
    for (;;) {
      const hit = lines.find(pred);
      if (hit !== undefined) return hit;
      if (exitedFlag) throw new Error(`agent exited before the expected log line; stderr: ${err}; lines: ${JSON.stringify(lines.slice(-5))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for a log line; last lines: ${JSON.stringify(lines.slice(-5))}; stderr: ${err}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 100));
        waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  };

  let port = 0;
  if (opts.expectListen !== false) {
    const l = await waitForLine((x) => x.msg === 'debug server listening', opts.timeoutMs ?? 10_000);
    port = Number(String(l.addr).split(':').pop());
  }
  const addr = `127.0.0.1:${port}`;
  const get = async (path: string): Promise<{ status: number; body: string }> => {
    const res = await fetch(`http://${addr}${path}`, { signal: AbortSignal.timeout(3000) });
    return { status: res.status, body: await res.text() };
  };
  return {
    proc,
    args,
    port,
    addr,
    lines,
    stderr: () => err,
    get,
    state: async () => JSON.parse((await get('/debug/state')).body) as DebugState,
    waitForLine,
    exited,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

export { waitFor } from './wait.ts';
