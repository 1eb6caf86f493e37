// The plain manifests in deploy/manifests are the chart's default rendering,
// byte for byte, and that rendering keeps the chart's promises.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { findBinaries } from '../cluster/harness/binaries.ts';
import { FILES, NAMESPACE, expectedFiles } from '../../scripts/generate-manifests.ts';
import { checkDaemonSet, checkPolicy, checkRbac, one, parseManifests } from '../cluster/chart-checks.ts';

test('deploy/manifests, deploy/rbac and deploy/admission equal `helm template` of the chart with default values', async () => {
  const { helm } = await findBinaries({ build: false });
  const want = await expectedFiles(helm);
  assert.equal(Object.keys(want).length, 6);
  for (const [path, text] of Object.entries(want)) {
    assert.equal(await readFile(path, 'utf8'), text, `${path} is stale: run \`npm run manifests\``);
  }
});

test('the checked-in manifests keep the DaemonSet, RBAC and policy promises', async () => {
  const objects = parseManifests(await readFile(FILES.agent, 'utf8'));
  assert.deepEqual(
    objects.map((o) => o.kind).sort(),
    ['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'DaemonSet', 'Role', 'RoleBinding', 'ServiceAccount', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'].sort(),
  );
  for (const o of objects) {
    if (o.kind.startsWith('Cluster') || o.kind.startsWith('ValidatingAdmission')) assert.equal(o.metadata.namespace, undefined);
    else if (o.kind.startsWith('Role')) assert.equal(o.metadata.namespace, 'default', 'node Events live in default');
    else assert.equal(o.metadata.namespace, NAMESPACE, `${o.kind} in ${NAMESPACE}`);
  }
  checkDaemonSet(one(objects, 'DaemonSet'), { dcgmMode: 'none' });
  const sa = { name: one(objects, 'ServiceAccount').metadata.name, namespace: NAMESPACE };
  checkRbac(objects, sa);
  checkPolicy(one(objects, 'ValidatingAdmissionPolicy'), one(objects, 'ValidatingAdmissionPolicyBinding'), sa);
  const namespace = parseManifests(await readFile(FILES.namespace, 'utf8'))[0];
  assert.equal(namespace?.metadata.name, NAMESPACE);
  assert.equal(namespace?.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'privileged');
});

test('the checks catch a writable host mount, a subPath rules mount and an arch pin', async () => {
  const fresh = async () => one(parseManifests(await readFile(FILES.agent, 'utf8')), 'DaemonSet');
  const writable = await fresh();
  writable.spec.template.spec.containers[0].volumeMounts.find((m: { name: string }) => m.name === 'kmsg').readOnly = false;
  assert.throws(() => checkDaemonSet(writable, { dcgmMode: 'none' }), /\/dev\/kmsg is mounted read-only/);
  const subPath = await fresh();
  const rules = subPath.spec.template.spec.containers[0].volumeMounts.find((m: { name: string }) => m.name === 'rules');
  rules.subPath = 'overrides.yaml';
  assert.throws(() => checkDaemonSet(subPath, { dcgmMode: 'none' }), /subPath/);
  const pinned = await fresh();
  pinned.spec.template.spec.nodeSelector = { 'kubernetes.io/arch': 'amd64' };
  assert.throws(() => checkDaemonSet(pinned, { dcgmMode: 'none' }), /architecture/);
});
