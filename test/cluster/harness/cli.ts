// `npm run cluster:up` / `npm run cluster:down`: a real control plane in the
// background for trying the agent by hand or running cluster tests against
// one shared cluster (GPU_HEALTH_AGENT_CLUSTER). `.cluster/current` names the
// running cluster's state file; `up` prints shell assignments, so
// `eval "$(npm run -s cluster:up)"` sets KUBECONFIG, KUBECTL and HELM.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cluster, type ClusterState } from './cluster.ts';
import { K8S_VERSION } from './binaries.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const pointer = join(repoRoot, '.cluster', 'current');

function print(state: ClusterState, stateFile: string): void {
  process.stdout.write([
    `KUBECONFIG=${state.kubeconfig}`,
    `KUBECTL=${state.binaries.kubectl}`,
    `HELM=${state.binaries.helm}`,
    `GPU_HEALTH_AGENT_CLUSTER=${stateFile}`,
    '',
  ].join('\n'));
}

async function current(): Promise<string | undefined> {
  if (!existsSync(pointer)) return undefined;
  const stateFile = (await readFile(pointer, 'utf8')).trim();
  return existsSync(stateFile) ? stateFile : undefined;
}

async function up(): Promise<void> {
  const existing = await current();
  if (existing !== undefined) {
    try {
      const c = await Cluster.attach(existing);
      process.stderr.write(`cluster already running (Kubernetes ${c.state.version}, ${c.state.server})\n`);
      print(c.state, existing);
      return;
    } catch {
      await Cluster.stopFromState(existing).catch(() => undefined); // half dead: clean it up
    }
  }
  const t0 = Date.now();
  const c = await Cluster.start({ detached: true });
  await mkdir(dirname(pointer), { recursive: true });
  await writeFile(pointer, `${c.stateFile}\n`);
  process.stderr.write(`cluster up in ${Date.now() - t0} ms: Kubernetes ${K8S_VERSION} at ${c.state.server}, files in ${c.state.dir}\n`);
  print(c.state, c.stateFile);
}

async function down(): Promise<void> {
  const stateFile = await current();
  if (stateFile === undefined) {
    process.stderr.write('no cluster running\n');
  } else {
    await Cluster.stopFromState(stateFile);
    process.stderr.write(`cluster stopped and ${dirname(stateFile)} removed\n`);
  }
  await rm(pointer, { force: true });
}

const command = process.argv[2];
if (command === 'up') await up();
else if (command === 'down') await down();
else {
  process.stderr.write('usage: node test/cluster/harness/cli.ts up|down\n');
  process.exitCode = 2;
}
// The admin client's keep-alive sockets must not hold the process open.
process.exit(process.exitCode ?? 0);
