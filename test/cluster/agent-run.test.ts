// The whole agent process against a real kube-apiserver: a fatal drill on the
// real /dev/kmsg becomes AcceleratedHardwareReady=False on the Node, written as
// the agent's ServiceAccount; a SIGKILL and restart keeps lastTransitionTime.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { rmSync } from 'node:fs';
import { Cluster } from './harness/cluster.ts';
import { startAgentOnNode } from './harness/agent-on-node.ts';
import { condition, getNode, installAgentManifests, uniqueName } from './harness/fixtures.ts';
import { startAgentProcess, waitFor, type AgentProcess } from '../helpers/agent-process.ts';
import { drill, marker, uniquePci } from '../helpers/kmsg.ts';

const TYPE = 'AcceleratedHardwareReady';
let cluster: Cluster;
const agents: AgentProcess[] = [];
const dirs: string[] = [];

before(async () => {
  cluster = await Cluster.forTests();
  await installAgentManifests(cluster);
});
after(async () => {
  for (const a of agents) await a.kill();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await cluster?.release();
});

test('run: drill -> Node condition False on the API server; restart keeps lastTransitionTime', async () => {
  const node = uniqueName('run');
  const { agent: a, args, dir } = await startAgentOnNode(cluster, node);
  dirs.push(dir);
  agents.push(a);

  const healthy = await waitFor('condition True on the Node', async () => {
    const c = condition(await getNode(cluster.admin(), node), TYPE);
    return c?.status === 'True' ? c : undefined;
  }, 10_000, 100);
  assert.equal(healthy.value.reason, 'NvidiaGPUIsReady');

  const pci = uniquePci();
  drill({ xid: 79, pci, text: marker() });
  const { value: broken, ms } = await waitFor('condition False on the Node', async () => {
    const c = condition(await getNode(cluster.admin(), node), TYPE);
    return c?.status === 'False' ? c : undefined;
  }, 5000, 20);
  console.log(`# kernel record -> Node condition False on the API server: ${ms} ms (poll 20 ms)`);
  assert.match(broken.message ?? '', new RegExp(pci.replace(/[.]/g, '\\.')));
  const st = await a.state();
  assert.equal(st.lastWrite?.what, 'condition');
  assert.equal(st.lastWrite?.ok, true);

  // No pause: the finding was on disk before the False was written.
  await a.kill();
  const b = await startAgentProcess(args);
  agents.push(b);
  await waitFor('ready again', async () => ((await b.get('/readyz')).status === 200 ? true : undefined), 10_000);
  await new Promise((r) => setTimeout(r, 1500)); // past the writer's coalescing window
  const again = condition(await getNode(cluster.admin(), node), TYPE);
  assert.equal(again?.status, 'False');
  assert.equal(again?.lastTransitionTime, broken.lastTransitionTime, 'a restart does not move lastTransitionTime');
  assert.equal(await b.stop(), 0);
});
