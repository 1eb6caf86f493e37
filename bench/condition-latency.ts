// Kernel record -> Node condition False on a REAL kube-apiserver (the cluster
// harness's), as Karpenter would see it: a watch on the Node, the time from
// writing a fatal drill to the real /dev/kmsg to the watch event that carries
// AcceleratedHardwareReady=False. Each flip is undone with `gpu-health-agent clear`
// (the control socket) and the condition back to True before the next one.
// The agent runs as its own Pod-bound ServiceAccount under the chart's RBAC and
// admission policy. Baseline in the same run: one strategic-merge status patch by
// the agent's API client, request -> response and request -> watch event.
// Then API writes: an Xid storm of 1,000 records/s for 10 s (status writes per
// second, Event objects and their series), and writes while nothing changes
// (--heartbeat 3s).
//
// Status writes are counted from the watch: every write the agent makes changes
// the object (message, counts or lastHeartbeatTime), so each is one MODIFIED event.
//
//   node bench/condition-latency.ts [--flips N] [--storm-seconds S] [--json]
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from '../test/cluster/harness/cluster.ts';
import { agentIdentity, condition, createNode, getNode, installAgentManifests, uniqueName, type NodeObject } from '../test/cluster/harness/fixtures.ts';
import { watchNode, type NodeWatch } from '../test/cluster/harness/watch.ts';
import { CONTENT_STRATEGIC_MERGE, KubeClient } from '../agent/report/kube/client.ts';
import { formatDrill, writeDrill } from '../agent/sources/kmsg/drill.ts';
import { seedCursorAtEnd } from '../agent/runtime/seed.ts';
import { clearFindings, shebangFlags, startAgent, until } from './lib/agent.ts';
import { sleep } from './lib/proc.ts';
import { pct, stats } from './lib/stats.ts';
import { asJson, numberFlag } from './lib/args.ts';

const opt = numberFlag;
const FLIPS = opt('--flips', 40);
const STORM_S = opt('--storm-seconds', 10);
const STORM_RATE = 1000;
const HEARTBEAT_S = 3;
const IDLE_S = 15;
const TYPE = 'AcceleratedHardwareReady';
const KMSG = '/dev/kmsg';

/** The first watch event from index `from` on whose condition matches; resolves with its arrival time. */
async function nextEvent(w: NodeWatch, from: number, match: (n: NodeObject) => boolean, timeoutMs: number): Promise<{ at: number; index: number }> {
  return until('watch event', () => {
    for (let i = from; i < w.seen.length; i++) {
      const s = w.seen[i];
      if (s !== undefined && match(s.node)) return { at: s.at, index: i };
    }
    return undefined;
  }, timeoutMs, 2);
}

const statusIs = (status: string) => (n: NodeObject): boolean => condition(n, TYPE)?.status === status;

function uniquePci(): string {
  return `${randomInt(0x1000, 0xffff).toString(16).padStart(4, '0')}:3b:00.0`;
}

interface EventObject {
  regarding?: { name?: string };
  series?: { count?: number };
  reason?: string;
  metadata: { creationTimestamp: string };
}

async function main(): Promise<void> {
  const cluster = await Cluster.forTests();
  const dir = mkdtempSync(join(tmpdir(), 'gha-bench-lat-'));
  let agent: Awaited<ReturnType<typeof startAgent>> | null = null;
  let watch: NodeWatch | null = null;
  try {
    await installAgentManifests(cluster);
    const node = uniqueName('bench');
    const created = await createNode(cluster.admin(), node);
    const id = await agentIdentity(cluster, node);
    watch = await watchNode(cluster.state.kubeconfig, node, (created as { metadata: { resourceVersion?: string } }).metadata.resourceVersion ?? '0');
    const w = watch;

    // Baseline: the agent's own client, as the agent's ServiceAccount, one patch at a time.
    const client = new KubeClient(id.connection);
    const patchRtt: number[] = [];
    const patchToWatch: number[] = [];
    for (let i = 0; i < 30; i++) {
      const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      const from = w.seen.length;
      const t0 = Date.now();
      await client.request('PATCH', `/api/v1/nodes/${node}/status`, {
        body: { status: { conditions: [{ type: TYPE, status: 'True', reason: 'NvidiaGPUIsReady', message: `baseline ${i}`, lastHeartbeatTime: now, lastTransitionTime: now }] } },
        contentType: CONTENT_STRATEGIC_MERGE,
      });
      patchRtt.push(Date.now() - t0);
      const seen = await nextEvent(w, from, (n) => condition(n, TYPE)?.message === `baseline ${i}`, 5000);
      patchToWatch.push(seen.at - t0);
    }
    client.close();

    // The agent, from the end of the ring buffer (as if it had read it all before).
    const stateDir = join(dir, 'state');
    const bootIdFile = join(dir, 'boot_id');
    const bootId = `bench-${randomBytes(6).toString('hex')}`;
    writeFileSync(bootIdFile, `${bootId}\n`);
    await seedCursorAtEnd(stateDir, bootId, KMSG);
    agent = await startAgent(
      ['--node-name', node, '--kubeconfig', id.kubeconfig, '--state-dir', stateDir, '--boot-id-file', bootIdFile, '--accept-drills', '--gpu-backend', 'none', '--heartbeat', `${HEARTBEAT_S}s`, '--pod-resources-socket', 'none'],
      { logFile: join(dir, 'agent.log') },
    );
    await nextEvent(w, 0, (n) => statusIs('True')(n) && condition(n, TYPE)?.reason === 'NvidiaGPUIsReady' && !(condition(n, TYPE)?.message ?? '').startsWith('baseline'), 15_000);

    // Flips: drill -> False (measured), clear -> True.
    const flips: number[] = [];
    for (let i = 0; i < FLIPS; i++) {
      const from = w.seen.length;
      const t0 = Date.now();
      writeDrill(KMSG, formatDrill({ xid: 79, pci: uniquePci(), text: `bench-${i}` }));
      const f = await nextEvent(w, from, statusIs('False'), 5000);
      flips.push(f.at - t0);
      await clearFindings(stateDir);
      await nextEvent(w, f.index + 1, statusIs('True'), 10_000);
    }

    // Nothing happens: writes per heartbeat.
    await sleep(2000);
    let from = w.seen.length;
    await sleep(IDLE_S * 1000);
    const idleWrites = w.seen.length - from;

    // Xid storm: 1,000 drills a second on 8 GPUs, fatal and warning codes mixed.
    const gpus = Array.from({ length: 8 }, () => uniquePci());
    const codes = [79, 48, 13, 31, 94, 63];
    const stormStart = Date.now();
    const eventsBefore = new Set((await listEvents(cluster, node)).map((e) => `${e.reason}|${e.metadata.creationTimestamp}`));
    from = w.seen.length;
    let written = 0;
    const tickMs = 10;
    const perTick = (STORM_RATE * tickMs) / 1000;
    for (let t = stormStart; Date.now() - stormStart < STORM_S * 1000; ) {
      for (let j = 0; j < perTick; j++, written++) {
        writeDrill(KMSG, formatDrill({ xid: codes[written % codes.length] as number, pci: gpus[written % gpus.length] as string, text: `storm-${written}` }));
      }
      t += tickMs;
      const wait = t - Date.now();
      if (wait > 0) await sleep(wait);
    }
    const stormMs = Date.now() - stormStart;
    await sleep(1500); // the last coalesced write
    const stormWrites = w.seen.length - from;
    const stormWindowS = (Date.now() - stormStart) / 1000;
    const st = await agent.json<{ sources: Array<{ source: string; recordsRead: number | null; recordsLost: number | null }> }>('/debug/state');
    const kmsgStats = st.sources.find((s) => s.source === 'kmsg');
    const events = (await listEvents(cluster, node)).filter((e) => !eventsBefore.has(`${e.reason}|${e.metadata.creationTimestamp}`));
    const seriesTotal = events.reduce((n, e) => n + (e.series?.count ?? 1), 0);
    const finalNode = await getNode(cluster.admin(), node);

    const result = {
      node: process.version,
      nodeFlags: shebangFlags(),
      baselinePatch: { roundTripMs: stats(patchRtt), toWatchEventMs: stats(patchToWatch) },
      recordToFalseMs: stats(flips),
      target: { p99UnderMs: 250, met: pct(flips, 99) < 250 },
      idle: { seconds: IDLE_S, heartbeatSeconds: HEARTBEAT_S, statusWrites: idleWrites, perHeartbeat: +(idleWrites / (IDLE_S / HEARTBEAT_S)).toFixed(2) },
      storm: {
        recordsWritten: written,
        seconds: +(stormMs / 1000).toFixed(1),
        recordsPerSecond: Math.round(written / (stormMs / 1000)),
        statusWrites: stormWrites,
        statusWritesPerSecond: +(stormWrites / stormWindowS).toFixed(2),
        eventObjects: events.length,
        eventSeriesTotal: seriesTotal,
        kmsgRecordsLost: kmsgStats?.recordsLost ?? null,
        conditionAfter: condition(finalNode, TYPE)?.status ?? null,
        met: stormWrites / stormWindowS <= 1.0001 + 1 / stormWindowS,
      },
    };
    if (asJson) {
      process.stdout.write(JSON.stringify(result) + '\n');
      return;
    }
    const line = (name: string, s: ReturnType<typeof stats>): string =>
      `${name.padEnd(48)} ${String(s.n).padStart(4)} ${String(s.p50).padStart(7)} ${String(s.p99).padStart(7)} ${String(s.max).padStart(7)}`;
    const out = [
      `condition latency: ${process.version}, node flags [${result.nodeFlags.join(' ')}], real kube-apiserver (harness), agent as its ServiceAccount`,
      `${'ms'.padEnd(48)} ${'n'.padStart(4)} ${'p50'.padStart(7)} ${'p99'.padStart(7)} ${'max'.padStart(7)}`,
      line('baseline: one status patch, request -> response', result.baselinePatch.roundTripMs),
      line('baseline: one status patch, request -> watch', result.baselinePatch.toWatchEventMs),
      line('kernel record -> condition False on the watch', result.recordToFalseMs),
      `target p99 < 250 ms: ${result.target.met ? 'met' : 'NOT met'}`,
      `nothing changing, ${IDLE_S} s at --heartbeat ${HEARTBEAT_S}s: ${idleWrites} status writes (${result.idle.perHeartbeat} per heartbeat)`,
      `Xid storm: ${written} records in ${result.storm.seconds} s (${result.storm.recordsPerSecond}/s): ${stormWrites} status writes ` +
        `(${result.storm.statusWritesPerSecond}/s over ${stormWindowS.toFixed(1)} s), ${events.length} Event objects carrying ${seriesTotal} occurrences, ` +
        `kmsg records lost ${result.storm.kmsgRecordsLost}; <= 1 write/s: ${result.storm.met ? 'met' : 'NOT met'}`,
    ];
    process.stdout.write(out.join('\n') + '\n');
  } finally {
    watch?.close();
    await agent?.stop();
    rmSync(dir, { recursive: true, force: true });
    await cluster.release();
  }
}

async function listEvents(cluster: Cluster, node: string): Promise<EventObject[]> {
  const res = await cluster.admin().request<{ items: EventObject[] }>('GET', '/apis/events.k8s.io/v1/events');
  return res.body.items.filter((e) => e.regarding?.name === node);
}

await main();
