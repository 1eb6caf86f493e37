// The whole agent process on a fresh Node of a real API server: the Node, the
// agent's Pod-bound identity on it, a scratch state dir whose kmsg cursor is
// at the ring's end (so old drills of other tests are not replayed), drills
// accepted, and the process started with the flags that reach that Node.
import { startAgentProcess, scratch, type AgentProcess } from '../../helpers/agent-process.ts';
import { seedCursorAtEnd } from '../../helpers/kmsg.ts';
import type { Cluster } from './cluster.ts';
import { agentIdentity, createNode } from './fixtures.ts';

export interface AgentOnNode {
  agent: AgentProcess;
  /** The flags it was started with: start it again with these for a restart. */
  args: string[];
  stateDir: string;
  /** The scratch dir to remove afterwards. */
  dir: string;
}

export async function startAgentOnNode(cluster: Cluster, node: string): Promise<AgentOnNode> {
  await createNode(cluster.admin(), node);
  const id = await agentIdentity(cluster, node);
  const s = scratch();
  await seedCursorAtEnd(s.stateDir, s.bootId);
  const args = ['--node-name', node, '--kubeconfig', id.kubeconfig, '--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile, '--accept-drills'];
  return { agent: await startAgentProcess(args), args, stateDir: s.stateDir, dir: s.dir };
}
