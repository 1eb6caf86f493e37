// A thousand GPU nodes against one real kube-apiserver + etcd (the cluster
// harness), by simulation: each node is the agent's own middle and its own
// Kubernetes reporter (bench/fleet/sim-node.ts) in this one process, with its
// own Pod-bound ServiceAccount token under the chart's RBAC and admission
// policy. Scenario (real time; 12 minutes by default, so that the storm's
// heartbeats come back inside it): the agents start over a ramp, steady state
// (heartbeats), a rolling failure of 2% of the nodes (one fatal Xid each, one
// after another), then a fleet-wide Xid storm (every GPU of every node at once,
// as a bad driver rollout gives), then what follows it.
//
// Figures per phase: API requests/s by verb (the API server's own metrics) and
// the busiest second (client side), the API server's p50/p99 request latency,
// Event objects and etcd growth, writes failed, dropped or still pending, and
// the time from a node's fault to its condition on a watch. Baseline in the
// same run: the API server with the same Nodes and nobody writing. Beside it,
// what one node-problem-detector per node would send for the same scenario
// (its cadence: a 1 s condition tick that writes only changes, a 5 min
// heartbeat, one Event per condition change; bench/peer-npd.ts measures one).
//
//   node bench/fleet.ts [--nodes N] [--minutes M] [--storm-seconds S] [--heartbeat-seconds H] [--json]
import { loadDefaults } from '../agent/rules/load.ts';
import { readFile } from 'node:fs/promises';
import { Cluster } from '../test/cluster/harness/cluster.ts';
import { installAgentManifests } from '../test/cluster/harness/fixtures.ts';
import { etcdSize, phaseApi, scrapeApi, type ApiScrape, type PhaseApi } from './fleet/api-metrics.ts';
import { pool, registerNode, watchFleet } from './fleet/fleet-setup.ts';
import { logRequests, peak } from './fleet/request-log.ts';
import { countingLogger, GPUS_PER_NODE, SimNode, xidLine, type LogCounts } from './fleet/sim-node.ts';
import { sleep } from './lib/proc.ts';
import { pct } from './lib/stats.ts';
import { asJson, numberFlag } from './lib/args.ts';

const opt = numberFlag;
const NODES = opt('--nodes', 1000);
const MINUTES = opt('--minutes', 12);
const STORM_S = opt('--storm-seconds', 60);
const HEARTBEAT_S = opt('--heartbeat-seconds', 300);
const RAMP_S = opt('--ramp-seconds', Math.min(30, MINUTES * 6));
const BASELINE_S = opt('--baseline-seconds', 30);
const FAILING = Math.max(1, Math.round(NODES * 0.02));
const TYPE = 'AcceleratedHardwareReady';
const log = (msg: string): void => void process.stderr.write(`fleet: ${msg}\n`);

interface Mark {
  name: string;
  at: number;
  api: ApiScrape;
  events: number;
  etcd: { totalBytes: number; inUseBytes: number; keys: number };
}

async function eventObjects(cluster: Cluster): Promise<number> {
  const r = await cluster.admin().request<{ items: unknown[]; metadata: { remainingItemCount?: number } }>('GET', '/apis/events.k8s.io/v1/events?limit=1');
  return r.body.items.length + (r.body.metadata.remainingItemCount ?? 0);
}

async function main(): Promise<void> {
  const cluster = await Cluster.forTests();
  const admin = cluster.admin();
  const etcdUrl = (cluster.state.etcd.args.find((a) => a.startsWith('--listen-client-urls=')) ?? '').split('=')[1] as string;
  const nodes: SimNode[] = [];
  const counts: LogCounts = { warn: 0, error: 0 };
  let watch: Awaited<ReturnType<typeof watchFleet>> | null = null;
  try {
    await installAgentManifests(cluster);
    const ca = await readFile(cluster.state.caCert);
    const names = Array.from({ length: NODES }, (_, i) => `gpu-node-${String(i).padStart(4, '0')}`);
    log(`registering ${NODES} nodes, their agent Pods and tokens`);
    const setupStart = Date.now();
    const conns = await pool(names, 24, (n) => registerNode(cluster, ca, n));
    const setupS = (Date.now() - setupStart) / 1000;
    const list = await admin.request<{ metadata: { resourceVersion: string } }>('GET', '/api/v1/nodes?limit=1');
    watch = await watchFleet(cluster, TYPE, list.body.metadata.resourceVersion);
    const w = watch;

    const marks: Mark[] = [];
    const mark = async (name: string): Promise<void> => {
      marks.push({ name, at: Date.now(), api: await scrapeApi(admin), events: await eventObjects(cluster), etcd: await etcdSize(etcdUrl) });
    };

    log(`baseline: ${BASELINE_S} s with nobody writing`);
    await mark('start');
    await sleep(BASELINE_S * 1000);
    await mark('baseline');

    const reqLog = logRequests((c) => c === admin);
    const rules = loadDefaults();
    const t0 = Date.now();
    const at = (fraction: number): number => t0 + fraction * MINUTES * 60_000;
    const waitUntil = async (t: number): Promise<void> => {
      const d = t - Date.now();
      if (d > 0) await sleep(d);
    };

    // Ramp: the DaemonSet's agents come up over RAMP_S seconds.
    log(`starting ${NODES} agents over ${RAMP_S} s (heartbeat ${HEARTBEAT_S} s)`);
    const started = names.map((name, i) =>
      sleep((i / NODES) * RAMP_S * 1000).then(async () => {
        const n = new SimNode({ name, connection: conns[i]!, rules, logger: countingLogger(counts), heartbeatMs: HEARTBEAT_S * 1000 });
        nodes.push(n);
        await n.start(Date.now());
      }),
    );
    await Promise.all(started);
    await waitUntil(at(0.25));
    await mark('steady');

    // Rolling failure: 2% of the nodes, one at a time, over 15% of the run.
    log(`rolling failure of ${FAILING} nodes`);
    const faultAt = new Map<string, number>();
    const rollMs = 0.15 * MINUTES * 60_000;
    for (let k = 0; k < FAILING; k++) {
      await waitUntil(at(0.25) + (k / FAILING) * rollMs);
      const n = nodes[Math.floor((k * NODES) / FAILING)] as SimNode;
      const now = Date.now();
      faultAt.set(n.name, now);
      n.feed([xidLine(k % GPUS_PER_NODE, 79, 1000 + k)], now);
    }
    await waitUntil(at(0.4));
    await mark('rolling failure');

    // Fleet-wide storm: every GPU of every node, a fatal Xid (GSP RPC timeout) each second, plus app Xids.
    log(`fleet-wide Xid storm for ${STORM_S} s`);
    const stormStart = Date.now();
    for (let s = 0; s < STORM_S; s++) {
      const now = Date.now();
      for (const n of nodes) {
        const lines: string[] = [];
        for (let g = 0; g < GPUS_PER_NODE; g++) lines.push(xidLine(g, 119, 2000 + s), xidLine(g, s % 2 === 0 ? 13 : 31, 3000 + s));
        n.feed(lines, now);
      }
      await waitUntil(stormStart + (s + 1) * 1000);
    }
    await mark('storm');

    await waitUntil(at(1));
    await sleep(Math.max(0, stormStart + STORM_S * 1000 + 5000 - Date.now()));
    await mark('after');
    const endSec = Math.floor((Date.now() - reqLog.t0) / 1000);

    // ---- figures ----
    const sec = (t: number): number => Math.floor((t - reqLog.t0) / 1000);
    const phases = marks.slice(1).map((m, i) => {
      const a = marks[i] as Mark;
      const api: PhaseApi = phaseApi(a.api, m.api);
      const fromS = Math.max(0, sec(a.at));
      const toS = Math.max(fromS + 1, sec(m.at));
      return {
        phase: m.name,
        api,
        busiestSecond: m.name === 'baseline' ? null : {
          status: peak(reqLog, 'status', fromS, toS),
          eventCreate: peak(reqLog, 'event-create', fromS, toS),
          eventPatch: peak(reqLog, 'event-patch', fromS, toS),
        },
        eventObjectsAdded: m.events - a.events,
        etcdGrowthMiB: +((m.etcd.totalBytes - a.etcd.totalBytes) / 2 ** 20).toFixed(2),
        etcdInUseGrowthMiB: +((m.etcd.inUseBytes - a.etcd.inUseBytes) / 2 ** 20).toFixed(2),
      };
    });

    // Fault -> False: as a watch of all nodes saw it (what Karpenter sees), and as the API server acknowledged the write.
    const rolling: number[] = [];
    const rollingAck: number[] = [];
    for (const [name, t] of faultAt) {
      const c = w.changes.get(name)?.find((x) => x.status === 'False' && x.at >= t);
      if (c !== undefined) rolling.push(c.at - t);
      const ack = reqLog.falseAckAt.get(name);
      if (ack !== undefined) rollingAck.push(ack - t);
    }
    const storm: number[] = [];
    const stormAck: number[] = [];
    let stormMissed = 0;
    for (const n of nodes) {
      if (faultAt.has(n.name)) continue;
      const c = w.changes.get(n.name)?.find((x) => x.status === 'False' && x.at >= stormStart);
      if (c === undefined) stormMissed++;
      else storm.push(c.at - stormStart);
      const ack = reqLog.falseAckAt.get(n.name);
      if (ack !== undefined) stormAck.push(ack - stormStart);
    }
    const dist = (xs: number[]): { n: number; p50: number; p99: number; max: number } | null => (xs.length === 0 ? null : { n: xs.length, p50: pct(xs, 50), p99: pct(xs, 99), max: Math.max(...xs) });
    const sts = nodes.map((n) => n.reporter.status());
    const sum = (f: (s: (typeof sts)[number]) => number): number => sts.reduce((a, s) => a + f(s), 0);
    const writes = {
      statusWrites: sum((s) => s.writes),
      statusFailures: sum((s) => s.failures),
      statusPendingAtEnd: sts.filter((s) => s.pending).length,
      eventsCreated: sum((s) => s.events.created),
      eventSeriesUpdates: sum((s) => s.events.seriesUpdates),
      eventsDropped: sum((s) => s.events.dropped),
      eventFailures: sum((s) => s.events.failures),
      eventsPendingAtEnd: sum((s) => s.events.pending),
      clientFailures: reqLog.failures,
      reporterWarnings: counts.warn,
      statusWriteClientMs: { p50: pct(reqLog.statusMs, 50), p99: pct(reqLog.statusMs, 99), max: Math.max(...reqLog.statusMs) },
    };
    const whole = peak(reqLog, 'status', 0, endSec);
    // The storm's writes come back as heartbeats about one heartbeat later: the busiest second from then on.
    const echoFrom = sec(stormStart) + Math.floor(HEARTBEAT_S * 0.85);
    const echo = echoFrom < endSec ? peak(reqLog, 'status', echoFrom, endSec) : null;
    const per10s: number[] = [];
    for (let s0 = 0; s0 < endSec; s0 += 10) {
      let n = 0;
      for (let s1 = s0; s1 < s0 + 10; s1++) n += reqLog.perSecond.get(s1)?.get('status') ?? 0;
      per10s.push(n);
    }
    // One NPD per node, same scenario: heartbeat writes N/H per second, one write and one Event per condition change (each failing node once, each storm node once).
    const minutesRun = (Date.now() - t0) / 60_000;
    const npd = {
      statusWritesPerSecondIdle: +(NODES / 300).toFixed(2),
      statusWritesTotal: Math.round(NODES * (1 + (minutesRun * 60) / 300)) + NODES,
      eventObjectsTotal: NODES,
      faultToConditionMs: 'p50 ~450, up to ~1,000 (its 1 s tick; bench/peer-npd.ts)',
    };

    const result = {
      node: process.version,
      nodes: NODES,
      minutes: MINUTES,
      heartbeatSeconds: HEARTBEAT_S,
      stormSeconds: STORM_S,
      failingNodes: FAILING,
      setupSeconds: +setupS.toFixed(1),
      phases,
      faultToConditionMs: {
        rolling: dist(rolling),
        storm: storm.length === 0 ? null : { ...dist(storm), missed: stormMissed },
        rollingWriteAck: dist(rollingAck),
        stormWriteAck: dist(stormAck),
      },
      watchEndedAtSecond: w.endedAt === null ? null : Math.round((w.endedAt - t0) / 1000),
      writes,
      statusWritesBusiestSecond: whole,
      heartbeatEcho: echo === null ? null : { fromSecond: echoFrom, ...echo },
      stormStartSecond: sec(stormStart),
      statusWritesPer10s: per10s,
      watchEvents: w.events,
      npdPerNodeModel: npd,
      loadavg: process.getBuiltinModule('node:os').loadavg().map((x) => +x.toFixed(2)),
    };
    process.stdout.write(asJson ? JSON.stringify(result) + '\n' : table(result) + '\n');
  } finally {
    watch?.close();
    await Promise.all(nodes.map((n) => n.stop()));
    await cluster.release();
  }
}

type Result = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function table(r: Result): string {
  const out: string[] = [];
  out.push(`fleet: ${r.nodes} simulated nodes (agent's own condition writer + Event recorder, Pod-bound tokens), one real kube-apiserver + etcd; ${r.minutes} min, heartbeat ${r.heartbeatSeconds} s, storm ${r.stormSeconds} s; ${r.node}, load ${r.loadavg.join(' ')}`);
  out.push(`setup (nodes, pods, tokens): ${r.setupSeconds} s`);
  out.push(`${'phase'.padEnd(16)} ${'secs'.padStart(5)} ${'req/s'.padStart(7)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'status p99'.padStart(10)} ${'busiest s: status/ev+/ev~'.padStart(26)} ${'Events+'.padStart(8)} ${'etcd+ MiB'.padStart(9)}  by verb (req/s)`);
  for (const p of r.phases) {
    const total = Object.values(p.api.perSecond as Record<string, number>).reduce((a, b) => a + b, 0);
    const verbs = Object.entries(p.api.perSecond as Record<string, number>).filter(([k]) => /nodes|events/.test(k)).map(([k, v]) => `${k} ${v}`).join(', ');
    const b = p.busiestSecond === null ? '-' : `${p.busiestSecond.status.max}/${p.busiestSecond.eventCreate.max}/${p.busiestSecond.eventPatch.max}`;
    out.push(`${p.phase.padEnd(16)} ${String(p.api.seconds).padStart(5)} ${total.toFixed(1).padStart(7)} ${String(p.api.p50Ms ?? '-').padStart(7)} ${String(p.api.p99Ms ?? '-').padStart(7)} ${String(p.api.statusPatchP99Ms ?? '-').padStart(10)} ${b.padStart(26)} ${String(p.eventObjectsAdded).padStart(8)} ${p.etcdGrowthMiB.toFixed(2).padStart(9)}  ${verbs}`);
  }
  const f = r.faultToConditionMs;
  const d = (x: { n: number; p50: number; p99: number; max: number } | null): string => (x === null ? '-' : `p50 ${x.p50} p99 ${x.p99} max ${x.max} (n=${x.n})`);
  out.push(`fault -> False on a watch of all nodes, ms: rolling ${d(f.rolling)}; storm ${d(f.storm)}${f.storm === null ? '' : `, not seen ${f.storm.missed}`}${r.watchEndedAtSecond === null ? '' : ` (the server ended the watch at ${r.watchEndedAtSecond} s)`}`);
  out.push(`fault -> False write acknowledged, ms: rolling ${d(f.rollingWriteAck)}; storm ${d(f.stormWriteAck)}`);
  const w = r.writes;
  out.push(`status writes ${w.statusWrites} (failed ${w.statusFailures}, pending at end ${w.statusPendingAtEnd}; client p50 ${w.statusWriteClientMs.p50} / p99 ${w.statusWriteClientMs.p99} / max ${w.statusWriteClientMs.max} ms); busiest second overall ${r.statusWritesBusiestSecond.max} status writes (mean ${r.statusWritesBusiestSecond.mean}/s)`);
  if (r.heartbeatEcho !== null) out.push(`the storm's writes back as heartbeats (from ${r.heartbeatEcho.fromSecond} s): busiest second ${r.heartbeatEcho.max} status writes at ${r.heartbeatEcho.atSec} s, mean ${r.heartbeatEcho.mean}/s`);
  out.push(`Events: ${w.eventsCreated} created, ${w.eventSeriesUpdates} series updates, ${w.eventsDropped} dropped, ${w.eventFailures} failed, ${w.eventsPendingAtEnd} pending at end`);
  const n = r.npdPerNodeModel;
  out.push(`one NPD per node instead (model): ${n.statusWritesPerSecondIdle} status writes/s idle, ~${n.statusWritesTotal} status writes and ${n.eventObjectsTotal} Event objects for this scenario; fault -> condition ${n.faultToConditionMs}`);
  return out.join('\n');
}

await main();
