// The built agent as a user runs it: `dist/agent/main.js` with the node flags its
// shebang line carries (what `npx gpu-health-agent` and the bin link execute;
// the Dockerfile's ENTRYPOINT passes the same ones). Its log goes to a file, so a
// busy agent never waits on a pipe the benchmark is slow to drain.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { sleep } from './proc.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
export const MAIN = join(ROOT, 'dist/agent/main.js');

/** The words of the built entry point's first line, e.g. `#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=1`, split at `node`. */
function shebang(): { env: string[]; flags: string[] } {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`);
  const first = readFileSync(MAIN, 'utf8').split('\n', 1)[0] ?? '';
  if (!first.startsWith('#!')) return { env: [], flags: [] };
  const words = first.slice(2).trim().split(/\s+/);
  const at = words.findIndex((w) => w === 'node' || w.endsWith('/node'));
  return at === -1 ? { env: [], flags: [] } : { env: words.slice(0, at).filter((w) => /^[A-Z_][A-Z0-9_]*=/.test(w)), flags: words.slice(at + 1) };
}

/** Node flags of the shebang line. */
export function shebangFlags(): string[] {
  return shebang().flags;
}

/** Environment the shebang line sets (`NAME=value` before `node`). */
export function shebangEnv(): Record<string, string> {
  return Object.fromEntries(shebang().env.map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]));
}

export interface BenchAgent {
  proc: ChildProcess;
  pid: number;
  addr: string;
  logFile: string;
  get(path: string): Promise<{ status: number; body: string }>;
  json<T>(path: string): Promise<T>;
  /** SIGTERM, then SIGKILL after 5 s; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `run` with `args` (the built agent, its shebang's flags, unless told otherwise); resolves once its debug server listens. */
export async function startAgent(
  args: string[],
  opts: { logFile: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; /** Another entry point (a bundle) */ main?: string; /** Instead of the shebang's */ nodeFlags?: string[] },
): Promise<BenchAgent> {
  const out = openSync(opts.logFile, 'w');
  const proc = spawn(process.execPath, [...(opts.nodeFlags ?? shebangFlags()), opts.main ?? MAIN, 'run', '--debug-addr', '127.0.0.1:0', ...args], {
    stdio: ['ignore', out, out],
    env: { ...process.env, ...(opts.nodeFlags === undefined ? shebangEnv() : {}), ...opts.env },
  });
  closeSync(out);
  const exited = new Promise<number | null>((res) => proc.once('exit', (code) => res(code)));
  let done = false;
  void exited.then(() => (done = true));

  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  let addr: string | null = null;
  while (addr === null) {
    const m = /"addr":"(127\.0\.0\.1:\d+)"[^\n]*"msg":"debug server listening"/.exec(readFileSync(opts.logFile, 'utf8'));
    if (m !== null) addr = m[1] ?? null;
    else if (done) throw new Error(`agent exited before listening:\n${readFileSync(opts.logFile, 'utf8').slice(-2000)}`);
    else if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`agent did not listen in time:\n${readFileSync(opts.logFile, 'utf8').slice(-2000)}`);
    } else await sleep(50);
  }
  const base = `http://${addr}`;
  const get = async (path: string): Promise<{ status: number; body: string }> => {
    const res = await fetch(base + path, { signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: await res.text() };
  };
  return {
    proc,
    pid: proc.pid as number,
    addr,
    logFile: opts.logFile,
    get,
    json: async <T>(path: string): Promise<T> => JSON.parse((await get(path)).body) as T,
    async stop() {
      if (!done) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        const code = await exited;
        clearTimeout(t);
        return code;
      }
      return exited;
    },
  };
}

/** Polls `fn` until it returns a value, or throws after `timeoutMs`. */
export async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`);
    await sleep(everyMs);
  }
}

/** `gpu-health-agent clear` on the agent's control socket: every finding cleared, as an operator would. */
export async function clearFindings(stateDir: string): Promise<void> {
  const child = spawn(process.execPath, [...shebangFlags(), MAIN, 'clear', '--state-dir', stateDir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  const code = await new Promise<number | null>((res) => child.once('exit', res));
  if (code !== 0) throw new Error(`clear exited ${code}: ${err}`);
}
