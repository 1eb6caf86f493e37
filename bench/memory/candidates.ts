// Ways to make the agent smaller, measured side by side on the same load
// (bench/agent-memory.ts --candidates): the same agent code each time, built or
// started differently. Runs are interleaved (A B C D, A B C D, ...) so that a
// change in the machine's load falls on every candidate alike.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seedCursorAtEnd } from '../../agent/runtime/seed.ts';
import { ROOT, startAgent, until } from '../lib/agent.ts';
import { memoryOf, mib, sleep } from '../lib/proc.ts';
import { spread, type Spread } from '../lib/stats.ts';
import { feedAtAgentPace } from './feed.ts';

export interface Candidate {
  name: string;
  /** Entry point; the tsc output (dist/agent/main.js) when absent. */
  main?: string;
  nodeFlags: string[];
  /** Extra environment, e.g. MALLOC_ARENA_MAX. */
  env?: Record<string, string>;
}

/**
 * The agent as one minified ES module (esbuild; koffi stays a package: it loads
 * a native addon). It sits three folders below the repository, as the tsc
 * output's modules do, so the paths they derive from import.meta.url (rule
 * defaults) still resolve; the NVML/DCGM worker files would not, so it is
 * measured with --gpu-backend none only.
 */
export async function buildBundle(): Promise<string> {
  const esbuild = await import('esbuild');
  const out = join(ROOT, 'dist', '.bench-bundle', 'agent', 'main.mjs');
  mkdirSync(join(out, '..'), { recursive: true });
  await esbuild.build({
    entryPoints: [join(ROOT, 'dist/agent/main.js')],
    outfile: out,
    bundle: true,
    minify: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    external: ['koffi'],
    // CommonJS packages in an ES module bundle call require(): give them one.
    banner: { js: "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);" },
    logLevel: 'warning',
  });
  return out;
}

export interface CandidateResult {
  name: string;
  nodeFlags: string[];
  env: Record<string, string>;
  bundled: boolean;
  idleRssMiB: Spread;
  idleAnonMiB: Spread;
  loadedRssMiB: Spread;
  loadedAnonMiB: Spread;
  peakMiB: Spread;
}

/** One run of one candidate: RSS idle (10 s after ready) and 5 s after `records` lines of kern.log. */
async function once(c: Candidate, records: number, kmsg: string): Promise<{ idle: number; idleAnon: number; loaded: number; loadedAnon: number; peak: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'gha-bench-cand-'));
  const stateDir = join(dir, 'state');
  const kernLog = join(dir, 'kern.log');
  writeFileSync(kernLog, '');
  if (kmsg !== 'none') await seedCursorAtEnd(stateDir, readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(), kmsg);
  const agent = await startAgent(
    ['--dry-run', '--node-name', 'bench-node', '--state-dir', stateDir, '--kmsg', kmsg, '--log-file', kernLog, '--gpu-backend', 'none'],
    { logFile: join(dir, 'agent.log'), nodeFlags: c.nodeFlags, ...(c.main !== undefined ? { main: c.main } : {}), ...(c.env !== undefined ? { env: c.env } : {}) },
  );
  try {
    await until('agent ready', async () => ((await agent.get('/readyz')).status === 200 ? true : undefined), 15_000, 100);
    await sleep(10_000);
    const idle = memoryOf(agent.pid);
    await feedAtAgentPace(agent, kernLog, records);
    await sleep(5000);
    const loaded = memoryOf(agent.pid);
    return { idle: +mib(idle.rss), idleAnon: +mib(idle.anon), loaded: +mib(loaded.rss), loadedAnon: +mib(loaded.anon), peak: +mib(loaded.hwm) };
  } finally {
    await agent.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function measureCandidates(candidates: Candidate[], opts: { runs: number; records: number; kmsg: string; log: (s: string) => void }): Promise<CandidateResult[]> {
  const runs = candidates.map(() => [] as Array<Awaited<ReturnType<typeof once>>>);
  for (let r = 0; r < opts.runs; r++) {
    for (const [i, c] of candidates.entries()) {
      opts.log(`candidate ${c.name}, run ${r + 1}/${opts.runs}`);
      runs[i]!.push(await once(c, opts.records, opts.kmsg));
    }
  }
  return candidates.map((c, i) => {
    const xs = runs[i]!;
    return {
      name: c.name,
      nodeFlags: c.nodeFlags,
      env: c.env ?? {},
      bundled: c.main !== undefined,
      idleRssMiB: spread(xs.map((x) => x.idle), 1),
      idleAnonMiB: spread(xs.map((x) => x.idleAnon), 1),
      loadedRssMiB: spread(xs.map((x) => x.loaded), 1),
      loadedAnonMiB: spread(xs.map((x) => x.loadedAnon), 1),
      peakMiB: spread(xs.map((x) => x.peak), 1),
    };
  });
}
