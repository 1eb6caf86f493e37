// Writes deploy/manifests/ from the Helm chart's default rendering, so the plain
// manifests never drift from the chart (test/unit/manifests.test.ts checks it).
//   node scripts/generate-manifests.ts           write the files
//   node scripts/generate-manifests.ts --check   exit 1 if they differ
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { findBinaries } from '../test/cluster/harness/binaries.ts';

const run = promisify(execFile);

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const CHART_DIR = join(ROOT, 'deploy', 'helm', 'gpu-health-agent');
export const MANIFESTS_DIR = join(ROOT, 'deploy', 'manifests');
export const RELEASE = 'gpu-health-agent';
export const NAMESPACE = 'gpu-health-agent';

const HEADER = `# Generated from deploy/helm/gpu-health-agent with its default values:
#   helm template ${RELEASE} deploy/helm/gpu-health-agent --namespace ${NAMESPACE}
# Do not edit: change the chart, then run \`npm run manifests\`.
# Apply namespace.yaml first (the agent is privileged: the namespace must allow it).
`;

// Not a chart object (Helm leaves the release namespace to --create-namespace),
// but plain-manifest users need it, with Pod Security set to allow the agent.
export const NAMESPACE_YAML = `# The agent runs privileged with host paths and the host network (see
# deploy/helm/gpu-health-agent/README.md for why), which only the "privileged"
# Pod Security level admits.
apiVersion: v1
kind: Namespace
metadata:
  name: ${NAMESPACE}
  labels:
    pod-security.kubernetes.io/enforce: privileged
    pod-security.kubernetes.io/warn: privileged
    pod-security.kubernetes.io/audit: privileged
`;

/** `helm template` of the chart with default values, as the manifests file holds it. */
export async function renderDefault(helm: string): Promise<string> {
  const { stdout } = await run(helm, ['template', RELEASE, CHART_DIR, '--namespace', NAMESPACE], { maxBuffer: 16 * 1024 * 1024 });
  return HEADER + stdout;
}

export const FILES = { agent: join(MANIFESTS_DIR, 'gpu-health-agent.yaml'), namespace: join(MANIFESTS_DIR, 'namespace.yaml') };

async function main(): Promise<number> {
  const { helm } = await findBinaries({ build: false });
  const want = { [FILES.agent]: await renderDefault(helm), [FILES.namespace]: NAMESPACE_YAML };
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [path, text] of Object.entries(want)) {
    const have = await readFile(path, 'utf8').catch(() => '');
    if (have === text) continue;
    stale++;
    if (check) process.stderr.write(`${path} differs from the chart's default rendering; run npm run manifests\n`);
    else await writeFile(path, text);
  }
  if (!check) process.stdout.write(`wrote ${MANIFESTS_DIR} (${stale} file(s) changed)\n`);
  return check && stale > 0 ? 1 : 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main();
}
