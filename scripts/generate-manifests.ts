// Writes the plain manifests from the Helm chart's default rendering, so they
// never drift from the chart (test/unit/manifests.test.ts checks it):
// deploy/manifests/ (everything) and deploy/rbac/, deploy/admission/ (the
// identity and policy pieces alone, which the cluster tests apply).
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

/** `helm template` of the chart with default values (only `templates` when given). */
async function template(helm: string, templates: string[] = []): Promise<string> {
  const only = templates.flatMap((t) => ['--show-only', `templates/${t}`]);
  const { stdout } = await run(helm, ['template', RELEASE, CHART_DIR, '--namespace', NAMESPACE, ...only], { maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

/** The full default rendering, as deploy/manifests/gpu-health-agent.yaml holds it. */
export async function renderDefault(helm: string): Promise<string> {
  return HEADER + (await template(helm));
}

export const FILES = { agent: join(MANIFESTS_DIR, 'gpu-health-agent.yaml'), namespace: join(MANIFESTS_DIR, 'namespace.yaml') };

/** deploy/rbac and deploy/admission files, each from one chart template. */
export const PIECES: Record<string, string> = {
  [join(ROOT, 'deploy', 'rbac', 'serviceaccount.yaml')]: 'serviceaccount.yaml',
  [join(ROOT, 'deploy', 'rbac', 'clusterrole.yaml')]: 'clusterrole.yaml',
  [join(ROOT, 'deploy', 'rbac', 'events-role.yaml')]: 'events-role.yaml',
  [join(ROOT, 'deploy', 'admission', 'node-status-policy.yaml')]: 'validatingadmissionpolicy.yaml',
};

function pieceHeader(template: string): string {
  return `# Generated from deploy/helm/gpu-health-agent/templates/${template} with the chart's
# default values. Do not edit: change the chart, then run \`npm run manifests\`.
`;
}

/** Every generated file with the text it must hold. */
export async function expectedFiles(helm: string): Promise<Record<string, string>> {
  const want: Record<string, string> = { [FILES.agent]: await renderDefault(helm), [FILES.namespace]: NAMESPACE_YAML };
  for (const [path, name] of Object.entries(PIECES)) want[path] = pieceHeader(name) + (await template(helm, [name]));
  return want;
}

async function main(): Promise<number> {
  const { helm } = await findBinaries({ build: false });
  const want = await expectedFiles(helm);
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [path, text] of Object.entries(want)) {
    const have = await readFile(path, 'utf8').catch(() => '');
    if (have === text) continue;
    stale++;
    if (check) process.stderr.write(`${path} differs from the chart's default rendering; run npm run manifests\n`);
    else await writeFile(path, text);
  }
  if (!check) process.stdout.write(`wrote deploy/manifests, deploy/rbac, deploy/admission (${stale} file(s) changed)\n`);
  return check && stale > 0 ? 1 : 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main();
}
