// The fleet's objects on the real API server: N GPU Nodes as kubelets register
// them, one agent Pod bound to each, and a ServiceAccount token bound to that
// Pod (so every simulated agent passes the chart's RBAC and admission policy as
// its own node's agent, as in a real cluster); and a watch on every Node that
// records when each one's condition changed.
import type { Cluster } from '../../test/cluster/harness/cluster.ts';
import { AGENT_NAMESPACE, AGENT_SA, createNode } from '../../test/cluster/harness/fixtures.ts';
import type { KubeConnection } from '../../agent/report/kube/connection.ts';
import { openWatch } from '../../test/cluster/harness/watch.ts';

/** Runs `fn` over `items`, `limit` at a time. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T, i);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Node `name` with its agent's Pod and a bound token: the connection that agent would have. */
export async function registerNode(cluster: Cluster, ca: Buffer, name: string): Promise<KubeConnection> {
  const admin = cluster.admin();
  await createNode(admin, name);
  const pod = await admin.request<{ metadata: { uid: string } }>('POST', `/api/v1/namespaces/${AGENT_NAMESPACE}/pods`, {
    body: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `agent-${name}`, namespace: AGENT_NAMESPACE, labels: { 'app.kubernetes.io/name': 'gpu-health-agent' } },
      spec: { nodeName: name, serviceAccountName: AGENT_SA, containers: [{ name: 'agent', image: 'registry.invalid/gpu-health-agent:bench' }] },
    },
  });
  const tok = await admin.request<{ status: { token: string } }>('POST', `/api/v1/namespaces/${AGENT_NAMESPACE}/serviceaccounts/${AGENT_SA}/token`, {
    body: {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: 7200, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: `agent-${name}`, uid: pod.body.metadata.uid } },
    },
  });
  return { server: cluster.state.server, ca, token: tok.body.status.token };
}

export interface ConditionChange {
  at: number;
  status: string;
  reason: string;
}

export interface FleetWatch {
  /** Node name -> every change of the condition (status or reason) seen, in order. */
  changes: Map<string, ConditionChange[]>;
  /** MODIFIED events seen, all nodes. */
  events: number;
  /** When the server ended the watch (under load it may), if it did. */
  endedAt: number | null;
  close(): void;
}

/** One watch on every Node (as a controller such as Karpenter holds), from `resourceVersion`. */
export async function watchFleet(cluster: Cluster, type: string, resourceVersion: string): Promise<FleetWatch> {
  const changes = new Map<string, ConditionChange[]>();
  const w: FleetWatch = { changes, events: 0, endedAt: null, close: () => undefined };
  const req = await openWatch(cluster.state.kubeconfig, `/api/v1/nodes?watch=true&resourceVersion=${resourceVersion}`, (ev) => {
    if (ev.type !== 'MODIFIED') return;
    w.events++;
    const c = ev.object.status.conditions?.find((x) => x.type === type);
    if (c === undefined) return;
    const list = changes.get(ev.object.metadata.name) ?? [];
    const last = list.at(-1);
    if (last === undefined || last.status !== c.status || last.reason !== (c.reason ?? '')) list.push({ at: Date.now(), status: c.status, reason: c.reason ?? '' });
    changes.set(ev.object.metadata.name, list);
  }, { end: () => void (w.endedAt ??= Date.now()) });
  w.close = () => req.destroy();
  return w;
}
