// The agent process with NVIDIA's own libnvidia-ml.so.1 (driver 535, no kernel
// driver here) and --gpu-backend auto, against a real kube-apiserver as its
// ServiceAccount: the Node's condition is True (never False, never Unknown) and a
// GPUHealthSourceDown Warning Event regarding the Node carries NVIDIA's error.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { rmSync } from 'node:fs';
import { agentIdentity, condition, createNode, getNode, uniqueName } from './harness/fixtures.ts';
import { useAgentCluster } from './harness/hooks.ts';
import { scratch, startAgentProcess, waitFor, type AgentProcess } from '../helpers/agent-process.ts';
import { seedCursorAtEnd } from '../helpers/kmsg.ts';
import { DRIVER_NOT_LOADED, nvidiaArtifacts, type NvidiaArtifacts } from '../helpers/nvidia-artifacts.ts';

const TYPE = 'AcceleratedHardwareReady';
const cluster = useAgentCluster();
const agents: AgentProcess[] = [];
const dirs: string[] = [];
let nv: NvidiaArtifacts;

before(() => {
  nv = nvidiaArtifacts();
});
after(async () => {
  for (const a of agents) await a.kill();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface EventObject {
  type: string;
  reason: string;
  note: string;
  regarding: { kind: string; name: string };
}

test("--gpu-backend auto with NVIDIA's library and no driver: Node True, GPUHealthSourceDown Event with NVIDIA's error", async () => {
  const node = uniqueName('nvml-real');
  await createNode(cluster().admin(), node);
  const id = await agentIdentity(cluster(), node);
  const s = scratch();
  dirs.push(s.dir);
  await seedCursorAtEnd(s.stateDir, s.bootId);
  const a = await startAgentProcess([
    '--node-name', node, '--kubeconfig', id.kubeconfig, '--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile,
    '--gpu-backend', 'auto', '--nvml-lib', nv.lib, '--dcgm-address', `unix://${s.dir}/no-hostengine.sock`,
  ]);
  agents.push(a);

  const { value: healthy } = await waitFor('condition True on the Node', async () => {
    const c = condition(await getNode(cluster().admin(), node), TYPE);
    return c?.status === 'True' ? c : undefined;
  }, 10_000, 100);
  assert.equal(healthy.reason, 'NvidiaGPUIsReady');
  assert.match(healthy.message ?? '', /NVML unreachable/);

  const { value: event } = await waitFor('the GPUHealthSourceDown Event', async () => {
    const res = await cluster().admin().request<{ items: EventObject[] }>('GET', '/apis/events.k8s.io/v1/namespaces/default/events');
    return res.body.items.find((e) => e.regarding.name === node && e.reason === 'GPUHealthSourceDown');
  }, 10_000, 100);
  assert.equal(event.type, 'Warning');
  assert.equal(event.regarding.kind, 'Node');
  assert.ok(event.note.includes(`NVML is down: ${nv.lib}: ${DRIVER_NOT_LOADED}`), event.note);

  await new Promise((r) => setTimeout(r, 1500)); // NVML keeps failing its reconnect attempts
  assert.equal(condition(await getNode(cluster().admin(), node), TYPE)?.status, 'True');
  const changes = a.lines.filter((l) => l.msg === 'condition changed').map((l) => (l.condition as { status: string }).status);
  assert.deepEqual([...new Set(changes)], ['True'], 'the condition was only ever True');
  assert.equal(await a.stop(), 0);
});
