// Least privilege proved on the real API server: the API server itself
// (SubjectAccessReview as admin, and `kubectl auth can-i --as`) says what the
// agent's ServiceAccount may do with deploy/rbac, and the admission policy in
// deploy/admission narrows its one write to its own Node and its own condition.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CONTENT_STRATEGIC_MERGE, KubeClient } from '../../agent/report/kube/client.ts';
import { AGENT_NAMESPACE, AGENT_USER, agentIdentity, condition, createNode, getNode, NODE_NAME_EXTRA, statusOf, uniqueName } from './harness/fixtures.ts';
import { useAgentCluster } from './harness/hooks.ts';

const cluster = useAgentCluster();

interface Attr { verb: string; resource: string; group?: string; subresource?: string; namespace?: string; name?: string }

async function allowed(a: Attr): Promise<boolean> {
  const res = await cluster().admin().request<{ status: { allowed: boolean } }>('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
    body: {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: AGENT_USER,
        groups: ['system:serviceaccounts', `system:serviceaccounts:${AGENT_NAMESPACE}`, 'system:authenticated'],
        resourceAttributes: { group: a.group ?? '', ...a },
      },
    },
  });
  return res.body.status.allowed;
}

const label = (a: Attr): string => `${a.verb} ${a.group ? `${a.group}/` : ''}${a.resource}${a.subresource ? `/${a.subresource}` : ''}${a.namespace ? ` in ${a.namespace}` : ' cluster-wide'}`;

describe('RBAC (deploy/rbac)', () => {
  const granted: Attr[] = [
    { verb: 'get', resource: 'nodes', name: 'gpu-node-1' },
    // What the node watch is (a watch with fieldSelector metadata.name, as the kubelet keeps on its own Node).
    { verb: 'watch', resource: 'nodes', name: 'gpu-node-1' },
    { verb: 'patch', resource: 'nodes', subresource: 'status', name: 'gpu-node-1' },
    { verb: 'create', group: 'events.k8s.io', resource: 'events', namespace: 'default' },
    { verb: 'patch', group: 'events.k8s.io', resource: 'events', namespace: 'default' },
  ];
  const denied: Attr[] = [
    { verb: 'list', resource: 'nodes' },
    { verb: 'list', resource: 'nodes', name: 'gpu-node-1' },
    { verb: 'update', resource: 'nodes', name: 'gpu-node-1' },
    { verb: 'patch', resource: 'nodes', name: 'gpu-node-1' },
    { verb: 'delete', resource: 'nodes', name: 'gpu-node-1' },
    { verb: 'create', resource: 'nodes' },
    { verb: 'update', resource: 'nodes', subresource: 'status', name: 'gpu-node-1' },
    { verb: 'get', resource: 'secrets', namespace: AGENT_NAMESPACE },
    { verb: 'list', resource: 'secrets' },
    { verb: 'get', resource: 'configmaps', namespace: 'kube-system' },
    { verb: 'list', resource: 'pods' },
    { verb: 'create', resource: 'pods', namespace: AGENT_NAMESPACE },
    { verb: 'create', resource: 'pods', subresource: 'eviction', namespace: 'default' },
    { verb: 'delete', resource: 'pods', namespace: 'default' },
    { verb: 'create', resource: 'serviceaccounts', subresource: 'token', namespace: AGENT_NAMESPACE },
    { verb: 'create', group: 'events.k8s.io', resource: 'events', namespace: 'kube-system' },
    { verb: 'delete', group: 'events.k8s.io', resource: 'events', namespace: 'default' },
    { verb: 'update', group: 'events.k8s.io', resource: 'events', namespace: 'default' },
    { verb: 'create', resource: 'events', namespace: 'default' },
    { verb: 'patch', group: 'admissionregistration.k8s.io', resource: 'validatingadmissionpolicies' },
    { verb: 'delete', group: 'admissionregistration.k8s.io', resource: 'validatingadmissionpolicybindings' },
    { verb: 'escalate', group: 'rbac.authorization.k8s.io', resource: 'clusterroles' },
    { verb: 'impersonate', resource: 'users' },
    { verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace: 'kube-node-lease' },
  ];

  test('SubjectAccessReview: exactly what the agent uses is allowed', async () => {
    for (const a of granted) assert.equal(await allowed(a), true, `${label(a)} should be allowed`);
    for (const a of denied) assert.equal(await allowed(a), false, `${label(a)} should be denied`);
  });

  test('kubectl auth can-i --as agrees', async () => {
    const as = [`--as=${AGENT_USER}`, '--as-group=system:serviceaccounts', `--as-group=system:serviceaccounts:${AGENT_NAMESPACE}`, '--as-group=system:authenticated'];
    const can = async (...args: string[]): Promise<string> => (await cluster().kubectl(['auth', 'can-i', ...args, ...as])).stdout.trim();
    assert.equal(await can('patch', 'nodes', '--subresource=status'), 'yes');
    assert.equal(await can('update', 'nodes', '--subresource=status'), 'no');
    assert.equal(await can('get', 'nodes'), 'yes');
    assert.equal(await can('watch', 'nodes'), 'yes');
    assert.equal(await can('list', 'nodes'), 'no');
    assert.equal(await can('create', 'events.events.k8s.io', '-n', 'default'), 'yes');
    assert.equal(await can('patch', 'nodes'), 'no');
    assert.equal(await can('delete', 'nodes'), 'no');
    assert.equal(await can('get', 'secrets', '-n', AGENT_NAMESPACE), 'no');
    assert.equal(await can('list', 'pods', '-A'), 'no');
    // The whole list, as the API server computes it for that identity in the events namespace.
    const list = await cluster().kubectl(['auth', 'can-i', '--list', '-n', 'default', ...as]);
    assert.equal(list.code, 0, list.stderr);
    const rows = list.stdout.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/));
    const extra = rows.filter(([resource]) => !['nodes', 'nodes/status', 'events.events.k8s.io',
      // Granted to every authenticated user by the default system:basic-user / discovery roles:
      'selfsubjectreviews.authentication.k8s.io', 'selfsubjectaccessreviews.authorization.k8s.io', 'selfsubjectrulesreviews.authorization.k8s.io'].includes(resource!) && !resource!.startsWith('['));
    assert.deepEqual(extra, [], `unexpected grants:\n${list.stdout}`);
    const verbs = (resource: string, out: string): string | undefined => out.split('\n').find((l) => l.startsWith(`${resource} `))?.match(/\[[^\]]*\]\s*$/)?.[0].trim();
    assert.equal(verbs('nodes', list.stdout), '[get watch]');
    assert.equal(verbs('nodes/status', list.stdout), '[patch]');
    assert.equal(verbs('events.events.k8s.io', list.stdout), '[create patch]');
    const elsewhere = await cluster().kubectl(['auth', 'can-i', '--list', '-n', 'kube-system', ...as]);
    assert.equal(verbs('events.events.k8s.io', elsewhere.stdout), undefined, 'no Events outside the events namespace');
  });
});

describe('admission policy (deploy/admission) with a Pod-bound token', () => {
  const own = (status: string, reason: string) => [{ type: 'AcceleratedHardwareReady', status, reason, message: 'test', lastHeartbeatTime: new Date().toISOString().replace(/\.\d+Z/, 'Z'), lastTransitionTime: '2025-06-01T00:00:00Z' }];
  let mine: string;
  let other: string;
  let agent: KubeClient;
  const patch = (node: string, body: unknown): Promise<unknown> => agent.request('PATCH', `/api/v1/nodes/${node}/status`, { body, contentType: CONTENT_STRATEGIC_MERGE });

  before(async () => {
    mine = uniqueName('vap-mine');
    other = uniqueName('vap-other');
    await createNode(cluster().admin(), mine);
    await createNode(cluster().admin(), other);
    agent = new KubeClient((await agentIdentity(cluster(), mine)).connection);
    // A policy binding is enforced once the API server has compiled it: wait, within a bound.
    await cluster().waitFor(async () => (await statusOf(patch(other, { status: { conditions: own('True', 'Probe') } }))) === 403, 30_000, 'the admission policy to enforce');
  });
  after(() => agent?.close());

  test('the token carries the node-name claim the policy checks', async () => {
    const res = await agent.request<{ status: { userInfo: { username: string; extra?: Record<string, string[]> } } }>('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } });
    assert.equal(res.body.status.userInfo.username, AGENT_USER);
    assert.deepEqual(res.body.status.userInfo.extra?.[NODE_NAME_EXTRA], [mine]);
  });

  test('the agent\'s own condition on its own node is allowed', async () => {
    assert.equal(await statusOf(patch(mine, { status: { conditions: own('False', 'NvidiaXID79Error') } })), 0);
    assert.equal(condition(await getNode(cluster().admin(), mine), 'AcceleratedHardwareReady')?.reason, 'NvidiaXID79Error');
  });

  test('another node is denied', async () => {
    const before = await getNode(cluster().admin(), other);
    assert.equal(await statusOf(patch(other, { status: { conditions: own('False', 'NvidiaXID79Error') } })), 403);
    assert.equal((await getNode(cluster().admin(), other)).metadata.resourceVersion, before.metadata.resourceVersion);
  });

  test('altering Ready (or adding any other condition) is denied, even together with its own', async () => {
    const ready = { type: 'Ready', status: 'False', reason: 'KubeletNotReady', message: 'agent says so' };
    assert.equal(await statusOf(patch(mine, { status: { conditions: [ready] } })), 403);
    assert.equal(await statusOf(patch(mine, { status: { conditions: [...own('True', 'NvidiaGPUIsReady'), ready] } })), 403);
    assert.equal(await statusOf(patch(mine, { status: { conditions: [{ type: 'KernelReady', status: 'False', reason: 'X', message: 'y' }] } })), 403);
    // Deleting Ready through the SMP $patch directive is a change too.
    assert.equal(await statusOf(patch(mine, { status: { conditions: [{ type: 'Ready', $patch: 'delete' }] } })), 403);
    assert.equal(condition(await getNode(cluster().admin(), mine), 'Ready')?.status, 'True');
  });

  test('the agent can watch its Node (the request the node watch makes) but not list nodes', async () => {
    const selector = `fieldSelector=${encodeURIComponent(`metadata.name=${mine}`)}`;
    const w = agent.watch(`/api/v1/nodes?watch=1&${selector}&timeoutSeconds=1`, () => undefined, { idleMs: 10_000, maxLineBytes: 1 << 20 });
    await w.ended; // the server accepted it and ended it after its timeout (a refusal rejects)
    assert.equal(await statusOf(agent.request('GET', `/api/v1/nodes?${selector}`)), 403);
    assert.equal(await statusOf(agent.request('GET', '/api/v1/nodes')), 403);
  });

  test('capacity, labels and the rest of the Node are out of reach through nodes/status', async () => {
    assert.equal(await statusOf(patch(mine, { status: { capacity: { 'nvidia.com/gpu': '16' } } })), 403);
    assert.equal(await statusOf(patch(mine, { metadata: { labels: { 'node.kubernetes.io/exclude-from-external-load-balancers': 'true' } } })), 403);
    assert.equal(await statusOf(agent.request('PATCH', `/api/v1/nodes/${mine}`, { body: { spec: { unschedulable: true } }, contentType: CONTENT_STRATEGIC_MERGE })), 403);
    assert.equal(await statusOf(agent.request('DELETE', `/api/v1/nodes/${mine}`)), 403);
  });
});
