// What the cluster tests set up on a real API server: the agent's RBAC and
// admission policy from deploy/, Node objects that look like a kubelet
// registered them, and the agent's identity: a Pod on the Node and a token
// from the TokenRequest API bound to that Pod (so it carries the node-name
// claim), written to a token file and a kubeconfig that points at it.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeApiError, KubeClient, CONTENT_STRATEGIC_MERGE } from '../../../agent/report/kube/client.ts';
import type { KubeConnection } from '../../../agent/report/kube/connection.ts';
import type { Cluster } from './cluster.ts';

export const AGENT_NAMESPACE = 'gpu-health-agent';
export const AGENT_SA = 'gpu-health-agent';
export const AGENT_USER = `system:serviceaccount:${AGENT_NAMESPACE}:${AGENT_SA}`;
export const NODE_NAME_EXTRA = 'authentication.kubernetes.io/node-name';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const DEPLOY_RBAC = join(repoRoot, 'deploy', 'rbac');
export const DEPLOY_ADMISSION = join(repoRoot, 'deploy', 'admission');

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

/** Applies deploy/rbac and deploy/admission with the real kubectl (server-side apply: idempotent). */
export async function installAgentManifests(cluster: Cluster): Promise<void> {
  const ns = await cluster.kubectl(['create', 'namespace', AGENT_NAMESPACE]);
  if (ns.code !== 0 && !ns.stderr.includes('AlreadyExists')) throw new Error(`create namespace: ${ns.stderr}`);
  const res = await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '-f', DEPLOY_RBAC, '-f', DEPLOY_ADMISSION]);
  if (res.code !== 0) throw new Error(`kubectl apply deploy/: ${res.stderr}${res.stdout}`);
}

export interface NodeCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastHeartbeatTime?: string;
  lastTransitionTime?: string;
}

export interface NodeObject {
  metadata: { name: string; uid: string; resourceVersion: string; creationTimestamp: string; labels?: Record<string, string> };
  status: { conditions?: NodeCondition[]; capacity?: Record<string, string> };
}

/** Conditions as a kubelet writes them, with times in the past so a rewrite would show. */
export function kubeletConditions(at = '2025-01-01T00:00:00Z'): NodeCondition[] {
  const c = (type: string, status: string, reason: string, message: string): NodeCondition => ({ type, status, reason, message, lastHeartbeatTime: at, lastTransitionTime: at });
  return [
    c('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
    c('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
    c('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
    c('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
  ];
}

/** A Node as kubelet would register it (created by admin: the tests are not the kubelet). */
export async function createNode(admin: KubeClient, name: string, extra: NodeCondition[] = []): Promise<NodeObject> {
  const body = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, 'nvidia.com/gpu.present': 'true' } },
    status: {
      capacity: { cpu: '8', memory: '64Gi', pods: '110', 'nvidia.com/gpu': '8' },
      allocatable: { cpu: '8', memory: '64Gi', pods: '110', 'nvidia.com/gpu': '8' },
      conditions: [...kubeletConditions(), ...extra],
      addresses: [{ type: 'InternalIP', address: '10.0.0.10' }, { type: 'Hostname', address: name }],
    },
  };
  await admin.request('POST', '/api/v1/nodes', { body });
  // Status is set by a status write, as the kubelet does after registering.
  const res = await admin.request<NodeObject>('PATCH', `/api/v1/nodes/${name}/status`, { body: { status: body.status }, contentType: CONTENT_STRATEGIC_MERGE });
  return res.body;
}

export async function getNode(admin: KubeClient, name: string): Promise<NodeObject> {
  return (await admin.request<NodeObject>('GET', `/api/v1/nodes/${name}`)).body;
}

export function condition(node: NodeObject, type: string): NodeCondition | undefined {
  return node.status.conditions?.find((c) => c.type === type);
}

export interface AgentIdentity {
  podName: string;
  token: string;
  tokenFile: string;
  kubeconfig: string;
  connection: KubeConnection;
  /** A new token for the same Pod (as kubelet's projected-token rotation produces). */
  rotate(): Promise<string>;
}

/** A Pod on `nodeName` run by the agent's ServiceAccount, and a token bound to it. */
export async function agentIdentity(cluster: Cluster, nodeName: string): Promise<AgentIdentity> {
  const admin = cluster.admin();
  const podName = uniqueName(`agent-${nodeName}`.slice(0, 40));
  const pod = await admin.request<{ metadata: { uid: string } }>('POST', `/api/v1/namespaces/${AGENT_NAMESPACE}/pods`, {
    body: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: podName, namespace: AGENT_NAMESPACE, labels: { 'app.kubernetes.io/name': 'gpu-health-agent' } },
      spec: { nodeName, serviceAccountName: AGENT_SA, containers: [{ name: 'agent', image: 'registry.invalid/gpu-health-agent:test' }] },
    },
  });
  const request = async (): Promise<string> => {
    const res = await admin.request<{ status: { token: string } }>('POST', `/api/v1/namespaces/${AGENT_NAMESPACE}/serviceaccounts/${AGENT_SA}/token`, {
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { expirationSeconds: 3600, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: podName, uid: pod.body.metadata.uid } },
      },
    });
    return res.body.status.token;
  };
  const token = await request();
  const tokenFile = join(cluster.state.dir, `${podName}.token`);
  await writeFile(tokenFile, token, { mode: 0o600 });
  const kubeconfig = join(cluster.state.dir, `${podName}.kubeconfig`);
  await writeFile(kubeconfig, [
    'apiVersion: v1', 'kind: Config',
    'clusters:', '- name: test', '  cluster:', `    server: ${cluster.state.server}`, `    certificate-authority: ${cluster.state.caCert}`,
    'users:', '- name: agent', '  user:', `    tokenFile: ${tokenFile}`,
    'contexts:', '- name: agent', '  context:', '    cluster: test', '    user: agent',
    'current-context: agent', '',
  ].join('\n'));
  const connection: KubeConnection = { server: cluster.state.server, ca: await readFile(cluster.state.caCert), tokenFile };
  return { podName, token, tokenFile, kubeconfig, connection, rotate: request };
}

/** Status code of an API error, or 0 for success. */
export async function statusOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 0;
  } catch (err) {
    if (err instanceof KubeApiError) return err.status;
    throw err;
  }
}
