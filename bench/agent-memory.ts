// Resident memory and idle CPU of the real built agent (dry run), from the
// kernel's own figures (/proc/<pid>/status, /proc/<pid>/stat), against a bare
// node and a bare node with one worker thread in the same run.
//
// The agent reads the real /dev/kmsg (when readable; from a cursor seeded at its
// end) and a kernel log file; a million kern.log lines with 0.1% NVIDIA records
// (many distinct GPUs and Xid codes, so many distinct findings) are appended to
// that file at the agent's own pace, and memory is sampled idle, while it reads,
// after each quarter and after it settles.
//
//   node bench/agent-memory.ts [--records N] [--idle-seconds S] [--kmsg none] [--gpu-backend B] [--nvml-lib PATH] [--json]
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, constants, accessSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seedCursorAtEnd } from '../agent/runtime/seed.ts';
import { shebangEnv, shebangFlags, startAgent, until } from './lib/agent.ts';
import { cpuPercentOver, cpuSecondsOf, memoryOf, mib, sleep, threadCount, type Memory } from './lib/proc.ts';
import { feedAtAgentPace, GPUS } from './memory/feed.ts';
import { buildBundle, measureCandidates, type CandidateResult } from './memory/candidates.ts';
import { showSpread } from './lib/stats.ts';

const args = process.argv.slice(2);
const asJson = args.includes('--json');
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i === -1 ? dflt : (args[i + 1] ?? dflt);
};
const RECORDS = Number(opt('--records', '1000000'));
const IDLE_S = Number(opt('--idle-seconds', '20'));
const GPU_BACKEND = opt('--gpu-backend', 'none');
const KMSG = opt('--kmsg', readable('/dev/kmsg') ? '/dev/kmsg' : 'none');
/** e.g. native/build/libnvidia-ml.so.1 (the stand-in) with --gpu-backend nvml: the NVML call worker's cost. */
const NVML_LIB = opt('--nvml-lib', '');
/** The design's targets: RSS idle, and after a million records. */
const TARGET_IDLE_MIB = 72;
const TARGET_LOADED_MIB = 80;
const CANDIDATE_RUNS = Number(opt('--candidate-runs', '3'));
const CANDIDATE_RECORDS = Number(opt('--candidate-records', String(RECORDS)));

function readable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

interface Row {
  what: string;
  rssMiB: number;
  anonMiB: number;
  fileMiB: number;
  hwmMiB: number;
  threads: number;
}

const rows: Row[] = [];
function row(what: string, pid: number): Row {
  const m: Memory = memoryOf(pid);
  const r = { what, rssMiB: +mib(m.rss), anonMiB: +mib(m.anon), fileMiB: +mib(m.file), hwmMiB: +mib(m.hwm), threads: threadCount(pid) };
  rows.push(r);
  return r;
}

/** A bare node running `code`, measured after it settled. */
async function baseline(what: string, code: string): Promise<Row> {
  const child = spawn(process.execPath, [...shebangFlags(), '-e', code], { stdio: 'ignore', env: { ...process.env, ...shebangEnv() } });
  await sleep(2500);
  const r = row(what, child.pid as number);
  child.kill('SIGKILL');
  return r;
}

async function main(): Promise<void> {
  const bare = await baseline('bare node (setInterval)', 'setInterval(() => {}, 1000)');
  const oneWorker = await baseline(
    'bare node + 1 worker thread',
    "const { Worker } = require('node:worker_threads'); new Worker('setInterval(() => {}, 1000)', { eval: true }); setInterval(() => {}, 1000)",
  );

  const dir = mkdtempSync(join(tmpdir(), 'gha-bench-mem-'));
  const stateDir = join(dir, 'state');
  const kernLog = join(dir, 'kern.log');
  writeFileSync(kernLog, '');
  if (KMSG !== 'none') await seedCursorAtEnd(stateDir, readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(), KMSG);
  const agent = await startAgent(
    ['--dry-run', '--node-name', 'bench-node', '--state-dir', stateDir, '--kmsg', KMSG, '--log-file', kernLog, '--gpu-backend', GPU_BACKEND, ...(NVML_LIB === '' ? [] : ['--nvml-lib', NVML_LIB])],
    { logFile: join(dir, 'agent.log') },
  );
  const samples: Array<{ t: number; read: number; rssMiB: number }> = [];
  const t0 = Date.now();
  let result: Record<string, unknown> = {};
  try {
    await until('agent ready', async () => ((await agent.get('/readyz')).status === 200 ? true : undefined), 15_000, 100);
    await sleep(3000);
    const idle = row('agent idle (ready, 3 s)', agent.pid);
    const idleCpu = await cpuPercentOver(agent.pid, IDLE_S * 1000);
    row(`agent idle (after ${IDLE_S} s)`, agent.pid);

    const quarters = [0.25, 0.5, 0.75, 1].map((q) => Math.round(RECORDS * q));
    const atQuarter: Row[] = [];
    let peakSample = 0;
    const loadStart = Date.now();
    const cpuStart = cpuSecondsOf(agent.pid);
    await feedAtAgentPace(agent, kernLog, RECORDS, async (read) => {
      const m = memoryOf(agent.pid);
      peakSample = Math.max(peakSample, m.rss);
      samples.push({ t: Date.now() - t0, read, rssMiB: +mib(m.rss) });
      const q = quarters[atQuarter.length];
      if (q !== undefined && read >= q) {
        await sleep(1000);
        atQuarter.push(row(`agent after ${(q / 1000).toLocaleString('en-US')}k records`, agent.pid));
      }
    });
    const loadMs = Date.now() - loadStart;
    const loadCpu = cpuSecondsOf(agent.pid) - cpuStart;
    await sleep(10_000);
    const settled = row('agent 10 s after the last record', agent.pid);
    const st = await agent.json<{ totals?: unknown; findingsEvicted?: number; gpus?: unknown[] }>('/debug/state');

    // Growth is judged over the second half: the first quarter still holds V8's warm-up
    // (code, feedback, old space settling); both figures are printed.
    const first = atQuarter[0];
    const half = atQuarter[1];
    const last = atQuarter.at(-1);
    const growthAll = first !== undefined && last !== undefined ? +(last.rssMiB - first.rssMiB).toFixed(1) : null;
    const growth = half !== undefined && last !== undefined ? +(last.rssMiB - half.rssMiB).toFixed(1) : null;
    const steady = Math.max(idle.rssMiB, settled.rssMiB);
    result = {
      node: process.version,
      nodeFlags: shebangFlags(),
      env: shebangEnv(),
      kmsg: KMSG,
      gpuBackend: GPU_BACKEND,
      records: RECORDS,
      nvidiaRecords: Math.floor((RECORDS + 499) / 1000),
      gpusInLog: GPUS,
      gpusInState: st.gpus?.length ?? null,
      findingsEvicted: st.findingsEvicted ?? null,
      rows,
      baseline: { bare: bare.rssMiB, oneWorker: oneWorker.rssMiB, workerCostMiB: +(oneWorker.rssMiB - bare.rssMiB).toFixed(1) },
      idleCpuPercent: +idleCpu.toFixed(3),
      idleSeconds: IDLE_S,
      loadSeconds: +(loadMs / 1000).toFixed(1),
      loadRecordsPerSecond: Math.round(RECORDS / (loadMs / 1000)),
      loadCpuSeconds: +loadCpu.toFixed(2),
      peakSampleMiB: +mib(peakSample),
      hwmMiB: settled.hwmMiB,
      growthMiB: growth,
      growthFromFirstQuarterMiB: growthAll,
      steadyMiB: steady,
      targets: {
        idleUnder72MiB: idle.rssMiB < TARGET_IDLE_MIB,
        afterRecordsUnder80MiB: settled.rssMiB < TARGET_LOADED_MIB,
        noGrowth: growth !== null && growth <= 2,
        idleCpuUnder02: idleCpu < 0.2,
      },
    };
  } finally {
    await agent.stop();
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  }

  // Candidates, side by side on the same load (the first is the agent before this work).
  let candidates: CandidateResult[] = [];
  if (CANDIDATE_RUNS > 0) {
    const bundle = await buildBundle();
    const before = ['--max-semi-space-size=1'];
    candidates = await measureCandidates(
      [
        { name: 'tsc output, --max-semi-space-size=1', nodeFlags: before },
        { name: 'tsc output, + --no-opt (Maglev, no TurboFan)', nodeFlags: [...before, '--no-opt'] },
        { name: 'esbuild bundle (one minified file)', main: bundle, nodeFlags: before },
        { name: 'esbuild bundle + --no-opt', main: bundle, nodeFlags: [...before, '--no-opt'] },
        // glibc gives each thread that mallocs its own arena; two arenas for the agent's dozen threads.
        { name: 'tsc output, + --no-opt, MALLOC_ARENA_MAX=2', nodeFlags: [...before, '--no-opt'], env: { MALLOC_ARENA_MAX: '2' } },
      ],
      { runs: CANDIDATE_RUNS, records: CANDIDATE_RECORDS, kmsg: KMSG, log: (m) => void process.stderr.write(`agent-memory: ${m}\n`) },
    );
    result.candidates = candidates;
  }

  if (asJson) {
    process.stdout.write(JSON.stringify(result) + '\n');
    return;
  }
  const r = result as {
    nodeFlags: string[]; env: Record<string, string>; kmsg: string; gpuBackend: string; records: number; idleCpuPercent: number; idleSeconds: number;
    loadSeconds: number; loadRecordsPerSecond: number; loadCpuSeconds: number; peakSampleMiB: number; hwmMiB: number; growthMiB: number | null; growthFromFirstQuarterMiB: number | null;
    steadyMiB: number; gpusInState: number | null; targets: Record<string, boolean>; baseline: { workerCostMiB: number };
  };
  const out: string[] = [];
  out.push(`agent memory: ${process.version}, node flags [${r.nodeFlags.join(' ')}], env ${JSON.stringify(r.env)}, --kmsg ${r.kmsg}, --gpu-backend ${r.gpuBackend}, dry run`);
  out.push(`${'process'.padEnd(40)} ${'RSS'.padStart(7)} ${'anon'.padStart(7)} ${'file'.padStart(7)} ${'peak'.padStart(7)} ${'thr'.padStart(4)}   (MiB)`);
  for (const x of rows) {
    out.push(`${x.what.padEnd(40)} ${x.rssMiB.toFixed(1).padStart(7)} ${x.anonMiB.toFixed(1).padStart(7)} ${x.fileMiB.toFixed(1).padStart(7)} ${x.hwmMiB.toFixed(1).padStart(7)} ${String(x.threads).padStart(4)}`);
  }
  out.push(`one worker thread costs ${r.baseline.workerCostMiB} MiB over a bare node`);
  out.push(`load: ${r.records.toLocaleString('en-US')} lines in ${r.loadSeconds} s (${r.loadRecordsPerSecond.toLocaleString('en-US')}/s at the agent's pace), ${r.loadCpuSeconds} CPU s; GPUs in state: ${r.gpusInState}`);
  out.push(`peak RSS sampled during load ${r.peakSampleMiB} MiB; VmHWM ${r.hwmMiB} MiB; growth half -> last: ${r.growthMiB} MiB (first quarter -> last: ${r.growthFromFirstQuarterMiB})`);
  out.push(`idle CPU over ${r.idleSeconds} s: ${r.idleCpuPercent}% of a core`);
  out.push(
    `targets: idle RSS < ${TARGET_IDLE_MIB} MiB: ${r.targets.idleUnder72MiB ? 'met' : 'NOT met'}; after the records < ${TARGET_LOADED_MIB} MiB: ${r.targets.afterRecordsUnder80MiB ? 'met' : 'NOT met'}; ` +
      `no growth: ${r.targets.noGrowth ? 'met' : 'NOT met'}; idle CPU < 0.2%: ${r.targets.idleCpuUnder02 ? 'met' : 'NOT met'}`,
  );
  if (candidates.length > 0) {
    const base = candidates[0] as CandidateResult;
    out.push('', `candidates (${CANDIDATE_RUNS} interleaved runs each, median (min-max), MiB; --gpu-backend none; idle = 10 s after ready, loaded = 5 s after ${CANDIDATE_RECORDS.toLocaleString('en-US')} lines):`);
    out.push(`${'candidate'.padEnd(46)} ${'idle RSS'.padStart(18)} ${'idle anon'.padStart(18)} ${'loaded RSS'.padStart(18)} ${'loaded anon'.padStart(18)} ${'vs first'.padStart(9)}`);
    for (const c of candidates) {
      const d = (c.idleRssMiB.median - base.idleRssMiB.median).toFixed(1);
      out.push(`${c.name.padEnd(46)} ${showSpread(c.idleRssMiB).padStart(18)} ${showSpread(c.idleAnonMiB).padStart(18)} ${showSpread(c.loadedRssMiB).padStart(18)} ${showSpread(c.loadedAnonMiB).padStart(18)} ${(d.startsWith('-') ? d : `+${d}`).padStart(9)}`);
    }
  }
  process.stdout.write(out.join('\n') + '\n');
}

await main();
