// A state file older than the Node's False, without the finding behind it (an
// older agent's file, one restored from a backup), never turns the Node True:
// the agent reads the kernel log again and finds the fault anew.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useAgentCluster } from './harness/hooks.ts';
import { agentIdentity, condition, createNode, getNode, uniqueName } from './harness/fixtures.ts';
import { startAgentProcess, scratch, waitFor, type AgentProcess } from '../helpers/agent-process.ts';
import { syslogStamp } from '../helpers/log-lines.ts';

const TYPE = 'AcceleratedHardwareReady';
const agents: AgentProcess[] = [];
const dirs: string[] = [];
// Registered before the cluster's hooks, so the agents end before the API server does.
after(async () => {
  for (const a of agents) await a.kill();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const clusterOf = useAgentCluster();

test('a state file older than the Node False, without its finding, gets the kernel log read again', async () => {
  const node = uniqueName('stale');
  const cluster = clusterOf();
  await createNode(cluster.admin(), node);
  const id = await agentIdentity(cluster, node);
  const s = scratch();
  dirs.push(s.dir);
  const log = join(s.dir, 'kern.log');
  writeFileSync(log, '');
  const args = ['--node-name', node, '--kubeconfig', id.kubeconfig, '--kmsg', 'none', '--log-file', log, '--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile, '--gpu-backend', 'none'];
  const a = await startAgentProcess(args);
  agents.push(a);
  await waitFor('True on the Node', async () => (condition(await getNode(cluster.admin(), node), TYPE)?.status === 'True' ? true : undefined), 10_000, 100);
  appendFileSync(log, `${syslogStamp(Date.now())} gpu-node kernel: NVRM: Xid (PCI:0000:3b:00): 79, pid=1, name=x, GPU has fallen off the bus.\n`);
  const { value: down } = await waitFor('False on the Node', async () => {
    const c = condition(await getNode(cluster.admin(), node), TYPE);
    return c?.status === 'False' ? c : undefined;
  }, 10_000, 50);
  assert.equal(await a.stop(), 0);

  // The file as it was before the fault, but with the log file's position after the Xid line.
  const path = join(s.stateDir, 'state.json');
  const doc = JSON.parse(readFileSync(path, 'utf8')) as { savedAt: number; condition: { status: string; lastTransitionTime: number }; health: { gpus: unknown[] } };
  doc.health.gpus = [];
  doc.condition = { ...doc.condition, status: 'True', lastTransitionTime: Date.parse(down.lastTransitionTime ?? '') - 60_000 };
  doc.savedAt = Date.parse(down.lastTransitionTime ?? '') - 1000;
  writeFileSync(path, JSON.stringify(doc));

  const b = await startAgentProcess(args);
  agents.push(b);
  await b.waitForLine((l) => typeof l.msg === 'string' && l.msg.startsWith('the Node is False since after the state file was saved'), 10_000);
  const { value: st } = await waitFor('the fault found again', async () => {
    const x = await b.state();
    return x.ready && x.totals.fatal === 1 ? x : undefined;
  }, 10_000);
  assert.equal(st.condition.status, 'False');
  // Past the writer's coalescing window: the Node never went True.
  await new Promise((r) => setTimeout(r, 1500));
  const c = condition(await getNode(cluster.admin(), node), TYPE);
  assert.equal(c?.status, 'False');
  assert.equal(c?.lastTransitionTime, down.lastTransitionTime, 'and its transition time did not move');
  assert.equal(b.lines.some((l) => l.msg === 'wrote node condition' && (l.condition as { status?: string }).status === 'True'), false);
});
