// Someone else changes the agent's Node on a real API server: an admin sets
// the condition True by hand, removes it, or the Node is deleted and created
// again under the same name (a new uid). The whole agent process, with the
// default 5-minute heartbeat, must put its truth back within seconds (it
// watches its own Node), and a re-created Node starts a new transition time,
// which the agent keeps, in its own record too, across a restart.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CONTENT_STRATEGIC_MERGE, KubeApiError } from '../../agent/report/kube/client.ts';
import { startAgentOnNode } from './harness/agent-on-node.ts';
import { condition, createNode, getNode, uniqueName, type NodeObject } from './harness/fixtures.ts';
import { useAgentCluster } from './harness/hooks.ts';
import { watchNode } from './harness/watch.ts';
import { startAgentProcess, waitFor, type AgentProcess } from '../helpers/agent-process.ts';
import { drill, marker, uniquePci } from '../helpers/kmsg.ts';

const TYPE = 'AcceleratedHardwareReady';
/** Seconds, not the heartbeat's minutes: what "within seconds" means here. */
const TRUTH_WITHIN_MS = 5000;

const cluster = useAgentCluster();
const agents: AgentProcess[] = [];
const dirs: string[] = [];
after(async () => {
  for (const a of agents) await a.kill();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const nowRfc3339 = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

/** A Node, an agent on it (default heartbeat), and a fatal drill: the condition False on the Node. */
async function brokenNodeWithAgent(prefix: string): Promise<{ node: string; args: string[]; agent: AgentProcess; stateDir: string; broken: NonNullable<ReturnType<typeof condition>> }> {
  const node = uniqueName(prefix);
  const { agent, args, stateDir, dir } = await startAgentOnNode(cluster(), node);
  dirs.push(dir);
  agents.push(agent);
  // Setting up, not measured: generous for a loaded machine; the agent's log says why if it fails.
  await waitFor('condition True on the Node', async () => (condition(await getNode(cluster().admin(), node), TYPE)?.status === 'True' ? true : undefined), 20_000, 50)
    .catch((err: Error) => {
      throw new Error(`${err.message}; agent log: ${JSON.stringify(agent.lines.slice(-12))}`);
    });
  drill({ xid: 79, pci: uniquePci(), text: marker() });
  const { value: broken } = await waitFor('condition False on the Node', async () => {
    const c = condition(await getNode(cluster().admin(), node), TYPE);
    return c?.status === 'False' ? c : undefined;
  }, 5000, 20);
  return { node, args, agent, stateDir, broken };
}

/** Waits, through a watch on the Node from `rv`, for the agent's False; returns it and when it arrived. */
async function falseBack(node: string, rv: string, since: number, what: string): Promise<{ c: NonNullable<ReturnType<typeof condition>>; ms: number; seen: NodeObject }> {
  const w = await watchNode(cluster().state.kubeconfig, node, rv);
  try {
    const seen = await w.until((n) => condition(n, TYPE)?.status === 'False', TRUTH_WITHIN_MS);
    const ms = seen.at - since;
    console.log(`# ${what} -> the agent's False back on the Node: ${ms} ms`);
    return { c: condition(seen.node, TYPE)!, ms, seen: seen.node };
  } finally {
    w.close();
  }
}

describe('the agent restores its condition when someone else changes its Node', () => {
  let node: string;
  let broken: NonNullable<ReturnType<typeof condition>>;
  before(async () => {
    ({ node, broken } = await brokenNodeWithAgent('truth'));
  });

  test('a condition set True by hand while the agent says False is written back within seconds, with its transition time', async () => {
    const byHand = { type: TYPE, status: 'True', reason: 'SetByHand', message: 'an admin said so', lastHeartbeatTime: nowRfc3339(), lastTransitionTime: nowRfc3339() };
    const res = await cluster().admin().request<NodeObject>('PATCH', `/api/v1/nodes/${node}/status`, { body: { status: { conditions: [byHand] } }, contentType: CONTENT_STRATEGIC_MERGE });
    const patchedAt = Date.now();
    assert.equal(condition(res.body, TYPE)?.reason, 'SetByHand');
    const back = await falseBack(node, res.body.metadata.resourceVersion, patchedAt, 'condition set True by hand');
    assert.ok(back.ms < TRUTH_WITHIN_MS);
    assert.equal(back.c.reason, broken.reason);
    assert.equal(back.c.message, broken.message);
    assert.equal(back.c.lastTransitionTime, broken.lastTransitionTime, 'the agent never saw its status change: the fault time stays');
  });

  test('a condition removed from the Node is written back within seconds, with its transition time', async () => {
    const res = await cluster().admin().request<NodeObject>('PATCH', `/api/v1/nodes/${node}/status`, {
      body: { status: { conditions: [{ type: TYPE, $patch: 'delete' }] } },
      contentType: CONTENT_STRATEGIC_MERGE,
    });
    const removedAt = Date.now();
    assert.equal(condition(res.body, TYPE), undefined, 'removed');
    const back = await falseBack(node, res.body.metadata.resourceVersion, removedAt, 'condition removed');
    assert.ok(back.ms < TRUTH_WITHIN_MS);
    assert.equal(back.c.reason, broken.reason);
    assert.equal(back.c.lastTransitionTime, broken.lastTransitionTime);
    assert.equal(condition(back.seen, 'Ready')?.status, 'True', "the kubelet's conditions are untouched");
  });
});

describe('a Node deleted and created again under the same name', () => {
  test('gets the condition within seconds with a new transition time (not the old Node\'s), and a restart keeps it', async () => {
    const { node, args, agent, stateDir, broken } = await brokenNodeWithAgent('recreate');
    const admin = cluster().admin();
    const old = await getNode(admin, node);
    await admin.request('DELETE', `/api/v1/nodes/${node}`);
    await waitFor('the Node gone', async () => {
      try {
        await getNode(admin, node);
        return undefined;
      } catch (err) {
        return err instanceof KubeApiError && err.status === 404 ? true : undefined;
      }
    }, 10_000, 50);
    await sleep(2100); // whole seconds apart, so an old transition time would show
    // Watch the name from now on: the Node's creation and the agent's first write, as they land.
    const list = await admin.request<{ metadata: { resourceVersion: string } }>('GET', `/api/v1/nodes?fieldSelector=${encodeURIComponent(`metadata.name=${node}`)}`);
    const w = await watchNode(cluster().state.kubeconfig, node, list.body.metadata.resourceVersion);
    let created: NodeObject;
    let back: { c: NonNullable<ReturnType<typeof condition>>; ms: number; seen: NodeObject };
    try {
      created = await createNode(admin, node);
      assert.notEqual(created.metadata.uid, old.metadata.uid, 'a new Node object');
      const added = await w.until((n) => n.metadata.uid === created.metadata.uid, TRUTH_WITHIN_MS);
      const seen = await w.until((n) => n.metadata.uid === created.metadata.uid && condition(n, TYPE)?.status === 'False', TRUTH_WITHIN_MS);
      back = { c: condition(seen.node, TYPE)!, ms: seen.at - added.at, seen: seen.node };
      assert.equal(condition(added.node, TYPE), undefined, 'the new Node started without the condition');
    } finally {
      w.close();
    }
    console.log(`# Node deleted and re-created -> the agent's False on the new Node: ${back.ms} ms after its creation arrived`);
    const createdAt = Date.parse(created.metadata.creationTimestamp);
    assert.ok(back.ms < TRUTH_WITHIN_MS);
    assert.equal(back.c.reason, broken.reason);
    const ltt = back.c.lastTransitionTime!;
    assert.notEqual(ltt, broken.lastTransitionTime, "the old Node's transition time would start Karpenter's clock already expired");
    assert.ok(Date.parse(ltt) >= createdAt, `transition time ${ltt} is the first write to the new Node (created ${created.metadata.creationTimestamp})`);

    // The agent's own record follows the Node it writes to: the debug view now, the state file for the restart.
    const recorded = async (a: AgentProcess): Promise<number> => Date.parse((await a.state()).condition.lastTransitionTime ?? '');
    await waitFor('the agent\'s record to follow', async () => ((await recorded(agent)) === Date.parse(ltt) ? true : undefined), 3000, 50);
    await waitFor('the state file to follow', async () => {
      const doc = JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as { condition: { lastTransitionTime: number } | null };
      return doc.condition?.lastTransitionTime === Date.parse(ltt) ? true : undefined;
    }, 3000, 50);

    assert.equal(await agent.stop(), 0);
    const restarted = await startAgentProcess(args);
    agents.push(restarted);
    await waitFor('ready again', async () => ((await restarted.get('/readyz')).status === 200 ? true : undefined), 10_000);
    await sleep(1500); // past the writer's coalescing window
    const again = condition(await getNode(admin, node), TYPE);
    assert.equal(again?.status, 'False');
    assert.equal(again?.lastTransitionTime, ltt, 'a restart keeps the new Node\'s transition time');
    assert.equal(await recorded(restarted), Date.parse(ltt), "and so does the agent's own record");
    assert.equal(await restarted.stop(), 0);
  });
});
