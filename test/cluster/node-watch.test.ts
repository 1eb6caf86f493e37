// The reporter's watch on its own Node against the real API server when the
// watch itself is interrupted: the server ends it at its timeout (it resumes
// where it was, without reading the Node again), and the API server stops and
// starts again (it reconnects with backoff, not in a loop, and once back a
// hand edit is put right within seconds again).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NodeVerdict } from '../../agent/model/verdict.ts';
import { CONTENT_STRATEGIC_MERGE } from '../../agent/report/kube/client.ts';
import { createKubeReporter, type KubeReporter, type KubeReporterOptions } from '../../agent/report/kube/reporter.ts';
import { driven, type Driven } from '../helpers/drive-reporter.ts';
import { agentIdentity, condition, createNode, uniqueName, type NodeObject } from './harness/fixtures.ts';
import { useAgentCluster } from './harness/hooks.ts';
import { captureLogger } from '../helpers/log-capture.ts';
import { watchNode } from './harness/watch.ts';

const TYPE = 'AcceleratedHardwareReady';
const xid79: NodeVerdict = { status: 'False', reason: 'NvidiaXID79Error', message: 'GPU 3 (PCI 0000:3b:00.0) fell off the bus; action: replace' };

const cluster = useAgentCluster({ private: true }); // this file stops the API server
const reporters: Array<Driven<KubeReporter>> = [];
// A failed test leaves its reporter's timers behind, which would keep this file running.
after(async () => {
  for (const r of reporters) await r.stop();
});

async function until(what: string, ok: () => boolean, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
  return Date.now() - t0;
}

/** A Node whose reporter (default 5-minute heartbeat) has written False and watches it. */
async function watchedBrokenNode(prefix: string, o: Partial<KubeReporterOptions> = {}): Promise<{ node: string; r: Driven<KubeReporter>; log: ReturnType<typeof captureLogger> }> {
  const node = uniqueName(prefix);
  await createNode(cluster().admin(), node);
  const id = await agentIdentity(cluster(), node);
  const log = captureLogger();
  const r = driven(createKubeReporter({ nodeName: node, kubeconfig: id.kubeconfig, logger: log, requestTimeoutMs: 2000, ...o }));
  reporters.push(r);
  await r.start();
  r.setVerdict(xid79, Date.now());
  await until('the first write and an open watch', () => r.status().writes >= 1 && r.status().nodeWatch?.connected === true, 10_000);
  return { node, r, log };
}

/** An admin sets the condition True by hand; resolves with how long until the reporter's False was back. */
async function handEditPutRight(node: string): Promise<number> {
  const byHand = { type: TYPE, status: 'True', reason: 'SetByHand', message: 'an admin said so' };
  const res = await cluster().admin().request<NodeObject>('PATCH', `/api/v1/nodes/${node}/status`, { body: { status: { conditions: [byHand] } }, contentType: CONTENT_STRATEGIC_MERGE });
  const at = Date.now();
  const w = await watchNode(cluster().state.kubeconfig, node, res.body.metadata.resourceVersion);
  try {
    const seen = await w.until((n) => condition(n, TYPE)?.status === 'False', 5000);
    return seen.at - at;
  } finally {
    w.close();
  }
}

test('a watch the server ends at its timeout resumes where it was: no new read of the Node, no failure', async () => {
  const { node, r } = await watchedBrokenNode('watch-resume', { watchTimeoutS: 2 }); // each watch 2-4 s
  const first = r.status().nodeWatch!;
  await sleep(9000);
  const later = r.status().nodeWatch!;
  assert.ok(later.watches - first.watches >= 2, `resumed ${later.watches - first.watches} times in 9 s of 2-4 s watches`);
  assert.ok(later.watches - first.watches <= 5, `not a loop: ${later.watches - first.watches} watches in 9 s`);
  assert.equal(later.reads, first.reads, 'resumed from the last resourceVersion, not by reading the Node again');
  assert.equal(later.failures, 0);
  const ms = await handEditPutRight(node);
  console.log(`# after ${later.watches} watches: a hand edit put right in ${ms} ms`);
  await until('the write that put it right to return', () => r.status().writes >= 2, 5000); // the watch can see it land first
  await sleep(500);
  assert.equal(r.status().writes, 2, 'the first write and the one that put the edit right: resuming wrote nothing');
  await r.stop();
});

test('after an API server restart the watch reconnects with backoff (no busy loop) and puts a hand edit right again', async () => {
  const { node, r, log } = await watchedBrokenNode('watch-outage');
  const before = r.status().nodeWatch!;
  await cluster().stopApiserver();
  const downFor = 6000;
  await sleep(downFor);
  const during = r.status().nodeWatch!;
  assert.equal(during.connected, false);
  const attempts = during.watches + during.reads - before.watches - before.reads;
  // Backoff 0.8 s doubling (half of it jitter): at most 5 tries in 6 s, however long the outage.
  assert.ok(during.failures >= 2 && during.failures <= 5, `${during.failures} failures in ${downFor} ms`);
  assert.ok(attempts <= 6, `${attempts} requests in ${downFor} ms while down`);
  assert.match(during.lastError ?? '', /ECONNREFUSED|ECONNRESET|socket hang up|closed/);

  await cluster().startApiserver();
  const resumedMs = await until('the watch open again', () => r.status().nodeWatch?.connected === true, 40_000);
  const back = r.status().nodeWatch!;
  console.log(`# API server down ${downFor} ms: ${back.failures} failed reconnects, ${back.watches + back.reads - before.watches - before.reads} requests; watching again ${resumedMs} ms after /readyz`);
  const ms = await handEditPutRight(node);
  console.log(`# after the restart: a hand edit put right in ${ms} ms`);
  assert.ok(log.messages('node watch interrupted; will reconnect').length <= back.failures + 1, 'one log line per failure');
  await r.stop();
});
