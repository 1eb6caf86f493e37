// The AcceleratedHardwareReady condition on a real kube-apiserver, written by
// the agent's reporter as its ServiceAccount with a Pod-bound token (never as
// admin): strategic merge patch of that one condition, False at once, other
// changes coalesced, heartbeats, lastTransitionTime kept across reasons and
// restarts, dry run.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createKubeReporter, type KubeReporter, type KubeReporterOptions } from '../../agent/report/kube/reporter.ts';
import { driven, type Driven } from '../helpers/drive-reporter.ts';
import type { NodeVerdict } from '../../agent/model/verdict.ts';
import { agentIdentity, condition, createNode, getNode, uniqueName, type AgentIdentity, type NodeObject } from './harness/fixtures.ts';
import { useAgentCluster } from './harness/hooks.ts';
import { captureLogger } from '../helpers/log-capture.ts';
import { watchNode } from './harness/watch.ts';

const TYPE = 'AcceleratedHardwareReady';
const healthy: NodeVerdict = { status: 'True', reason: 'NvidiaGPUIsReady', message: '8 GPUs observed by kmsg, nvml' };
const xid79: NodeVerdict = { status: 'False', reason: 'NvidiaXID79Error', message: 'GPU 3 (PCI 0000:3b:00.0) fell off the bus; action: replace' };
const xid48: NodeVerdict = { status: 'False', reason: 'NvidiaXID48Error', message: 'GPU 1 double-bit ECC error; action: reboot' };

const cluster = useAgentCluster();

/** A fresh Node, the agent's identity on it, and a reporter factory running as that identity. */
async function setup(prefix: string): Promise<{ node: string; id: AgentIdentity; reporter: (o?: Partial<KubeReporterOptions>) => Driven<KubeReporter & { log: ReturnType<typeof captureLogger> }> }> {
  const node = uniqueName(prefix);
  // Another agent's condition, to show it is never touched either.
  await createNode(cluster().admin(), node, [{ type: 'KernelReady', status: 'True', reason: 'KernelIsReady', message: 'Monitoring for the Kernel system is active', lastHeartbeatTime: '2025-01-01T00:00:00Z', lastTransitionTime: '2025-01-01T00:00:00Z' }]);
  const id = await agentIdentity(cluster(), node);
  const reporter = (o: Partial<KubeReporterOptions> = {}) => {
    const log = captureLogger();
    return driven(Object.assign(createKubeReporter({ nodeName: node, kubeconfig: id.kubeconfig, logger: log, coalesceMs: 300, heartbeatMs: 60_000, ...o }), { log }));
  };
  return { node, id, reporter };
}

function others(node: NodeObject): unknown[] {
  return (node.status.conditions ?? []).filter((c) => c.type !== TYPE);
}

describe('node condition on a real API server', () => {
  test('writes only its condition; the kubelet\'s and other agents\' conditions stay byte-identical', async () => {
    const { node, reporter } = await setup('smp');
    const before = await getNode(cluster().admin(), node);
    const r = reporter();
    const started = await r.start();
    assert.equal(started.adopted, undefined, 'a new node has no condition to adopt');
    r.setVerdict(healthy, Date.now());
    const w = await watchNode(cluster().state.kubeconfig, node, before.metadata.resourceVersion);
    try {
      const seen = await w.until((n) => condition(n, TYPE) !== undefined, 10_000);
      const c = condition(seen.node, TYPE)!;
      assert.equal(c.status, 'True');
      assert.equal(c.reason, 'NvidiaGPUIsReady');
      assert.equal(c.message, healthy.message);
      assert.match(c.lastTransitionTime ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.deepEqual(others(seen.node), others(before), 'Ready, pressures and KernelReady untouched');
      assert.deepEqual(seen.node.status.capacity, before.status.capacity);
    } finally {
      w.close();
      await r.stop();
    }
    assert.equal(r.log.messages('wrote node condition').length, 1);
  });

  test('False is written at once, not after the coalescing window', async () => {
    const { node, reporter } = await setup('false-now');
    const r = reporter({ coalesceMs: 10_000 });
    await r.start();
    r.setVerdict(healthy, Date.now());
    const rv = (await getNode(cluster().admin(), node)).metadata.resourceVersion;
    const w = await watchNode(cluster().state.kubeconfig, node, rv);
    try {
      const t0 = Date.now();
      r.setVerdict(xid79, t0);
      const seen = await w.until((n) => condition(n, TYPE)?.status === 'False', 5000);
      const latency = seen.at - t0;
      process.stdout.write(`# setVerdict(False) -> observed through a watch: ${latency} ms\n`);
      assert.ok(latency < 5000, `False took ${latency} ms; the 10 s coalescing window must not apply`);
      assert.equal(condition(seen.node, TYPE)?.reason, 'NvidiaXID79Error');
      // The earlier True was only waiting for its window: it is superseded, never written.
      assert.equal(w.seen.filter((s) => condition(s.node, TYPE)?.status === 'True').length, 0);
    } finally {
      w.close();
      await r.stop();
    }
  });

  test('other changes are coalesced into one write of the latest state', async () => {
    const { node, reporter } = await setup('coalesce');
    const r = reporter({ coalesceMs: 800 });
    await r.start();
    const t0 = Date.now();
    for (let i = 0; i < 20; i++) r.setVerdict({ ...healthy, message: `update ${i}` }, Date.now());
    await sleep(300);
    assert.equal(r.status().writes, 0, 'nothing written inside the window');
    for (let i = 20; i < 40; i++) r.setVerdict({ ...healthy, message: `update ${i}` }, Date.now());
    const deadline = Date.now() + 10_000;
    while (r.status().writes === 0 && Date.now() < deadline) await sleep(20);
    const elapsed = Date.now() - t0;
    await sleep(1200);
    assert.equal(r.status().writes, 1, '40 changes, one write');
    assert.ok(elapsed >= 700, `written after ${elapsed} ms, before the window closed`);
    assert.equal(condition(await getNode(cluster().admin(), node), TYPE)?.message, 'update 39');
    await r.stop();
  });

  test('an Xid storm (1,000 verdict updates a second) costs at most one status write a second', async () => {
    const { node, reporter } = await setup('storm');
    const r = reporter({ coalesceMs: 1000 });
    await r.start();
    const t0 = Date.now();
    r.setVerdict(xid79, t0);
    let i = 0;
    while (Date.now() - t0 < 2000) {
      for (let k = 0; k < 10; k++, i++) r.setVerdict({ ...xid79, message: `GPU 3 fell off the bus; ${i} more Xid records` }, Date.now());
      await sleep(10);
    }
    await sleep(1200);
    const writes = r.status().writes;
    await r.stop();
    assert.ok(i >= 1000, `${i} updates`);
    // The False at once; changes that keep it wait 30 s after it (updateIntervalMs), and stop() sends the latest.
    assert.ok(writes >= 1 && writes <= 2, `${writes} writes for ${i} updates over 2 s: the False at once, the updates held`);
    assert.equal(condition(await getNode(cluster().admin(), node), TYPE)?.message, `GPU 3 fell off the bus; ${i - 1} more Xid records`);
  });

  test('heartbeat refreshes lastHeartbeatTime only', async () => {
    const { node, reporter } = await setup('heartbeat');
    const r = reporter({ heartbeatMs: 1500 });
    await r.start();
    r.setVerdict(xid79, Date.now());
    while (r.status().writes === 0) await sleep(20);
    const first = condition(await getNode(cluster().admin(), node), TYPE)!;
    await sleep(3600);
    const later = condition(await getNode(cluster().admin(), node), TYPE)!;
    const writes = r.status().writes;
    await r.stop();
    assert.ok(writes >= 2 && writes <= 4, `heartbeat writes in 3.6 s at 1.5 s: ${writes}`);
    assert.ok(Date.parse(later.lastHeartbeatTime!) > Date.parse(first.lastHeartbeatTime!), 'lastHeartbeatTime moved');
    assert.equal(later.lastTransitionTime, first.lastTransitionTime);
    assert.equal(later.status, first.status);
    assert.equal(later.reason, first.reason);
    assert.equal(later.message, first.message);
  });

  test('lastTransitionTime is kept across a new reason and across a reporter restart; moves on a flip', async () => {
    const { node, reporter } = await setup('ltt');
    const admin = cluster().admin();
    const r1 = reporter();
    await r1.start();
    r1.setVerdict(xid79, Date.now());
    while (r1.status().writes < 1) await sleep(20);
    const fatal = condition(await getNode(admin, node), TYPE)!;
    await sleep(1100); // past a whole second, so a moved time would show
    r1.setVerdict(xid48, Date.now());
    while (r1.status().writes < 2) await sleep(20);
    const newReason = condition(await getNode(admin, node), TYPE)!;
    assert.equal(newReason.reason, 'NvidiaXID48Error');
    assert.equal(newReason.lastTransitionTime, fatal.lastTransitionTime, 'a new reason keeps the transition time');
    await r1.stop();

    // A new reporter (as after an agent restart) reads the node and adopts it.
    await sleep(1100);
    const r2 = reporter();
    const started = await r2.start();
    assert.deepEqual(started.adopted, { status: 'False', reason: 'NvidiaXID48Error', lastTransitionTime: Date.parse(fatal.lastTransitionTime!) }, 'what the Node holds goes to the core, which adopts it');
    r2.setVerdict(xid79, Date.now()); // still False, the restored state's strongest reason
    while (r2.status().writes < 1) await sleep(20);
    const afterRestart = condition(await getNode(admin, node), TYPE)!;
    assert.equal(afterRestart.reason, 'NvidiaXID79Error');
    assert.equal(afterRestart.lastTransitionTime, fatal.lastTransitionTime, 'a restart keeps the transition time');

    const flipAt = Date.now();
    r2.setVerdict(healthy, flipAt);
    while (r2.status().writes < 2) await sleep(20);
    const healed = condition(await getNode(admin, node), TYPE)!;
    await r2.stop();
    assert.equal(healed.status, 'True');
    assert.notEqual(healed.lastTransitionTime, fatal.lastTransitionTime, 'a flip moves the transition time');
    assert.ok(Math.abs(Date.parse(healed.lastTransitionTime!) - flipAt) < 2000);
  });

  test('a restart that finds the condition already as desired writes nothing until the heartbeat', async () => {
    const { node, reporter } = await setup('quiet-restart');
    const r1 = reporter();
    await r1.start();
    r1.setVerdict(healthy, Date.now());
    while (r1.status().writes < 1) await sleep(20);
    await r1.stop();
    const rv = (await getNode(cluster().admin(), node)).metadata.resourceVersion;
    const r2 = reporter({ heartbeatMs: 60_000 });
    await r2.start();
    r2.setVerdict(healthy, Date.now());
    await sleep(800);
    assert.equal(r2.status().writes, 0);
    assert.equal(r2.status().pending, false);
    await r2.stop();
    assert.equal((await getNode(cluster().admin(), node)).metadata.resourceVersion, rv);
  });

  test('dry run logs what it would write and changes nothing', async () => {
    const { node, reporter } = await setup('dry-run');
    const rv = (await getNode(cluster().admin(), node)).metadata.resourceVersion;
    const r = reporter({ dryRun: true });
    await r.start();
    r.setVerdict(xid79, Date.now());
    await sleep(500);
    r.notice({ type: 'Warning', reason: 'NvidiaXID79Error', note: 'GPU 3', key: 'k', at: Date.now(), drill: false, gpuUuids: [] });
    await sleep(300);
    await r.stop();
    const lines = r.log.messages('would write node condition');
    assert.equal(lines.length, 1);
    assert.equal((lines[0]!.obj.condition as { reason: string }).reason, 'NvidiaXID79Error');
    assert.equal(r.log.messages('would write event').length, 1);
    assert.equal((await getNode(cluster().admin(), node)).metadata.resourceVersion, rv, 'the node is unchanged');
  });
});
