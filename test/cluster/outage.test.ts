// The API server goes away and comes back (the real one, stopped and started
// again on the same port with the same etcd): the reporter keeps only the
// latest desired state, retries with backoff, and writes it once on return,
// with the transition time of the moment the status flipped.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createKubeReporter } from '../../agent/report/kube/reporter.ts';
import { driven } from '../helpers/drive-reporter.ts';
import { rfc3339 } from '../../agent/report/kube/condition.ts';
import { agentIdentity, condition, createNode, getNode, uniqueName } from './harness/fixtures.ts';
import { useAgentCluster } from './harness/hooks.ts';
import { captureLogger } from '../helpers/log-capture.ts';

const cluster = useAgentCluster({ private: true }); // this test stops the API server

test('API server down, state changes meanwhile, API server back: one write of the latest state', async () => {
  const node = uniqueName('outage');
  await createNode(cluster().admin(), node);
  const id = await agentIdentity(cluster(), node);
  const log = captureLogger();
  const r = driven(createKubeReporter({ nodeName: node, kubeconfig: id.kubeconfig, logger: log, coalesceMs: 200, heartbeatMs: 60_000, backoff: { baseMs: 100, maxMs: 800 }, requestTimeoutMs: 2000 }));
  await r.start();
  r.setVerdict({ status: 'True', reason: 'NvidiaGPUIsReady', message: 'ok' }, Date.now());
  while (r.status().writes < 1) await sleep(20);

  await cluster().stopApiserver();
  const flippedAt = Date.now();
  r.setVerdict({ status: 'False', reason: 'NvidiaXID48Error', message: 'GPU 1 DBE' }, flippedAt);
  await sleep(700);
  r.setVerdict({ status: 'False', reason: 'NvidiaXID79Error', message: 'GPU 3 fell off the bus' }, Date.now());
  await sleep(700);
  r.setVerdict({ status: 'False', reason: 'NvidiaXID79Error', message: 'GPU 3 fell off the bus; GPU 1 DBE' }, Date.now());
  await sleep(1000);
  const during = r.status();
  assert.equal(during.writes, 1, 'nothing written while the API server is down');
  assert.ok(during.failures >= 3, `retried while down: ${during.failures} failures`);
  assert.ok(during.failures <= 12, `backoff, not a tight loop: ${during.failures} failures in 2.4 s`);
  assert.equal(during.pending, true);
  assert.match(during.lastError ?? '', /ECONNREFUSED|ECONNRESET|socket hang up/);

  await cluster().startApiserver();
  const deadline = Date.now() + 15_000;
  while (r.status().writes < 2 && Date.now() < deadline) await sleep(20);
  await sleep(1500); // anything else would have been written by now
  const back = r.status();
  await r.stop();
  assert.equal(back.writes, 2, 'exactly one write on return');
  assert.equal(back.pending, false);
  assert.equal(back.lastError, undefined);
  const c = condition(await getNode(cluster().admin(), node), 'AcceleratedHardwareReady')!;
  assert.equal(c.status, 'False');
  assert.equal(c.reason, 'NvidiaXID79Error');
  assert.equal(c.message, 'GPU 3 fell off the bus; GPU 1 DBE');
  assert.equal(c.lastTransitionTime, rfc3339(flippedAt), 'the transition time is when the status flipped, not when it could be written');
});
