// Side by side with node-problem-detector (NPD) v1.34.0, the tool most clusters
// already run, with the Xid rule users write on its kmsg monitor. Both run
// against one real kube-apiserver (the cluster harness), each on its own Node,
// and read the same records on the real /dev/kmsg: drill records (user
// facility, the drill tag). NPD's kmsg watcher does not look at the facility
// (go-kmsg-parser hands it the whole priority; NPD only matches the text), so a
// drill is an Xid to it; the bench checks that in every trial.
//
// Figures, each over repeated runs (median and spread): kernel record ->
// condition change seen on a watch; status writes per minute idle and in a
// storm of 1,000 records/s; CPU seconds and records lost in a storm of 100,000
// records; RSS (and private) idle and after a million records; what each does
// with records a process forges through the kernel, across a ring overrun and
// across a restart.
//
//   node bench/peer-npd.ts [--runs N] [--trials N] [--idle-seconds S] [--storm-seconds S]
//                          [--big-storm N] [--million N] [--million-rate R] [--json]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from '../test/cluster/harness/cluster.ts';
import { agentIdentity, condition, createNode, installAgentManifests, uniqueName, type NodeObject } from '../test/cluster/harness/fixtures.ts';
import { watchNode, type NodeWatch } from '../test/cluster/harness/watch.ts';
import { seedCursorAtEnd } from '../agent/runtime/seed.ts';
import { clearFindings, startAgent, until, type BenchAgent } from './lib/agent.ts';
import { drillLine, uniquePci, writeRecords, writeRecord, KMSG } from './lib/kmsg.ts';
import { cpuSecondsOf, memoryOf, mib, sleep } from './lib/proc.ts';
import { spread, stats, type Spread } from './lib/stats.ts';
import { NPD_CONDITION, NPD_PATTERN, NPD_VERSION, npdBinary, npdWatcherStopped, startNpd, writeNpdConfig, type NpdProcess } from './peer/npd.ts';
import { forgeVectors, runForger } from './peer/forge.ts';
import { asJson, numberFlag } from './lib/args.ts';

const opt = numberFlag;
const RUNS = opt('--runs', 3);
const TRIALS = opt('--trials', 10);
const IDLE_S = opt('--idle-seconds', 60);
const STORM_S = opt('--storm-seconds', 10);
const BIG_STORM = opt('--big-storm', 100_000);
const MILLION = opt('--million', 1_000_000);
const MILLION_RATE = opt('--million-rate', 10_000);
const OURS = 'AcceleratedHardwareReady';
const log = (msg: string): void => void process.stderr.write(`peer-npd: ${msg}\n`);

interface Side {
  node: string;
  watch: NodeWatch;
  /** The condition this side sets on a fault: ours False, NPD's problem condition True. */
  /** The condition this side sets for that record: ours False naming its GPU, NPD's problem condition True quoting it. */
  faultedBy: (f: Fatal) => (n: NodeObject) => boolean;
  healthy: (n: NodeObject) => boolean;
}

/**
 * One fatal drill the bench writes. Other engineers' tests write drills to the
 * same ring, so a side counts as having seen this one only when its condition
 * names it (our message names the GPU; NPD's quotes the record).
 */
interface Fatal {
  pci: string;
  tag: string;
  line: string;
}

function fatal(code: number, label: string): Fatal {
  const pci = uniquePci();
  const tag = `${label}-${randomBytes(4).toString('hex')}`;
  return { pci, tag, line: drillLine(code, pci, tag) };
}

/** The first watch event from index `from` whose Node matches; its arrival time. */
async function seen(side: Side, from: number, match: (n: NodeObject) => boolean, timeoutMs: number): Promise<{ at: number; index: number } | null> {
  try {
    return await until('watch event', () => {
      for (let i = from; i < side.watch.seen.length; i++) {
        const s = side.watch.seen[i];
        if (s !== undefined && match(s.node)) return { at: s.at, index: i };
      }
      return undefined;
    }, timeoutMs, 2);
  } catch {
    return null;
  }
}

const cond = (type: string, status: string) => (n: NodeObject): boolean => condition(n, type)?.status === status;
const STORM_CODES = [13, 31, 43, 94, 63]; // warnings to us, no match for NPD's rule
const gpus = Array.from({ length: 8 }, () => uniquePci());
const stormLine = (tag: string) => (i: number): string => drillLine(STORM_CODES[i % STORM_CODES.length] as number, gpus[i % gpus.length] as string, `${tag}-${i}`);

async function main(): Promise<void> {
  const bin = npdBinary();
  const cluster = await Cluster.forTests();
  const dir = mkdtempSync(join(tmpdir(), 'gha-bench-peer-'));
  let agent: BenchAgent | null = null;
  let npd: NpdProcess | null = null;
  const watches: NodeWatch[] = [];
  try {
    await installAgentManifests(cluster);
    const admin = cluster.admin();
    const oursNode = uniqueName('peer-ours');
    const npdNode = uniqueName('peer-npd');
    const createdO = await createNode(admin, oursNode);
    const createdN = await createNode(admin, npdNode);
    const id = await agentIdentity(cluster, oursNode);
    const ours: Side = {
      node: oursNode,
      watch: await watchNode(cluster.state.kubeconfig, oursNode, createdO.metadata.resourceVersion),
      faultedBy: (f) => (n) => condition(n, OURS)?.status === 'False' && (condition(n, OURS)?.message ?? '').includes(f.pci),
      healthy: cond(OURS, 'True'),
    };
    const peer: Side = {
      node: npdNode,
      watch: await watchNode(cluster.state.kubeconfig, npdNode, createdN.metadata.resourceVersion),
      faultedBy: (f) => (n) => condition(n, NPD_CONDITION)?.status === 'True' && (condition(n, NPD_CONDITION)?.message ?? '').includes(f.tag),
      healthy: cond(NPD_CONDITION, 'False'),
    };
    watches.push(ours.watch, peer.watch);

    // Ours: from the end of the ring (as if it had read it all before), defaults but drills accepted.
    const stateDir = join(dir, 'state');
    const bootIdFile = join(dir, 'boot_id');
    const bootId = `bench-${randomBytes(6).toString('hex')}`;
    writeFileSync(bootIdFile, `${bootId}\n`);
    await seedCursorAtEnd(stateDir, bootId, KMSG);
    let agentRuns = 0;
    const startOurs = async (): Promise<BenchAgent> =>
      startAgent(
        ['--node-name', oursNode, '--kubeconfig', id.kubeconfig, '--state-dir', stateDir, '--boot-id-file', bootIdFile, '--accept-drills', '--gpu-backend', 'none', '--pod-resources-socket', 'none'],
        { logFile: join(dir, `agent-${agentRuns++}.log`) },
      );
    agent = await startOurs();
    if ((await seen(ours, 0, ours.healthy, 20_000)) === null) throw new Error('our agent never wrote True');

    const npdConfig = writeNpdConfig(dir);
    let npdRuns = 0;
    /** A fresh NPD (its condition starts at the default, False); resolves once that write is seen and its start-time window passed. */
    const freshNpd = async (): Promise<NpdProcess> => {
      await npd?.stop();
      const from = peer.watch.seen.length;
      npd = await startNpd(bin, { config: npdConfig, nodeName: npdNode, server: cluster.state.server, kubeconfig: cluster.state.kubeconfig, logFile: join(dir, `npd-${npdRuns++}.log`) });
      if ((await seen(peer, from, peer.healthy, 20_000)) === null) throw new Error(`NPD never wrote its default condition:\n${npd.log().slice(-1500)}`);
      // lookback 0 drops records stamped before its start; the stamp is boot time (whole
      // seconds of uptime) + the record's usec, so keep a second and a half clear of it.
      await sleep(1500);
      return npd;
    };
    /** Ours back to True (findings cleared); again if a foreign drill lands in between. */
    const healOurs = async (): Promise<void> => {
      for (let attempt = 0; attempt < 5; attempt++) {
        const st = await agent!.json<{ condition: { status: string } }>('/debug/state');
        if (st.condition.status === 'True') return;
        const from = ours.watch.seen.length;
        await clearFindings(stateDir);
        await seen(ours, from, ours.healthy, 5000);
      }
      throw new Error('our agent did not return to True after clear');
    };
    /** Both healthy right now (a foreign Xid 79 drill may have set NPD's permanent condition). */
    const bothHealthy = async (): Promise<void> => {
      for (let attempt = 0; attempt < 5; attempt++) {
        await healOurs();
        const last = peer.watch.seen.at(-1);
        if (npd !== null && last !== undefined && peer.healthy(last.node)) return;
        await freshNpd();
      }
      throw new Error('NPD kept seeing foreign Xid records');
    };

    // 1. Record -> condition change on the watch: one fatal drill, both watching.
    log(`record -> condition, ${TRIALS} trials`);
    const lat = { ours: [] as number[], npd: [] as number[], npdMissed: 0, oursMissed: 0 };
    for (let i = 0; i < TRIALS; i++) {
      await freshNpd();
      await bothHealthy();
      const fromO = ours.watch.seen.length;
      const fromN = peer.watch.seen.length;
      const f = fatal(79, `peer-trial-${i}`);
      const t0 = Date.now();
      writeRecord(f.line);
      const [o, n] = await Promise.all([seen(ours, fromO, ours.faultedBy(f), 10_000), seen(peer, fromN, peer.faultedBy(f), 10_000)]);
      if (o === null) lat.oursMissed++;
      else lat.ours.push(o.at - t0);
      if (n === null) lat.npdMissed++;
      else lat.npd.push(n.at - t0);
    }

    // 2. Restart: a fault logged while each was down, and the transition time across a restart.
    log('restart');
    const restart = await restartCase({ ours, peer, admin, startOurs, freshNpd, bothHealthy, stopOurs: async () => { await agent?.stop(); agent = null; }, setOurs: (a) => (agent = a), stopNpd: async () => { await npd?.stop(); npd = null; } });

    // 3. Idle: status writes and memory with nothing happening.
    log(`idle ${IDLE_S} s`);
    await freshNpd();
    await bothHealthy();
    await sleep(2000);
    const idleFrom = { o: ours.watch.seen.length, n: peer.watch.seen.length };
    await sleep(IDLE_S * 1000);
    const idle = {
      oursWritesPerMin: ((ours.watch.seen.length - idleFrom.o) / IDLE_S) * 60,
      npdWritesPerMin: ((peer.watch.seen.length - idleFrom.n) / IDLE_S) * 60,
      ours: memoryOf(agent!.pid),
      npd: memoryOf(npd!.pid),
    };

    // 4. Storm of 1,000 records/s; 5. storm of BIG_STORM records flat out; each RUNS times.
    const storm: Array<Record<string, number>> = [];
    const big: Array<Record<string, number | boolean | string>> = [];
    for (let r = 0; r < RUNS; r++) {
      log(`storm 1,000/s run ${r + 1}/${RUNS}`);
      await freshNpd();
      storm.push(await stormRun({ cluster, ours, peer, agent: agent!, npd: npd!, bothHealthy, seconds: STORM_S, tag: `storm${r}` }));
      log(`storm of ${BIG_STORM} records run ${r + 1}/${RUNS}`);
      await freshNpd();
      big.push(await bigStormRun({ ours, peer, agent: agent!, npd: npd!, bothHealthy, count: BIG_STORM, tag: `big${r}` }));
    }

    // 6. Ring overrun: both stopped while the ring wraps, then a fatal record.
    log('ring overrun');
    await freshNpd();
    const overrun = await overrunRun({ ours, peer, agent: agent!, npd: npd!, bothHealthy });

    // 7. Forged records through the real kernel, as nobody: a fresh NPD per vector (its condition never clears).
    log('forged records');
    const forged: Array<{ vector: string; kernelRecords: number; npdFlagged: boolean; oursFlagged: boolean; oursRejected: number }> = [];
    // A side flagged it when its condition turned for a record that is no drill (ours: a message
    // without [drill]; NPD: one quoting the segfault report).
    const oursForged = (n: NodeObject): boolean => condition(n, OURS)?.status === 'False' && !(condition(n, OURS)?.message ?? '').includes('[drill]');
    const npdForged = (n: NodeObject): boolean => condition(n, NPD_CONDITION)?.status === 'True' && (condition(n, NPD_CONDITION)?.message ?? '').includes('segfault');
    for (const v of forgeVectors()) {
      await freshNpd();
      await bothHealthy();
      const rejectedBefore = await rejectedCount(agent!);
      const fromO = ours.watch.seen.length;
      const fromN = peer.watch.seen.length;
      const records = await runForger(v);
      const [o, n] = await Promise.all([seen(ours, fromO, oursForged, 3000), seen(peer, fromN, npdForged, 3000)]);
      forged.push({ vector: v.name, kernelRecords: records, npdFlagged: n !== null, oursFlagged: o !== null, oursRejected: (await rejectedCount(agent!)) - rejectedBefore });
    }

    // 8. A million records (0.1% drills on 8 GPUs x 5 codes), paced; memory 10 s after.
    log(`${MILLION} records at ${MILLION_RATE}/s`);
    await freshNpd();
    const million = await millionRun({ ours, peer, agent: agent!, npd: npd!, bothHealthy, count: MILLION, rate: MILLION_RATE });

    const result = {
      machine: machine(),
      npdVersion: NPD_VERSION,
      npdRule: { type: 'permanent', condition: NPD_CONDITION, pattern: NPD_PATTERN, lookback: '0' },
      runs: RUNS,
      recordToConditionMs: { ours: stats(lat.ours), npd: stats(lat.npd), oursMissed: lat.oursMissed, npdMissed: lat.npdMissed },
      restart,
      idle: {
        seconds: IDLE_S,
        statusWritesPerMinute: { ours: +idle.oursWritesPerMin.toFixed(2), npd: +idle.npdWritesPerMin.toFixed(2) },
        rssMiB: { ours: +mib(idle.ours.rss), npd: +mib(idle.npd.rss) },
        privateMiB: { ours: +mib(idle.ours.anon), npd: +mib(idle.npd.anon) },
      },
      storm1000: {
        seconds: STORM_S,
        statusWritesPerMinute: { ours: spread(storm.map((s) => s.oursWritesPerMin as number)), npd: spread(storm.map((s) => s.npdWritesPerMin as number)) },
        eventObjects: { ours: spread(storm.map((s) => s.oursEvents as number), 0), npd: spread(storm.map((s) => s.npdEvents as number), 0) },
        cpuSeconds: { ours: spread(storm.map((s) => s.oursCpu as number)), npd: spread(storm.map((s) => s.npdCpu as number)) },
        runs: storm,
      },
      bigStorm: {
        records: BIG_STORM,
        writtenPerSecond: spread(big.map((b) => b.writtenPerSecond as number), 0),
        cpuSeconds: { ours: spread(big.map((b) => b.oursCpu as number)), npd: spread(big.map((b) => b.npdCpu as number)) },
        oursRecordsLost: spread(big.map((b) => b.oursLost as number), 0),
        npdWatcherStopped: `${big.filter((b) => b.npdStopped === true).length} of ${big.length}`,
        fatalAfterStormMs: { ours: spread(big.map((b) => b.oursFatalMs as number), 0), npd: spread(big.map((b) => b.npdFatalMs as number), 0) },
        runs: big,
      },
      overrun,
      forged,
      million,
    };
    const latencyRatio = result.recordToConditionMs.ours.p50 / result.recordToConditionMs.npd.p50;
    const cpuRatio = result.bigStorm.cpuSeconds.ours.median / result.bigStorm.cpuSeconds.npd.median;
    const out = { ...result, targets: { latencyRatio: +latencyRatio.toFixed(3), latencyTenthOfNpd: latencyRatio <= 0.1, cpuRatio: +cpuRatio.toFixed(2), cpuAtMostNpd: cpuRatio <= 1 } };
    process.stdout.write(asJson ? JSON.stringify(out) + '\n' : table(out) + '\n');
  } finally {
    for (const w of watches) w.close();
    await (agent as BenchAgent | null)?.stop();
    await (npd as NpdProcess | null)?.stop();
    if (process.env.BENCH_KEEP === undefined) rmSync(dir, { recursive: true, force: true });
    else log(`kept ${dir}`);
    await cluster.release();
  }
}

// ---- phases ----

interface PhaseCtx {
  ours: Side;
  peer: Side;
  agent: BenchAgent;
  npd: NpdProcess;
  bothHealthy: () => Promise<void>;
}

interface DebugSources {
  sources: Array<{ source: string; recordsRead: number | null; recordsLost: number | null; rejected: Record<string, number> | null }>;
}

async function kmsgSource(agent: BenchAgent): Promise<DebugSources['sources'][number] | undefined> {
  return (await agent.json<DebugSources>('/debug/state')).sources.find((s) => s.source === 'kmsg');
}

async function rejectedCount(agent: BenchAgent): Promise<number> {
  return Object.values((await kmsgSource(agent))?.rejected ?? {}).reduce((a, b) => a + b, 0);
}

interface EventLike {
  regarding?: { name?: string };
  involvedObject?: { name?: string };
}

/** Event objects regarding `node`: ours (events.k8s.io) and NPD's (core v1), all namespaces. */
async function eventCount(cluster: Cluster, node: string): Promise<number> {
  const a = await cluster.admin().request<{ items: EventLike[] }>('GET', '/apis/events.k8s.io/v1/events');
  return a.body.items.filter((e) => e.regarding?.name === node).length;
}

async function stormRun(c: PhaseCtx & { cluster: Cluster; seconds: number; tag: string }): Promise<Record<string, number>> {
  await c.bothHealthy();
  await sleep(1000);
  const ev0 = { o: await eventCount(c.cluster, c.ours.node), n: await eventCount(c.cluster, c.peer.node) };
  const from = { o: c.ours.watch.seen.length, n: c.peer.watch.seen.length };
  const cpu0 = { o: cpuSecondsOf(c.agent.pid), n: cpuSecondsOf(c.npd.pid) };
  const t0 = Date.now();
  // Every fifth record an Xid both flag (79), so each side has a fault to keep writing about.
  const line = stormLine(c.tag);
  await writeRecords(1000 * c.seconds, 1000, (i) => (i % 5 === 0 ? drillLine(79, gpus[i % gpus.length] as string, `${c.tag}-${i}`) : line(i)));
  await sleep(1500); // the last coalesced write, NPD's next tick
  const window = (Date.now() - t0) / 1000;
  return {
    oursWritesPerMin: +(((c.ours.watch.seen.length - from.o) / window) * 60).toFixed(1),
    npdWritesPerMin: +(((c.peer.watch.seen.length - from.n) / window) * 60).toFixed(1),
    oursEvents: (await eventCount(c.cluster, c.ours.node)) - ev0.o,
    npdEvents: (await eventCount(c.cluster, c.peer.node)) - ev0.n,
    oursCpu: +(cpuSecondsOf(c.agent.pid) - cpu0.o).toFixed(2),
    npdCpu: +(cpuSecondsOf(c.npd.pid) - cpu0.n).toFixed(2),
  };
}

/** CPU of `pid` once it stops rising (it has read what was written), at most `maxMs` later. */
async function settledCpu(pid: number, maxMs: number): Promise<number> {
  const deadline = Date.now() + maxMs;
  let last = cpuSecondsOf(pid);
  for (;;) {
    await sleep(500);
    const now = cpuSecondsOf(pid);
    if (now - last < 0.02 || Date.now() > deadline) return now;
    last = now;
  }
}

async function bigStormRun(c: PhaseCtx & { count: number; tag: string }): Promise<Record<string, number | boolean | string>> {
  await c.bothHealthy();
  const lost0 = (await kmsgSource(c.agent))?.recordsLost ?? 0;
  const cpu0 = { o: cpuSecondsOf(c.agent.pid), n: cpuSecondsOf(c.npd.pid) };
  const took = await writeRecords(c.count, Infinity, stormLine(c.tag));
  // Then one fatal record: does each still see it, and how soon.
  const from = { o: c.ours.watch.seen.length, n: c.peer.watch.seen.length };
  const t0 = Date.now();
  const f = fatal(79, `${c.tag}-fatal`);
  writeRecord(f.line);
  const [o, n] = await Promise.all([seen(c.ours, from.o, c.ours.faultedBy(f), 15_000), seen(c.peer, from.n, c.peer.faultedBy(f), 15_000)]);
  const [oc, nc] = await Promise.all([settledCpu(c.agent.pid, 20_000), settledCpu(c.npd.pid, 20_000)]);
  return {
    writtenPerSecond: Math.round(c.count / took),
    oursCpu: +(oc - cpu0.o).toFixed(2),
    npdCpu: +(nc - cpu0.n).toFixed(2),
    oursLost: ((await kmsgSource(c.agent))?.recordsLost ?? 0) - lost0,
    npdStopped: npdWatcherStopped(c.npd.log()),
    oursFatalMs: o === null ? NaN : o.at - t0,
    npdFatalMs: n === null ? NaN : n.at - t0,
  };
}

async function overrunRun(c: PhaseCtx): Promise<Record<string, unknown>> {
  await c.bothHealthy();
  const lost0 = (await kmsgSource(c.agent))?.recordsLost ?? 0;
  // Both stopped (SIGSTOP) while 10,000 records pass through a ring that holds ~1,500 of them.
  process.kill(c.agent.pid, 'SIGSTOP');
  process.kill(c.npd.pid, 'SIGSTOP');
  try {
    await writeRecords(10_000, Infinity, stormLine('overrun'));
  } finally {
    process.kill(c.agent.pid, 'SIGCONT');
    process.kill(c.npd.pid, 'SIGCONT');
  }
  await sleep(2000);
  const from = { o: c.ours.watch.seen.length, n: c.peer.watch.seen.length };
  const t0 = Date.now();
  const f = fatal(79, 'overrun-fatal');
  writeRecord(f.line);
  const [o, n] = await Promise.all([seen(c.ours, from.o, c.ours.faultedBy(f), 10_000), seen(c.peer, from.n, c.peer.faultedBy(f), 10_000)]);
  const health = await c.agent.get('/healthz');
  return {
    ours: { recordsLost: ((await kmsgSource(c.agent))?.recordsLost ?? 0) - lost0, fatalAfterMs: o === null ? null : o.at - t0, healthz: `${health.status} ${health.body.trim().slice(0, 60)}` },
    npd: { watcherStopped: npdWatcherStopped(c.npd.log()), fatalAfterMs: n === null ? null : n.at - t0, healthz: await c.npd.healthz().catch((e: Error) => e.message) },
  };
}

async function restartCase(c: {
  ours: Side; peer: Side; admin: ReturnType<Cluster['admin']>;
  startOurs: () => Promise<BenchAgent>; setOurs: (a: BenchAgent) => void; stopOurs: () => Promise<void>;
  freshNpd: () => Promise<NpdProcess>; stopNpd: () => Promise<void>; bothHealthy: () => Promise<void>;
}): Promise<Record<string, unknown>> {
  const condOf = async (node: string, type: string): Promise<{ status?: string; message?: string; lastTransitionTime?: string } | undefined> =>
    condition((await c.admin.request<NodeObject>('GET', `/api/v1/nodes/${node}`)).body, type);
  // (a) A fatal record logged while each was down.
  await c.freshNpd();
  await c.bothHealthy();
  await c.stopOurs();
  await c.stopNpd();
  const down = fatal(79, 'while-down');
  writeRecord(down.line);
  const fromO = c.ours.watch.seen.length;
  c.setOurs(await c.startOurs());
  const oursSawIt = (await seen(c.ours, fromO, c.ours.faultedBy(down), 15_000)) !== null;
  await c.freshNpd();
  await sleep(2000);
  const npdSawIt = (await condOf(c.peer.node, NPD_CONDITION))?.message?.includes(down.tag) === true;
  // (b) Both faulted, then restarted: is the fault kept, is lastTransitionTime kept?
  const fromN = c.peer.watch.seen.length;
  const live = fatal(48, 'before-restart');
  writeRecord(live.line);
  await seen(c.peer, fromN, c.peer.faultedBy(live), 10_000);
  await sleep(1500); // whole seconds in lastTransitionTime: a reset would show
  const before = { o: await condOf(c.ours.node, OURS), n: await condOf(c.peer.node, NPD_CONDITION) };
  await c.stopOurs();
  c.setOurs(await c.startOurs());
  await sleep(3000);
  await c.freshNpd();
  await sleep(1000);
  const after = { o: await condOf(c.ours.node, OURS), n: await condOf(c.peer.node, NPD_CONDITION) };
  return {
    faultLoggedWhileDownSeen: { ours: oursSawIt, npd: npdSawIt },
    faultKeptAcrossRestart: { ours: after.o?.status === 'False' && after.o.message?.includes(live.pci) === true, npd: after.n?.status === 'True' && after.n.message?.includes(live.tag) === true },
    lastTransitionTimeKept: { ours: after.o?.lastTransitionTime === before.o?.lastTransitionTime, npd: after.n?.lastTransitionTime === before.n?.lastTransitionTime },
  };
}

async function millionRun(c: PhaseCtx & { count: number; rate: number }): Promise<Record<string, unknown>> {
  await c.bothHealthy();
  const lost0 = (await kmsgSource(c.agent))?.recordsLost ?? 0;
  const cpu0 = { o: cpuSecondsOf(c.agent.pid), n: cpuSecondsOf(c.npd.pid) };
  const plain = ['EXT4-fs (nvme0n1p1): mounted filesystem with ordered data mode', 'cni0: port 3(veth1a2b3c4d) entered forwarding state', 'nvme nvme0: I/O 512 QID 3 timeout, completion polled'];
  const took = await writeRecords(c.count, c.rate, (i) => (i % 1000 === 500 ? stormLine("million")(Math.floor(i / 1000)) : `<14>bench: ${plain[i % plain.length]} #${i}`));
  await sleep(10_000);
  const from = { o: c.ours.watch.seen.length, n: c.peer.watch.seen.length };
  const f = fatal(79, 'million-fatal');
  writeRecord(f.line);
  const [o, n] = await Promise.all([seen(c.ours, from.o, c.ours.faultedBy(f), 10_000), seen(c.peer, from.n, c.peer.faultedBy(f), 10_000)]);
  const mo = memoryOf(c.agent.pid);
  const mn = memoryOf(c.npd.pid);
  return {
    records: c.count,
    writtenPerSecond: Math.round(c.count / took),
    rssMiB: { ours: +mib(mo.rss), npd: +mib(mn.rss) },
    privateMiB: { ours: +mib(mo.anon), npd: +mib(mn.anon) },
    peakMiB: { ours: +mib(mo.hwm), npd: +mib(mn.hwm) },
    cpuSeconds: { ours: +(cpuSecondsOf(c.agent.pid) - cpu0.o).toFixed(2), npd: +(cpuSecondsOf(c.npd.pid) - cpu0.n).toFixed(2) },
    oursRecordsLost: ((await kmsgSource(c.agent))?.recordsLost ?? 0) - lost0,
    npdWatcherStopped: npdWatcherStopped(c.npd.log()),
    stillSeesAFatalRecord: { ours: o !== null, npd: n !== null },
  };
}

// ---- output ----

function machine(): Record<string, unknown> {
  return { node: process.version, ...loadNow() };
}

export function loadNow(): { cores: number; loadavg: number[] } {
  // os is cheap here: the bench, not the agent.
  const os = process.getBuiltinModule('node:os');
  return { cores: os.availableParallelism(), loadavg: os.loadavg().map((x) => +x.toFixed(2)) };
}

type Result = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function table(r: Result): string {
  const ratio = (a: number, b: number): string => (b === 0 || !Number.isFinite(a) || !Number.isFinite(b) ? '-' : (a / b).toFixed(2));
  const sp = (s: Spread, d = 1): string => (Number.isNaN(s.median) ? '-' : s.min === s.max ? s.median.toFixed(d) : `${s.median.toFixed(d)} (${s.min.toFixed(d)}-${s.max.toFixed(d)})`);
  const rows: Array<[string, string, string, string]> = [];
  const lo = r.recordToConditionMs;
  rows.push([`record -> condition on the watch, ms, p50 (p99, max) n=${lo.ours.n}/${lo.npd.n}`, `${lo.ours.p50} (${lo.ours.p99}, ${lo.ours.max})`, `${lo.npd.p50} (${lo.npd.p99}, ${lo.npd.max})`, ratio(lo.ours.p50, lo.npd.p50)]);
  rows.push([`status writes/min idle (${r.idle.seconds} s)`, String(r.idle.statusWritesPerMinute.ours), String(r.idle.statusWritesPerMinute.npd), ratio(r.idle.statusWritesPerMinute.ours, r.idle.statusWritesPerMinute.npd)]);
  const s = r.storm1000;
  rows.push([`status writes/min, 1,000 records/s for ${s.seconds} s`, sp(s.statusWritesPerMinute.ours), sp(s.statusWritesPerMinute.npd), ratio(s.statusWritesPerMinute.ours.median, s.statusWritesPerMinute.npd.median)]);
  rows.push(['  Event objects created in it', sp(s.eventObjects.ours, 0), sp(s.eventObjects.npd, 0), ratio(s.eventObjects.ours.median, s.eventObjects.npd.median)]);
  rows.push(['  CPU s in it', sp(s.cpuSeconds.ours, 2), sp(s.cpuSeconds.npd, 2), ratio(s.cpuSeconds.ours.median, s.cpuSeconds.npd.median)]);
  const b = r.bigStorm;
  rows.push([`CPU s, storm of ${b.records.toLocaleString('en-US')} records (${sp(b.writtenPerSecond, 0)}/s written)`, sp(b.cpuSeconds.ours, 2), sp(b.cpuSeconds.npd, 2), ratio(b.cpuSeconds.ours.median, b.cpuSeconds.npd.median)]);
  rows.push(['  records lost (ours counted; NPD: watcher stopped)', sp(b.oursRecordsLost, 0), b.npdWatcherStopped, '']);
  rows.push(['  a fatal record after it -> condition, ms', sp(b.fatalAfterStormMs.ours, 0), sp(b.fatalAfterStormMs.npd, 0), '']);
  rows.push(['RSS idle, MiB (private)', `${r.idle.rssMiB.ours} (${r.idle.privateMiB.ours})`, `${r.idle.rssMiB.npd} (${r.idle.privateMiB.npd})`, ratio(r.idle.rssMiB.ours, r.idle.rssMiB.npd)]);
  const m = r.million;
  rows.push([`RSS after ${m.records.toLocaleString('en-US')} records at ${m.writtenPerSecond}/s, MiB (private)`, `${m.rssMiB.ours} (${m.privateMiB.ours})`, `${m.rssMiB.npd} (${m.privateMiB.npd})`, ratio(m.rssMiB.ours, m.rssMiB.npd)]);
  rows.push(['  CPU s for them', String(m.cpuSeconds.ours), String(m.cpuSeconds.npd), ratio(m.cpuSeconds.ours, m.cpuSeconds.npd)]);
  rows.push(['  then a fatal record seen / records lost', `${m.stillSeesAFatalRecord.ours ? 'yes' : 'NO'} / ${m.oursRecordsLost}`, `${m.stillSeesAFatalRecord.npd ? 'yes' : 'NO'} / ${m.npdWatcherStopped ? 'watcher stopped' : 'not counted'}`, '']);
  const o = r.overrun;
  rows.push(['ring overrun (10,000 records while stopped), then a fatal record', o.ours.fatalAfterMs === null ? 'missed' : `seen in ${o.ours.fatalAfterMs} ms, ${o.ours.recordsLost} lost counted`, o.npd.fatalAfterMs === null ? `missed${o.npd.watcherStopped ? ' (watcher stopped)' : ''}` : `seen in ${o.npd.fatalAfterMs} ms`, '']);
  rows.push(['  /healthz after it', o.ours.healthz, o.npd.healthz, '']);
  const rs = r.restart;
  const yn = (x: boolean): string => (x ? 'yes' : 'no');
  rows.push(['fatal record logged while down: seen at start', yn(rs.faultLoggedWhileDownSeen.ours), yn(rs.faultLoggedWhileDownSeen.npd), '']);
  rows.push(['fault kept across a restart / lastTransitionTime kept', `${yn(rs.faultKeptAcrossRestart.ours)} / ${yn(rs.lastTransitionTimeKept.ours)}`, `${yn(rs.faultKeptAcrossRestart.npd)} / ${yn(rs.lastTransitionTimeKept.npd)}`, '']);
  for (const f of r.forged) rows.push([`forged: ${f.vector} (${f.kernelRecords} kernel records)`, f.oursFlagged ? 'FLAGGED' : `ignored (${f.oursRejected} rejected)`, f.npdFlagged ? 'FLAGGED (false alarm)' : 'ignored', '']);
  const w = [Math.max(...rows.map((x) => x[0].length)), Math.max(4, ...rows.map((x) => x[1].length)), Math.max(3, ...rows.map((x) => x[2].length))];
  const line = (x: [string, string, string, string]): string => `${x[0].padEnd(w[0] as number)}  ${x[1].padStart(w[1] as number)}  ${x[2].padStart(w[2] as number)}  ${x[3].padStart(8)}`;
  // The design's targets against the peer: a tenth of its record -> condition time, CPU per record at most its own.
  const latRatio = lo.ours.p50 / lo.npd.p50;
  const cpuRatio = b.cpuSeconds.ours.median / b.cpuSeconds.npd.median;
  const targets = `targets: record -> condition <= 1/10 of NPD's (${Number.isFinite(latRatio) ? latRatio.toFixed(3) : '-'}): ${latRatio <= 0.1 ? 'met' : 'NOT met'}; ` +
    `CPU per record <= NPD's (${Number.isFinite(cpuRatio) ? cpuRatio.toFixed(2) : '-'}): ${cpuRatio <= 1 ? 'met' : 'NOT met'}`;
  return [
    `peer-npd: ours vs node-problem-detector ${r.npdVersion} (kmsg monitor, permanent ${r.npdRule.condition}, pattern ${r.npdRule.pattern}, lookback 0); ${r.machine.node}, ${r.machine.cores} cores, load ${r.machine.loadavg.join(' ')}; ${r.runs} runs, median (min-max)`,
    line(['', 'ours', 'NPD', 'ours/NPD']),
    ...rows.map(line),
    targets,
  ].join('\n');
}

await main();
