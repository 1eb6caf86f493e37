// Test harness for the GPU sources: builds the native stand-ins, runs the
// stand-in host engine as a real child process on a real unix socket, and
// collects what a source emits. Helpers only; the suites are *.test.ts.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Observation } from '../../agent/model/evidence.ts';
import type { SourceStatus } from '../../agent/model/source-status.ts';
import type { GpuSourceSink } from '../../agent/sources/gpu/types.ts';
import { scratch, startAgentProcess, waitFor, type AgentProcess } from '../helpers/agent-process.ts';
import type { Cleanup } from '../helpers/cleanup.ts';
import { seedCursorAtEnd } from '../helpers/kmsg.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DCGM_LIB = path.join(ROOT, 'native/build/libdcgm.so.4');
export const DCGM3_LIB = path.join(ROOT, 'native/build/libdcgm.so.3');
export const NVML_LIB = path.join(ROOT, 'native/build/libnvidia-ml.so.1');

/** Builds the stand-ins (incremental); throws when gcc is missing: these suites never skip. */
export function buildNative(): void {
  execFileSync('bash', [path.join(ROOT, 'native/build.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
}

export function tempDir(prefix: string): string {
  // Short: unix socket paths must fit in 108 bytes.
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface Engine {
  socket: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `npm run standin:dcgm -- --socket PATH --gpus N` (as node directly) and waits until it listens. */
export async function startEngine(socket: string, gpus: number, extra: string[] = []): Promise<Engine> {
  const proc = spawn(process.execPath, [path.join(ROOT, 'scripts/standin/dcgm.ts'), '--socket', socket, '--gpus', String(gpus), ...extra], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`stand-in engine did not start: ${out}`)), 10_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('listening')) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`stand-in engine exited with ${code}: ${out}`));
    });
  });
  return {
    socket,
    proc,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

/** Runs the stand-in CLI the way an operator would (`npm run standin:dcgm -- ARGS`). */
export function standinCli(args: string[]): string {
  return execFileSync(process.execPath, [path.join(ROOT, 'scripts/standin/dcgm.ts'), ...args], { cwd: ROOT, encoding: 'utf8' });
}

export interface Collector extends GpuSourceSink {
  observations: Observation[];
  statuses: SourceStatus[];
  last(source?: SourceStatus['source']): SourceStatus | undefined;
  waitFor<T>(what: string, probe: () => T | undefined | null | false, timeoutMs?: number): Promise<T>;
  waitState(state: SourceStatus['state'], timeoutMs?: number, source?: SourceStatus['source']): Promise<SourceStatus>;
}

export function collector(): Collector {
  const observations: Observation[] = [];
  const statuses: SourceStatus[] = [];
  const c: Collector = {
    observations,
    statuses,
    onObservation: (o) => observations.push(o),
    onStatus: (s) => statuses.push(s),
    last: (source) => [...statuses].reverse().find((s) => source === undefined || s.source === source),
    async waitFor(what, probe, timeoutMs = 5000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const v = probe();
        if (v) return v;
        if (Date.now() > end) {
          throw new Error(`timed out waiting for ${what}; statuses: ${JSON.stringify(statuses.slice(-4))}; observations: ${JSON.stringify(observations.map((o) => o.evidence))}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    waitState(state, timeoutMs = 5000, source) {
      return c.waitFor(`status ${state}`, () => {
        const s = c.last(source);
        return s && s.state === state ? s : undefined;
      }, timeoutMs);
    },
  };
  return c;
}

/** Largest gap between 5 ms timer ticks while `during` runs: how responsive the event loop stayed. */
export async function maxTimerLag<T>(during: () => Promise<T>): Promise<{ result: T; maxLagMs: number }> {
  let last = performance.now();
  let maxLagMs = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    maxLagMs = Math.max(maxLagMs, now - last - 5);
    last = now;
  }, 5);
  try {
    const result = await during();
    return { result, maxLagMs };
  } finally {
    clearInterval(tick);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface AgentOnEngine {
  engine: Engine;
  socket: string;
  a: AgentProcess;
  /** The engine's scratch directory (short, for the socket). */
  dir: string;
  stateDir: string;
}

/**
 * The real agent with --gpu-backend dcgm on the stand-in library and a fresh
 * stand-in engine (2 GPUs), ready with DCGM up. `kmsg`: read the real /dev/kmsg
 * from its end (default), or `none`. `extra(dir)` adds flags.
 */
export async function agentOnEngine(c: Cleanup, opts: { kmsg?: boolean; extra?: (dir: string) => string[] } = {}): Promise<AgentOnEngine> {
  const dir = tempDir('gha-ad-');
  c.dirs.push(dir);
  const socket = path.join(dir, 'he.sock');
  const engine = await startEngine(socket, 2);
  c.engines.push(engine);
  const s = scratch();
  c.dirs.push(s.dir);
  if (opts.kmsg !== false) await seedCursorAtEnd(s.stateDir, s.bootId);
  const a = await startAgentProcess([
    ...(opts.kmsg === false ? ['--kmsg', 'none'] : []),
    '--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile, '--dry-run',
    '--gpu-backend', 'dcgm', '--dcgm-address', `unix://${socket}`, '--dcgm-lib', DCGM_LIB, '--dcgm-interval', '200ms',
    ...(opts.extra?.(dir) ?? []),
  ]);
  c.agents.push(a);
  await waitFor('ready with DCGM up', async () => {
    const st = await a.state();
    return st.ready && st.sources.find((x) => x.source === 'dcgm')?.state === 'up' ? st : undefined;
  }, 10_000, 50);
  return { engine, socket, a, dir, stateDir: s.stateDir };
}
