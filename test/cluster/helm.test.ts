// The Helm chart on a real kube-apiserver: `helm lint`, then `helm template`
// with the default values and with each DCGM mode, applied with a server-side
// dry run and then for real; what the API server stored is read back and held
// to the chart's promises (privileges, read-only host mounts, tolerations,
// limits), RBAC and the admission policy are checked, and the rendered rule
// ConfigMap passes `gpu-health-agent rules validate`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { Cluster } from './harness/cluster.ts';
import { agentIdentity, createNode, statusOf, uniqueName } from './harness/fixtures.ts';
import { CONTENT_STRATEGIC_MERGE, KubeClient } from '../../agent/report/kube/client.ts';
import { checkDaemonSet, checkPolicy, checkRbac, parseManifests, type Expectations, type K8sObject } from './chart-checks.ts';
import { CHART_DIR, ROOT } from '../../scripts/generate-manifests.ts';
import { tableFromText } from '../../agent/rules/load.ts';

const run = promisify(execFile);
const SERVICE_MONITOR_CRD = join(ROOT, 'test', 'fixtures', 'helm', 'servicemonitor-crd.yaml');
const PROMETHEUS_RULE_CRD = join(ROOT, 'test', 'fixtures', 'helm', 'prometheusrule-crd.yaml');

// The rule-tuning examples from the chart README, as values.
const TUNED_RULES = {
  xid: {
    '43': { severity: 'fatal', action: 'RESET_GPU' },
    '109': { severity: 'ignore' },
    '13': { escalation: { count: 5, window: '10m', scope: 'gpu', severity: 'fatal' } },
  },
};

interface Case {
  name: string;
  release: string;
  namespace: string;
  set: string[];
  expect: Expectations;
  extraKinds?: string[];
}

const CASES: Case[] = [
  // The default release is the one the plain manifests describe (and the one the
  // harness fixtures' ServiceAccount token names), so the policy test below uses it.
  { name: 'default values', release: 'gpu-health-agent', namespace: 'gpu-health-agent', set: [], expect: { dcgmMode: 'none' } },
  {
    name: 'dcgm external (GPU Operator service over TCP)',
    release: 'gha-external',
    namespace: 'gha-external',
    set: ['--set', 'dcgm.mode=external', '--set', 'dcgm.external.address=nvidia-dcgm.gpu-operator.svc:5555'],
    expect: { dcgmMode: 'external' },
  },
  {
    name: 'dcgm external (host engine on a unix socket)',
    release: 'gha-external-unix',
    namespace: 'gha-external-unix',
    set: ['--set', 'dcgm.mode=external', '--set', 'dcgm.external.address=unix:///run/nvidia-dcgm/hostengine.sock'],
    expect: { dcgmMode: 'external', externalSocketDir: '/run/nvidia-dcgm' },
  },
  {
    name: 'dcgm sidecar (unix socket only)',
    release: 'gha-sidecar',
    namespace: 'gha-sidecar',
    set: ['--set', 'dcgm.mode=sidecar'],
    expect: { dcgmMode: 'sidecar' },
  },
  {
    name: 'metrics, ServiceMonitor, PrometheusRule, pod Events and tuned rules',
    release: 'gha-tuned',
    namespace: 'gha-tuned',
    set: [
      '--set', 'metrics.enabled=true', '--set', 'metrics.serviceMonitor.enabled=true', '--set', 'metrics.prometheusRule.enabled=true', '--set', 'rbac.podEvents=true',
      '--set', 'debug.port=20377', '--set-json', `rules.overrides=${JSON.stringify(TUNED_RULES)}`,
      '--set', 'criticalPodsQuota.enabled=true',
    ],
    expect: { dcgmMode: 'none', debugPort: 20377 },
    extraKinds: ['Service', 'ServiceMonitor', 'PrometheusRule', 'ResourceQuota'],
  },
];

let cluster: Cluster;
let helm: string;
let scratch: string;

async function helmTemplate(c: Case): Promise<string> {
  const { stdout } = await run(helm, ['template', c.release, CHART_DIR, '--namespace', c.namespace, ...c.set], { maxBuffer: 16 << 20 });
  return stdout;
}

async function kubectlOk(args: string[], input?: string): Promise<string> {
  const res = await cluster.kubectl(args, input === undefined ? {} : { input });
  assert.equal(res.code, 0, `kubectl ${args.join(' ')}: ${res.stderr}${res.stdout}`);
  return res.stdout;
}

async function readBack(o: K8sObject): Promise<K8sObject> {
  const ns = o.metadata.namespace === undefined ? [] : ['-n', o.metadata.namespace];
  return JSON.parse(await kubectlOk(['get', ...ns, `${o.kind}.${o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : ''}`.replace(/\.$/, ''), o.metadata.name, '-o', 'json'])) as K8sObject;
}

async function validateWithCli(file: string): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(ROOT, 'agent', 'main.ts'), 'rules', 'validate', file], { timeout: 30_000 });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

before(async () => {
  cluster = await Cluster.forTests();
  helm = cluster.state.binaries.helm;
  scratch = await mkdtemp(join(tmpdir(), 'gha-helm-'));
  await kubectlOk(['apply', '--server-side', '-f', SERVICE_MONITOR_CRD, '-f', PROMETHEUS_RULE_CRD]);
  await cluster.waitFor(async () => (await cluster.kubectl(['get', 'servicemonitors', '-A'])).code === 0, 30_000, 'ServiceMonitor CRD established');
  await cluster.waitFor(async () => (await cluster.kubectl(['get', 'prometheusrules', '-A'])).code === 0, 30_000, 'PrometheusRule CRD established');
});

after(async () => {
  await cluster?.release();
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
});

test('helm lint --strict passes with the default values and each DCGM mode', async () => {
  for (const c of CASES) {
    const { stdout } = await run(helm, ['lint', '--strict', CHART_DIR, ...c.set]);
    assert.match(stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/, c.name);
  }
});

test('helm refuses an unknown DCGM mode', async () => {
  await assert.rejects(run(helm, ['template', 'x', CHART_DIR, '--set', 'dcgm.mode=tcp']), /dcgm.mode must be none, external or sidecar/);
});

for (const c of CASES) {
  describe(c.name, () => {
    let objects: K8sObject[];

    before(async () => {
      objects = parseManifests(await helmTemplate(c));
      const ns = await cluster.kubectl(['create', 'namespace', c.namespace]);
      assert.ok(ns.code === 0 || ns.stderr.includes('AlreadyExists'), ns.stderr);
    });

    test('server-side dry run accepts every object and creates none', async () => {
      const rendered = await helmTemplate(c);
      const out = await kubectlOk(['apply', '--server-side', '--force-conflicts', '--dry-run=server', '-f', '-'], rendered);
      for (const o of objects) assert.match(out, new RegExp(`${o.metadata.name} serverside-applied \\(server dry run\\)`), `${o.kind} ${o.metadata.name}`);
      const ds = objects.find((o) => o.kind === 'DaemonSet') as K8sObject;
      const get = await cluster.kubectl(['get', '-n', c.namespace, 'daemonset', ds.metadata.name]);
      assert.notEqual(get.code, 0, 'the dry run stored nothing');
      assert.match(get.stderr, /NotFound/);
    });

    test('applied for real, the stored objects keep the chart\'s promises', async () => {
      await kubectlOk(['apply', '--server-side', '--force-conflicts', '-f', '-'], await helmTemplate(c));
      const kinds = objects.map((o) => o.kind).sort();
      for (const k of ['ServiceAccount', 'ConfigMap', 'DaemonSet', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding', ...(c.extraKinds ?? [])]) {
        assert.ok(kinds.includes(k), `renders a ${k}`);
      }
      const stored = await Promise.all(objects.map(readBack));
      const ds = stored.find((o) => o.kind === 'DaemonSet') as K8sObject;
      // Defaults the API server fills in must not undo anything (e.g. readOnly, probes).
      checkDaemonSet(ds, c.expect);
      const sa = { name: (stored.find((o) => o.kind === 'ServiceAccount') as K8sObject).metadata.name, namespace: c.namespace };
      checkRbac(stored, sa);
      if (c.set.includes('rbac.podEvents=true')) {
        const role = stored.find((o) => o.kind === 'ClusterRole') as K8sObject;
        assert.ok(JSON.stringify(role.rules).includes('events.k8s.io'), 'pod Events need cluster-wide events create');
      }
      checkPolicy(
        stored.find((o) => o.kind === 'ValidatingAdmissionPolicy') as K8sObject,
        stored.find((o) => o.kind === 'ValidatingAdmissionPolicyBinding') as K8sObject,
        sa,
      );
      const policy = stored.find((o) => o.kind === 'ValidatingAdmissionPolicy') as K8sObject;
      assert.equal(policy.status?.typeChecking?.expressionWarnings, undefined, 'the policy\'s CEL type-checks against Node');
      if (c.extraKinds?.includes('PrometheusRule')) {
        const pr = stored.find((o) => o.kind === 'PrometheusRule') as K8sObject;
        assert.equal(pr.spec.groups[0].rules.length, 8, 'the API server stored every alert');
      }
      if (c.extraKinds?.includes('ServiceMonitor')) {
        const sm = stored.find((o) => o.kind === 'ServiceMonitor') as K8sObject;
        const svc = stored.find((o) => o.kind === 'Service') as K8sObject;
        assert.equal(svc.spec.clusterIP, 'None');
        assert.deepEqual(sm.spec.selector.matchLabels, svc.spec.selector);
        assert.equal(sm.spec.endpoints[0].port, svc.spec.ports[0].name);
        const agent = ds.spec.template.spec.containers.find((x: { name: string }) => x.name === 'agent');
        assert.ok(agent.args.includes(`--metrics-addr=0.0.0.0:${svc.spec.ports[0].port}`));
      }
    });

    test('the rendered rule ConfigMap passes `gpu-health-agent rules validate`', async () => {
      const cm = await readBack(objects.find((o) => o.kind === 'ConfigMap') as K8sObject);
      const text = cm.data['overrides.yaml'] as string;
      const file = join(scratch, `${c.release}-overrides.yaml`);
      await writeFile(file, text);
      const loaded = tableFromText(text, file);
      assert.ok(loaded.ok, loaded.ok ? '' : loaded.errors.join('\n'));
      if (c.name.includes('tuned')) {
        const entries = loaded.table.entries;
        assert.equal(entries.get('xid:43')?.severity, 'fatal', 'Xid 43 promoted');
        assert.equal(entries.get('xid:109')?.severity, 'ignore', 'Xid 109 ignored');
        const x13 = entries.get('xid:13');
        assert.equal(x13?.escalation?.count, 5);
        assert.equal(x13?.escalation?.windowMs, 600_000);
      }
      const cli = await validateWithCli(file);
      assert.equal(cli.code, 0, `gpu-health-agent rules validate ${file}: ${cli.out}`);
    });
  });
}

test('the installed admission policy lets the agent write its own node only', async () => {
  const defaults = CASES[0] as Case;
  const ns = await cluster.kubectl(['create', 'namespace', defaults.namespace]);
  assert.ok(ns.code === 0 || ns.stderr.includes('AlreadyExists'), ns.stderr);
  await kubectlOk(['apply', '--server-side', '--force-conflicts', '-f', '-'], await helmTemplate(defaults));
  const admin = cluster.admin();
  const mine = uniqueName('gpu-node');
  const other = uniqueName('gpu-node');
  await createNode(admin, mine);
  await createNode(admin, other);
  const id = await agentIdentity(cluster, mine);
  const agent = new KubeClient(id.connection);
  const now = new Date().toISOString();
  const conditionPatch = (type: string) => ({
    status: { conditions: [{ type, status: 'True', reason: 'NvidiaGPUIsReady', message: 'chart test', lastHeartbeatTime: now, lastTransitionTime: now }] },
  });
  const write = (node: string, type = 'AcceleratedHardwareReady') =>
    agent.request('PATCH', `/api/v1/nodes/${node}/status`, { body: conditionPatch(type), contentType: CONTENT_STRATEGIC_MERGE });
  try {
    // The policy takes effect once the API server has loaded it: wait for the first denial.
    await cluster.waitFor(async () => (await statusOf(write(other))) === 403, 20_000, 'the admission policy to deny another node');
    await assert.rejects(write(other), /may only update the status of the node its token is bound to/);
    assert.equal(await statusOf(write(mine)), 0, 'its own node');
    await assert.rejects(write(mine, 'Ready'), /may not add, remove or change any node condition but AcceleratedHardwareReady/);
  } finally {
    agent.close();
  }
});
