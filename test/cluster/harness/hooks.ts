// The hooks every cluster test file starts with: before its tests, the cluster
// it uses (Cluster.forTests) with the agent's deploy/ manifests installed;
// after them, that cluster let go (stopped only where the file started it).
import { after, before } from 'node:test';
import { Cluster } from './cluster.ts';
import { installAgentManifests } from './fixtures.ts';

/** Registers the file's before/after hooks; the returned function gives the cluster to its tests. */
export function useAgentCluster(opts: { private?: boolean } = {}): () => Cluster {
  let cluster: Cluster | undefined;
  before(async () => {
    cluster = await Cluster.forTests(opts);
    await installAgentManifests(cluster);
  });
  after(async () => {
    await cluster?.release();
  });
  return () => {
    if (cluster === undefined) throw new Error('the cluster is set up in a before hook: use it inside tests and hooks');
    return cluster;
  };
}
