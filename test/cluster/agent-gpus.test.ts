// The agent process against a real kube-apiserver with the DCGM stand-in:
// without --expected-gpus the device-count check takes the Node's
// nvidia.com/gpu capacity (divided by the time-slicing replicas label), and
// with --pod-events the Pods holding a faulty GPU (from a kubelet-shaped
// pod-resources server on a real unix socket) get Events in their namespace.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fs from 'node:fs';
import path from 'node:path';
import { Cluster } from './harness/cluster.ts';
import { AGENT_NAMESPACE, AGENT_SA, agentIdentity, condition, createNode, getNode, installAgentManifests, uniqueName } from './harness/fixtures.ts';
import { CONTENT_STRATEGIC_MERGE } from '../../agent/report/kube/client.ts';
import { startAgentProcess, scratch, waitFor, type AgentProcess } from '../helpers/agent-process.ts';
import { seedCursorAtEnd } from '../helpers/kmsg.ts';
import { SysfsTree } from '../helpers/sysfs-tree.ts';
import { startFakeKubelet, type FakeKubelet } from '../helpers/fake-kubelet.ts';
import { buildNative, DCGM_LIB, startEngine, tempDir, type Engine } from '../integration/dcgm-harness.ts';
import { injectField, setVisibleGpus } from '../../scripts/standin/dcgm-control.ts';
import { gpuUuid } from '../../scripts/standin/dcgm-engine.ts';

const TYPE = 'AcceleratedHardwareReady';
let cluster: Cluster;
const agents: AgentProcess[] = [];
const engines: Engine[] = [];
const kubelets: FakeKubelet[] = [];
const dirs: string[] = [];

before(async () => {
  buildNative();
  // Its own API server: the --pod-events case grants the agent's ServiceAccount Events in
  // every namespace, which would break least-privilege.test.ts on a shared one.
  cluster = await Cluster.forTests({ private: true });
  await installAgentManifests(cluster);
});
after(async () => {
  for (const a of agents) await a.kill();
  for (const e of engines) await e.stop();
  for (const k of kubelets) await k.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  await cluster?.release();
});

/** A GPU node as the device plugin and GPU feature discovery leave it. */
async function gpuNode(capacity: string, labels: Record<string, string> = {}): Promise<string> {
  const name = uniqueName('gpus');
  const admin = cluster.admin();
  await createNode(admin, name);
  await admin.request('PATCH', `/api/v1/nodes/${name}`, { body: { metadata: { labels } }, contentType: CONTENT_STRATEGIC_MERGE });
  await admin.request('PATCH', `/api/v1/nodes/${name}/status`, {
    body: { status: { capacity: { 'nvidia.com/gpu': capacity }, allocatable: { 'nvidia.com/gpu': capacity } } },
    contentType: CONTENT_STRATEGIC_MERGE,
  });
  return name;
}

/** The PCI bus as sysfs shows it: the second view a device count needs before it is fatal. */
function pciBus(dir: string, gpus: number): { root: string; remove(i: number): void } {
  const root = path.join(dir, 'sys');
  const bdf = (i: number): string => `0000:${(0x3b + i).toString(16)}:00.0`;
  new SysfsTree(root, Array.from({ length: gpus }, (_, i) => ({ bdf: bdf(i), vendor: '0x10de', cls: '0x030200' })));
  return { root, remove: (i) => fs.rmSync(path.join(root, 'bus/pci/devices', bdf(i))) };
}

async function agentOn(node: string, extra: string[] = []): Promise<{ a: AgentProcess; socket: string; dir: string; bus: ReturnType<typeof pciBus> }> {
  const dir = tempDir('gha-cg-');
  dirs.push(dir);
  const socket = path.join(dir, 'he.sock');
  const bus = pciBus(dir, 2);
  engines.push(await startEngine(socket, 2));
  const id = await agentIdentity(cluster, node);
  const s = scratch();
  dirs.push(s.dir);
  await seedCursorAtEnd(s.stateDir, s.bootId);
  const a = await startAgentProcess([
    '--node-name', node, '--kubeconfig', id.kubeconfig, '--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile,
    '--gpu-backend', 'dcgm', '--dcgm-address', `unix://${socket}`, '--dcgm-lib', DCGM_LIB, '--dcgm-interval', '200ms',
    '--pod-resources-socket', path.join(dir, 'kubelet.sock'), '--sysfs-root', bus.root, '--sysfs-interval', '200ms', ...extra,
  ]);
  agents.push(a);
  return { a, socket, dir, bus };
}

const nodeCondition = async (node: string) => condition(await getNode(cluster.admin(), node), TYPE);
/** Waits (10 s) until the Node's condition has `status`; resolves with it. */
const conditionBecomes = async (node: string, status: 'True' | 'False') => (await waitFor(`${status} on the Node`, async () => {
  const x = await nodeCondition(node);
  return x?.status === status ? x : undefined;
}, 10_000, 100)).value;
/** The agent's node-level NvidiaDeviceCountMismatch finding, from /debug/state. */
const countMismatch = async (a: AgentProcess) => (await a.state()).gpus.find((g) => g.id === 'node')?.findings.find((x) => x.reason === 'NvidiaDeviceCountMismatch');

test('expected GPUs come from the Node capacity: 2 advertised, 2 visible -> True; one leaves the bus -> False NvidiaDeviceCountMismatch', async () => {
  const node = await gpuNode('2');
  const { a, socket, bus } = await agentOn(node);
  await conditionBecomes(node, 'True');
  await new Promise((r) => setTimeout(r, 1000)); // several probes with the capacity known
  assert.equal((await nodeCondition(node))?.status, 'True', 'visible == advertised is healthy');
  assert.equal((await a.state()).gpus.find((g) => g.id === 'node')?.findings.length ?? 0, 0);

  bus.remove(1);
  await setVisibleGpus(socket, 1);
  assert.equal((await conditionBecomes(node, 'False')).reason, 'NvidiaDeviceCountMismatch');
  assert.equal((await countMismatch(a))?.detail, '1 GPUs visible, 2 expected', 'the expected count is the Node capacity');
});

test('a host engine that restarts seeing one GPU fewer, both still on the bus: a warning, and it clears when the count is back', async () => {
  const node = await gpuNode('2');
  const { a, socket } = await agentOn(node);
  await conditionBecomes(node, 'True');
  await setVisibleGpus(socket, 1);
  const warned = await waitFor('the warning', async () => (await a.state()).gpus.find((g) => g.id === 'node')?.findings.find((f) => f.reason === 'NvidiaDeviceCountMismatchWarning'), 10_000);
  assert.equal(warned.value.severity, 'warning');
  assert.equal((await nodeCondition(node))?.status, 'True', "the engine's view alone never costs the node");
  await setVisibleGpus(socket, 2);
  await waitFor('cleared', async () => ((await a.state()).gpus.find((g) => g.id === 'node')?.findings.length === 0 ? true : undefined), 10_000);
  assert.equal((await nodeCondition(node))?.status, 'True');
});

test('time-sliced node: capacity 20 with nvidia.com/gpu.replicas=10 means 2 GPUs; no mismatch with 2 visible, mismatch with 1', async () => {
  const node = await gpuNode('20', { 'nvidia.com/gpu.replicas': '10', 'nvidia.com/gpu.sharing-strategy': 'time-slicing' });
  const { a, socket, bus } = await agentOn(node);
  await conditionBecomes(node, 'True');
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal((await nodeCondition(node))?.status, 'True', '20 replicas of 2 GPUs is not 18 missing GPUs');
  bus.remove(1);
  await setVisibleGpus(socket, 1);
  assert.equal((await conditionBecomes(node, 'False')).reason, 'NvidiaDeviceCountMismatch');
  assert.equal((await countMismatch(a))?.detail, '1 GPUs visible, 2 expected');
});

interface EventObject {
  metadata: { namespace: string };
  reason: string;
  note: string;
  regarding: { kind: string; name: string; namespace?: string };
  related?: { kind: string; name: string };
}

test('--pod-events: the Pod on the faulty GPU gets an Event in its namespace; the node Event names it', async () => {
  // What rbac.podEvents=true grants: Events in any namespace.
  const admin = cluster.admin();
  const role = uniqueName('gha-pod-events');
  await admin.request('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', {
    body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: role }, rules: [{ apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] }] },
  });
  await admin.request('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    body: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: role },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
      subjects: [{ kind: 'ServiceAccount', name: AGENT_SA, namespace: AGENT_NAMESPACE }],
    },
  });
  const ns = uniqueName('ml');
  await admin.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });

  const node = await gpuNode('2');
  const { a, socket, dir } = await agentOn(node, ['--pod-events']);
  kubelets.push(await startFakeKubelet(path.join(dir, 'kubelet.sock'), [
    { namespace: ns, name: 'trainer-0', containers: { main: [gpuUuid(0)] } },
    { namespace: ns, name: 'trainer-1', containers: { main: [gpuUuid(1)] } },
  ]));
  await conditionBecomes(node, 'True');

  await injectField(socket, 0, 311, 1); // double-bit ECC on GPU 0
  const { value: podEvents } = await waitFor('an Event regarding the Pod', async () => {
    const res = await admin.request<{ items: EventObject[] }>('GET', `/apis/events.k8s.io/v1/namespaces/${ns}/events`);
    return res.body.items.length > 0 ? res.body.items : undefined;
  }, 10_000, 100);
  assert.equal(podEvents.length, 1, 'only the Pod on the faulty GPU');
  const pe = podEvents[0]!;
  assert.equal(pe.reason, 'NvidiaDoubleBitError');
  assert.deepEqual([pe.regarding.kind, pe.regarding.namespace, pe.regarding.name], ['Pod', ns, 'trainer-0']);
  assert.deepEqual([pe.related?.kind, pe.related?.name], ['Node', node]);
  assert.match(pe.note, /^Container main of this Pod holds a GPU with a hardware finding: NvidiaDoubleBitError/);

  const { value: nodeEvent } = await waitFor('the node Event naming the Pod', async () => {
    const res = await admin.request<{ items: EventObject[] }>('GET', '/apis/events.k8s.io/v1/namespaces/default/events');
    return res.body.items.find((e) => e.regarding.kind === 'Node' && e.regarding.name === node && e.reason === 'NvidiaDoubleBitError');
  }, 10_000, 100);
  assert.match(nodeEvent.note, new RegExp(`Pods on this GPU: ${ns}/trainer-0 \\(main\\)\\.$`));
  assert.deepEqual((await a.state()).gpus.find((g) => g.uuid === gpuUuid(0))?.pods, [{ namespace: ns, name: 'trainer-0', container: 'main' }]);
});
