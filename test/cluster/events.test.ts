// events.k8s.io/v1 Events regarding the Node on a real API server, written
// as the agent's ServiceAccount: found by `kubectl events --for node/<name>`,
// repeats aggregated into one object's series, and a storm rate-limited.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Notice } from '../../agent/model/verdict.ts';
import { createKubeReporter, type KubeReporterOptions } from '../../agent/report/kube/reporter.ts';
import { driven } from '../helpers/drive-reporter.ts';
import { agentIdentity, createNode, uniqueName } from './harness/fixtures.ts';
import { useAgentCluster } from './harness/hooks.ts';
import { captureLogger } from '../helpers/log-capture.ts';

interface EventObject {
  metadata: { name: string; namespace: string };
  reason: string;
  note: string;
  type: string;
  action: string;
  reportingController: string;
  reportingInstance: string;
  regarding: { apiVersion: string; kind: string; name: string; uid?: string };
  series?: { count: number; lastObservedTime: string };
}

const cluster = useAgentCluster();

async function setup(prefix: string, o: Partial<KubeReporterOptions> = {}) {
  const node = uniqueName(prefix);
  const created = await createNode(cluster().admin(), node);
  const id = await agentIdentity(cluster(), node);
  const reporter = driven(createKubeReporter({ nodeName: node, kubeconfig: id.kubeconfig, logger: captureLogger(), ...o }));
  await reporter.start();
  return { node, uid: created.metadata.uid, reporter };
}

async function eventsFor(node: string): Promise<EventObject[]> {
  const res = await cluster().admin().request<{ items: EventObject[] }>('GET', '/apis/events.k8s.io/v1/namespaces/default/events');
  return res.body.items.filter((e) => e.regarding.name === node);
}

function notice(key: string, at: number, over: Partial<Notice> = {}): Notice {
  return {
    type: 'Warning',
    reason: 'NvidiaXID79Error',
    note: 'GPU 3 PCI 0000:3b:00.0 UUID GPU-8e2f0c1a code 79 pid 4242 (python) fell off the bus; action: replace node',
    key,
    at,
    drill: false,
    gpuUuids: ['GPU-8e2f0c1a'],
    ...over,
  };
}

async function until<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v).slice(0, 500)}`);
    await sleep(100);
  }
}

describe('Events regarding the Node', () => {
  test('kubectl events --for node/<name> lists them, with the Node reference and reporting controller', async () => {
    const { node, uid, reporter } = await setup('events-kubectl');
    reporter.notice(notice('xid79/GPU-8e2f0c1a', Date.now()));
    reporter.notice(notice('source/dcgm', Date.now(), { reason: 'GPUHealthSourceDown', note: 'dcgm: connect ENOENT /run/nvidia-dcgm/hostengine.sock' }));
    const events = await until('2 events', () => eventsFor(node), (e) => e.length === 2);
    await reporter.stop();
    const xid = events.find((e) => e.reason === 'NvidiaXID79Error')!;
    assert.equal(xid.type, 'Warning');
    assert.equal(xid.reportingController, 'gpu-health-agent');
    assert.equal(xid.reportingInstance, node);
    assert.equal(xid.metadata.namespace, 'default');
    assert.deepEqual(xid.regarding, { apiVersion: 'v1', kind: 'Node', name: node, uid });
    assert.match(xid.note, /GPU 3 PCI 0000:3b:00\.0 UUID GPU-8e2f0c1a code 79 pid 4242/);

    const out = await cluster().kubectl(['events', '--for', `node/${node}`]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /Warning\s+NvidiaXID79Error\s+Node\/\S+\s+GPU 3 PCI 0000:3b:00\.0/);
    assert.match(out.stdout, /GPUHealthSourceDown/);
  });

  test('repeats with one key are one Event whose series counts them', async () => {
    const { node, reporter } = await setup('events-series', { eventSeriesIntervalMs: 300 });
    const t0 = Date.now();
    reporter.notice(notice('xid79/GPU-8e2f0c1a', t0));
    await until('the first Event', () => eventsFor(node), (e) => e.length === 1);
    // 49 repeats over about a second: series PATCHes, at most one per 300 ms.
    for (let i = 1; i < 50; i++) {
      reporter.notice(notice('xid79/GPU-8e2f0c1a', t0 + i));
      if (i % 10 === 0) await sleep(200);
    }
    const events = await until('series.count 50', () => eventsFor(node), (e) => e[0]?.series?.count === 50);
    const status = reporter.status().events;
    await reporter.stop();
    assert.equal(events.length, 1, 'one object');
    assert.equal(Date.parse(events[0]!.series!.lastObservedTime), t0 + 49);
    assert.equal(status.created, 1);
    assert.ok(status.seriesUpdates >= 1 && status.seriesUpdates <= 6, `series updates: ${status.seriesUpdates}`);
    const out = await cluster().kubectl(['get', 'events', '--field-selector', `involvedObject.name=${node}`, '-o', 'jsonpath={.items[*].series.count}']);
    assert.equal(out.stdout.trim(), '50', 'the core/v1 view shows the series too');
  });

  test('a storm of 1,000 notices costs at most the burst of API calls, and stays aggregated', async () => {
    const { node, reporter } = await setup('events-storm', { eventBurst: 25, eventRefillMs: 60_000, eventSeriesIntervalMs: 60_000 });
    const t0 = Date.now();
    // 1,000 Xid records over 40 GPU/code keys, as fast as the loop goes.
    for (let i = 0; i < 1000; i++) reporter.notice(notice(`xid/${i % 40}`, t0 + i, { reason: i % 2 === 0 ? 'NvidiaXID79Error' : 'NvidiaXID13Warning' }));
    await until('the burst to land', async () => reporter.status().events, (s) => s.created >= 25, 15_000);
    await sleep(1000);
    const status = reporter.status().events;
    const events = await eventsFor(node);
    await reporter.stop();
    assert.equal(events.length, 25, 'the burst, then nothing until a token refills');
    assert.equal(status.created + status.seriesUpdates, 25, 'API calls');
    assert.equal(status.pending, 40 - 25, 'the other keys wait for tokens');
    // Notices that came before the first call are already folded into each object's series.
    assert.deepEqual(events.map((e) => e.series?.count), Array(25).fill(25));
    assert.equal(status.dropped, 0);
  });

  test('new keys beyond the bounded queue are dropped and counted, not queued without end', async () => {
    const { reporter } = await setup('events-drop', { eventBurst: 1, eventRefillMs: 60_000 });
    for (let i = 0; i < 500; i++) reporter.notice(notice(`k/${i}`, Date.now()));
    await sleep(300);
    const s = reporter.status().events;
    await reporter.stop();
    assert.equal(s.created, 1);
    assert.equal(s.dropped, 500 - 64, 'the queue holds 64 keys waiting for a token');
  });
});
