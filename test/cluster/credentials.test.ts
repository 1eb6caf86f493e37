// How the reporter proves who it is, against the real API server: a
// projected token file that rotates (the old token is then rejected), the
// in-cluster layout (token + CA files, KUBERNETES_SERVICE_HOST/PORT), and a
// kubeconfig with a client certificate (the harness's admin).
import assert from 'node:assert/strict';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeClient } from '../../agent/report/kube/client.ts';
import { inClusterConnection, kubeconfigConnection } from '../../agent/report/kube/connection.ts';
import { createKubeReporter } from '../../agent/report/kube/reporter.ts';
import { driven } from '../helpers/drive-reporter.ts';
import { AGENT_NAMESPACE, agentIdentity, condition, createNode, getNode, uniqueName } from './harness/fixtures.ts';
import { useAgentCluster } from './harness/hooks.ts';
import { captureLogger } from '../helpers/log-capture.ts';

const cluster = useAgentCluster();

test('a rotated token file is picked up on the next request', async () => {
  const node = uniqueName('rotate');
  await createNode(cluster().admin(), node);
  const first = await agentIdentity(cluster(), node);
  const whoami = async (client: KubeClient): Promise<string | undefined> => {
    const res = await client.request<{ status: { userInfo: { extra?: Record<string, string[]> } } }>('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } });
    return res.body.status.userInfo.extra?.['authentication.kubernetes.io/pod-name']?.[0];
  };
  const client = new KubeClient(first.connection);
  assert.equal(await whoami(client), first.podName);
  const r = driven(createKubeReporter({ nodeName: node, kubeconfig: first.kubeconfig, logger: captureLogger(), coalesceMs: 50 }));
  await r.start();
  r.setVerdict({ status: 'True', reason: 'NvidiaGPUIsReady', message: 'one' }, Date.now());
  while (r.status().writes < 1) await sleep(20);

  // The kubelet replaces the projected token (here: one bound to a new Pod) by an atomic swap,
  // and the old Pod, with the old token's binding, goes away.
  const second = await agentIdentity(cluster(), node);
  await writeFile(`${first.tokenFile}.new`, second.token);
  await rename(`${first.tokenFile}.new`, first.tokenFile);
  await cluster().admin().request('DELETE', `/api/v1/namespaces/${AGENT_NAMESPACE}/pods/${first.podName}`, { body: { gracePeriodSeconds: 0 } });

  assert.equal(await whoami(client), second.podName, 'the very next request carries the new token');
  client.close();
  r.setVerdict({ status: 'True', reason: 'NvidiaGPUIsReady', message: 'two' }, Date.now());
  while (r.status().writes < 2 && r.status().failures === 0) await sleep(20);
  const s = r.status();
  await r.stop();
  assert.equal(s.failures, 0, `no failed write: ${s.lastError}`);
  assert.equal(condition(await getNode(cluster().admin(), node), 'AcceleratedHardwareReady')?.message, 'two');

});

test('in-cluster configuration: service host/port from the environment, token and CA from files', async () => {
  const node = uniqueName('incluster');
  await createNode(cluster().admin(), node);
  const id = await agentIdentity(cluster(), node);
  const dir = join(cluster().state.dir, `${node}-serviceaccount`);
  await mkdir(dir);
  await writeFile(join(dir, 'token'), id.token);
  await writeFile(join(dir, 'ca.crt'), id.connection.ca!);
  const url = new URL(cluster().state.server);
  const conn = inClusterConnection({ KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port }, dir);
  assert.equal(conn.server, cluster().state.server);
  const client = new KubeClient(conn);
  const res = await client.request<{ metadata: { name: string } }>('GET', `/api/v1/nodes/${node}`);
  client.close();
  assert.equal(res.body.metadata.name, node);
});

test('kubeconfig with a client certificate (admin) authenticates; a wrong CA is refused', async () => {
  const conn = await kubeconfigConnection(cluster().state.kubeconfig);
  assert.ok(conn.clientCert !== undefined && conn.clientKey !== undefined && conn.token === undefined);
  const client = new KubeClient(conn);
  const res = await client.request<{ status: { userInfo: { username: string; groups: string[] } } }>('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } });
  client.close();
  assert.equal(res.body.status.userInfo.username, 'admin');
  assert.ok(res.body.status.userInfo.groups.includes('system:masters'));

  const wrongCa = new KubeClient({ ...conn, ca: Buffer.from('') });
  await assert.rejects(wrongCa.request('GET', '/version'), /certificate|self-signed|issuer/i);
  wrongCa.close();
});
