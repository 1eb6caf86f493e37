// What every rendering of the chart must hold, checked on plain objects so the
// same checks run on `helm template` output (unit) and on what the API server
// stored and read back (cluster).
import assert from 'node:assert/strict';
import { parseAllDocuments } from 'yaml';

/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects are checked field by field. */
export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [k: string]: any };

export function parseManifests(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`invalid YAML: ${doc.errors[0]?.message}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null && typeof o === 'object');
}

export function one(objects: K8sObject[], kind: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind);
  assert.equal(found.length, 1, `exactly one ${kind} (got ${found.length})`);
  return found[0] as K8sObject;
}

export interface Expectations {
  dcgmMode: 'none' | 'external' | 'sidecar';
  debugPort?: number;
  stateDir?: string;
  /** For external mode with a unix socket: the host directory that must be mounted read-only. */
  externalSocketDir?: string;
}

/** The DaemonSet's promises: GPU nodes only, tolerations, limits, privileges, read-only host mounts. */
export function checkDaemonSet(ds: K8sObject, want: Expectations): void {
  const debugPort = want.debugPort ?? 20277;
  const stateDir = want.stateDir ?? '/var/lib/gpu-health-agent';
  const pod = ds.spec.template.spec;

  // Where it runs.
  assert.equal(pod.hostNetwork, true, 'host network, so the loopback debug server is the node loopback');
  assert.equal(pod.priorityClassName, 'system-node-critical');
  const terms = pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms as any[];
  const keys = terms.flatMap((t) => (t.matchExpressions as any[]).map((e) => e.key));
  assert.ok(keys.includes('nvidia.com/gpu.present'), 'selects nodes labelled by GPU feature discovery');
  assert.ok(keys.includes('feature.node.kubernetes.io/pci-10de.present'), 'selects nodes by NVIDIA PCI vendor label');
  assert.ok(!JSON.stringify(ds).includes('kubernetes.io/arch'), 'nothing pins an architecture');
  assert.equal(pod.nodeSelector, undefined, 'no nodeSelector (no arch pin)');
  const tolerations = pod.tolerations as any[];
  assert.ok(
    tolerations.some((t) => t.key === 'nvidia.com/gpu' && t.operator === 'Exists' && t.effect === undefined),
    'tolerates the nvidia.com/gpu taint with any effect',
  );

  // The agent container.
  const containers = pod.containers as any[];
  const agent = containers.find((c) => c.name === 'agent');
  assert.ok(agent, 'an agent container');
  assert.equal(agent.securityContext.privileged, true);
  assert.equal(agent.securityContext.readOnlyRootFilesystem, true, 'read-only root filesystem');
  assert.equal(agent.resources.requests.cpu, '10m');
  assert.equal(agent.resources.requests.memory, '96Mi');
  assert.equal(agent.resources.limits.memory, '184Mi');
  assert.equal(agent.resources.limits.cpu, undefined, 'no CPU limit (throttling would delay the reader in a storm)');
  const nodeName = (agent.env as any[]).find((e) => e.name === 'NODE_NAME');
  assert.equal(nodeName?.valueFrom?.fieldRef?.fieldPath, 'spec.nodeName', 'NODE_NAME from the downward API');
  const args = agent.args as string[];
  assert.equal(args[0], 'run');
  assert.ok(args.includes(`--debug-addr=127.0.0.1:${debugPort}`), 'debug server on loopback only');

  // Host paths: every one read-only except the state directory.
  const volumes = new Map<string, any>((pod.volumes as any[]).map((v) => [v.name, v]));
  const hostPathOf = (mountName: string): string | undefined => volumes.get(mountName)?.hostPath?.path;
  const mountsByHostPath = new Map<string, any>();
  for (const c of containers) {
    for (const m of (c.volumeMounts ?? []) as any[]) {
      const hostPath = hostPathOf(m.name);
      if (hostPath === undefined) continue;
      mountsByHostPath.set(hostPath, m);
      assert.equal(m.subPath, undefined, `${c.name}: no subPath mounts of host paths`);
      if (hostPath === stateDir) assert.notEqual(m.readOnly, true, 'the state directory is writable');
      else assert.equal(m.readOnly, true, `${c.name}: host path ${hostPath} is mounted read-only`);
    }
  }
  const mustMount = ['/dev/kmsg', '/proc/sys/kernel/random/boot_id', '/var/lib/kubelet/pod-resources', stateDir];
  if (want.externalSocketDir !== undefined) mustMount.push(want.externalSocketDir);
  for (const path of mustMount) assert.ok(mountsByHostPath.has(path), `host path ${path} is mounted`);
  assert.equal(volumes.get('kmsg')?.hostPath?.type, 'CharDevice');
  assert.equal(volumes.get('state')?.hostPath?.type, 'DirectoryOrCreate');

  // Rules: a ConfigMap mounted as a directory (hot reload follows the symlink swap).
  const rulesVolume = [...volumes.values()].find((v) => v.configMap !== undefined);
  assert.ok(rulesVolume, 'a ConfigMap volume for the rules');
  const rulesMount = (agent.volumeMounts as any[]).find((m) => m.name === rulesVolume.name);
  assert.equal(rulesMount.subPath, undefined, 'rules are not a subPath mount (those never update)');
  assert.equal(rulesMount.readOnly, true);
  const rulesArg = args.find((a) => a.startsWith('--rules='));
  assert.ok(rulesArg?.startsWith(`--rules=${rulesMount.mountPath}/`), '--rules names a file in the mounted directory');

  // Probes: exec against the loopback server; nothing the kubelet would dial on the pod IP.
  for (const probe of [agent.livenessProbe, agent.readinessProbe, agent.startupProbe]) {
    assert.ok(probe?.exec?.command, 'exec probe');
    assert.equal(probe.httpGet, undefined);
    assert.match((probe.exec.command as string[]).join(' '), new RegExp(`/dev/tcp/127\\.0\\.0\\.1/${debugPort}\\b`));
  }
  assert.match(agent.readinessProbe.exec.command.join(' '), /GET \/readyz /);
  assert.match(agent.livenessProbe.exec.command.join(' '), /GET \/healthz /);

  // DCGM.
  const dcgmArg = args.find((a) => a.startsWith('--dcgm-address='));
  const backend = args.find((a) => a.startsWith('--gpu-backend='));
  const sidecar = containers.find((c) => c.name === 'nv-hostengine');
  for (const c of containers) {
    for (const p of (c.ports ?? []) as any[]) assert.notEqual(p.hostPort === undefined ? p.containerPort : p.hostPort, 5555, 'no host engine TCP port');
  }
  switch (want.dcgmMode) {
    case 'none':
      assert.equal(dcgmArg, undefined);
      assert.equal(sidecar, undefined);
      assert.equal(backend, '--gpu-backend=nvml', 'kernel log and NVML');
      break;
    case 'external':
      assert.ok(dcgmArg, 'an external host engine address');
      assert.equal(backend, '--gpu-backend=dcgm');
      assert.equal(sidecar, undefined);
      break;
    case 'sidecar': {
      assert.ok(sidecar, 'an nv-hostengine sidecar');
      const command = (sidecar.command as string[]).join(' ');
      assert.match(command, /^nv-hostengine -n /);
      assert.match(command, /--domain-socket (\S+)\/hostengine\.sock/);
      assert.doesNotMatch(command, /(^| )(-b|--bind-interface|-p|--port)( |$)/, 'no TCP listener options');
      assert.equal(sidecar.ports, undefined, 'the sidecar exposes no port');
      assert.equal(sidecar.securityContext.readOnlyRootFilesystem, true);
      const socketDir = /--domain-socket (\S+)\/hostengine\.sock/.exec(command)?.[1];
      assert.equal(dcgmArg, `--dcgm-address=unix://${socketDir}/hostengine.sock`);
      const shared = (sidecar.volumeMounts as any[]).find((m) => m.mountPath === socketDir);
      assert.ok(volumes.get(shared.name)?.emptyDir !== undefined, 'the socket lives in an emptyDir');
      const agentSide = (agent.volumeMounts as any[]).find((m) => m.name === shared.name);
      assert.equal(agentSide?.readOnly, true, 'the agent mounts the socket directory read-only');
      break;
    }
  }
}

/** RBAC: no more than the agent needs; the roles are bound to its ServiceAccount only. */
export function checkRbac(objects: K8sObject[], serviceAccount: { name: string; namespace: string }): void {
  const roles = objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role');
  const bindings = objects.filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding');
  const grants = roles.flatMap((role) =>
    (role.rules as any[]).flatMap((r) =>
      (r.apiGroups as string[]).flatMap((g) =>
        (r.resources as string[]).flatMap((res) => (r.verbs as string[]).map((v) => `${role.kind}:${role.metadata.namespace ?? ''}:${g}/${res}:${v}`)),
      ),
    ),
  );
  assert.ok(grants.includes('ClusterRole::/nodes/status:patch'), 'may patch node status');
  assert.ok(grants.includes('ClusterRole::/nodes:get'), 'may read its node');
  assert.ok(grants.includes('ClusterRole::/nodes:watch'), 'may watch its node');
  assert.ok(grants.includes('Role:default:events.k8s.io/events:create'), 'may create node Events in default');
  for (const g of grants) {
    assert.doesNotMatch(g, /\*/, `no wildcards (${g})`);
    assert.doesNotMatch(g, /\/nodes:(update|patch|delete|create)$/, `no writes to the node object itself (${g})`);
    assert.doesNotMatch(g, /secrets|pods|configmaps|:list$|:escalate|:bind|:impersonate/, `nothing sensitive, no list (${g})`);
    // The node watch (fieldSelector metadata.name, as the kubelet's): nothing else is watched.
    if (g.endsWith(':watch')) assert.equal(g, 'ClusterRole::/nodes:watch', `no other watch (${g})`);
  }
  assert.equal(bindings.length, roles.length, 'one binding per role');
  for (const binding of bindings) {
    assert.ok(roles.some((r) => r.metadata.name === binding.roleRef.name && r.kind === binding.roleRef.kind), `${binding.metadata.name} binds a chart role`);
    assert.deepEqual(
      (binding.subjects as any[]).map((s) => ({ kind: s.kind, name: s.name, namespace: s.namespace })),
      [{ kind: 'ServiceAccount', name: serviceAccount.name, namespace: serviceAccount.namespace }],
    );
  }
}

/** The admission policy narrows the service account to its own node and condition. */
export function checkPolicy(policy: K8sObject, binding: K8sObject, serviceAccount: { name: string; namespace: string }): void {
  const rules = policy.spec.matchConstraints.resourceRules as any[];
  assert.ok(rules.some((r) => (r.resources as string[]).includes('nodes/status')), 'the policy watches nodes/status');
  const text = JSON.stringify(policy.spec);
  assert.ok(text.includes(`system:serviceaccount:${serviceAccount.namespace}:${serviceAccount.name}`), 'the policy names the agent');
  assert.ok(text.includes('authentication.kubernetes.io/node-name'), 'the policy ties writes to the pod\'s node');
  assert.equal(policy.spec.failurePolicy, 'Fail');
  assert.equal(binding.spec.policyName, policy.metadata.name);
  assert.ok((binding.spec.validationActions as string[]).includes('Deny'));
}
