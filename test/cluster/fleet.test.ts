// `gpu-health-agent fleet` against the real API server, run the way a person
// runs it: a kubeconfig whose user is an exec credential plugin (a script that
// prints an ExecCredential, as `aws eks get-token` does) for a ServiceAccount
// that may only read nodes. Nodes in two NodePools carry conditions of every
// kind; the breaker's budget, the 10-minute rule, --watch, a forbidden list, an
// unreachable server and a failing plugin are checked on the real command.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { CONTENT_STRATEGIC_MERGE, type KubeClient } from '../../agent/report/kube/client.ts';
import type { FleetView } from '../../agent/cli/fleet-view.ts';
import { ROOT } from '../../scripts/generate-manifests.ts';
import { createNode, uniqueName, type NodeCondition } from './harness/fixtures.ts';
import { useAgentCluster } from './harness/hooks.ts';

const cluster = useAgentCluster();
const MAIN = join(ROOT, 'agent', 'main.ts');
const M = 60_000;
const TYPE = 'AcceleratedHardwareReady';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function fleet(args: string[], timeoutMs = 30_000): Promise<Run> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [MAIN, 'fleet', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      res({ code: code ?? -1, stdout, stderr });
    });
  });
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** A ServiceAccount (with get/list/watch on nodes, or nothing) and a token for it from the TokenRequest API. */
async function serviceAccountToken(admin: KubeClient, name: string, canReadNodes: boolean): Promise<string> {
  await admin.request('POST', '/api/v1/namespaces/default/serviceaccounts', { body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name } } });
  if (canReadNodes) {
    await admin.request('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', {
      body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name }, rules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] }] },
    });
    await admin.request('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
      body: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
        subjects: [{ kind: 'ServiceAccount', name, namespace: 'default' }],
      },
    });
  }
  const res = await admin.request<{ status: { token: string } }>('POST', `/api/v1/namespaces/default/serviceaccounts/${name}/token`, {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
  });
  return res.body.status.token;
}

/**
 * A kubeconfig whose user is an exec credential plugin: a shell script that logs
 * each call and prints an ExecCredential with the token (or fails like an expired login).
 */
async function execKubeconfig(name: string, token: string | null, server = cluster().state.server): Promise<{ kubeconfig: string; calls: string }> {
  const dir = cluster().state.dir;
  const plugin = join(dir, `${name}-credential.sh`);
  const calls = join(dir, `${name}-credential.calls`);
  const tokenFile = join(dir, `${name}.token`);
  await writeFile(calls, '');
  if (token !== null) await writeFile(tokenFile, token, { mode: 0o600 });
  await writeFile(
    plugin,
    token === null
      ? '#!/bin/sh\necho "$0" >> "$PLUGIN_CALLS"\necho "error: the SSO session has expired; log in again" >&2\nexit 1\n'
      : `#!/bin/sh\necho "$0" >> "$PLUGIN_CALLS"\nprintf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}\\n' "$(cat '${tokenFile}')"\n`,
  );
  await chmod(plugin, 0o755);
  const kubeconfig = join(dir, `${name}.kubeconfig`);
  await writeFile(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: test',
      '  cluster:',
      `    server: ${server}`,
      `    certificate-authority: ${cluster().state.caCert}`,
      'users:',
      '- name: platform-engineer',
      '  user:',
      '    exec:',
      '      apiVersion: client.authentication.k8s.io/v1',
      `      command: ${plugin}`,
      '      interactiveMode: Never',
      '      env:',
      '      - name: PLUGIN_CALLS',
      `        value: ${calls}`,
      'contexts:',
      '- name: fleet',
      '  context:',
      '    cluster: test',
      '    user: platform-engineer',
      'current-context: fleet',
      '',
    ].join('\n'),
  );
  return { kubeconfig, calls };
}

const ok = 'Monitoring for the Nvidia GPU system is active: kernel log watched; NVML watched.';
const gpu = (i: number) => `GPU ${i} (0000:${(0x3b + i).toString(16)}:00.0, GPU-${String(i).repeat(8)}-1111-2222-3333-444444444444)`;
const on = (reason: string, i: number, what: string, action: string) => `${reason} on ${i < 0 ? 'node' : gpu(i)}: ${what} at 2026-01-01T12:00:00.000Z, action ${action}.`;

interface Spec {
  name: string;
  pool: 'a' | 'b';
  condition: { status: string; reason: string; message: string; sinceAgoMs: number; heartbeatAgoMs?: number } | null;
}

let poolA: string;
let poolB: string;
let viewer: { kubeconfig: string; calls: string };
let nodes: Record<string, string>;

// In a describe, so its setup runs after the file's cluster hook.
describe('fleet', () => {
  before(async () => {
    const admin = cluster().admin();
    poolA = uniqueName('gpu-a');
    poolB = uniqueName('gpu-b');
    const now = Date.now();
    // Pool A, 10 nodes: every kind of False reason the agent writes (7 unhealthy > ceil(20% of 10) = 2: blocked),
    // True, Unknown (no repair policy matches it) and one whose agent stopped reporting.
    // Pool B, 3 nodes: one False (1 <= ceil(20% of 3) = 1: at the limit), one without the condition, one True.
    const specs: Spec[] = [
      { name: 'xid79', pool: 'a', condition: { status: 'False', reason: 'NvidiaXID79Error', message: on('NvidiaXID79Error', 0, 'Xid 79', 'RESTART_BM'), sinceAgoMs: 3 * M } },
      { name: 'dbe', pool: 'a', condition: { status: 'False', reason: 'NvidiaDoubleBitError', message: on('NvidiaDoubleBitError', 1, 'ecc-dbe-volatile', 'RESET_GPU'), sinceAgoMs: 12 * M } },
      { name: 'remap', pool: 'a', condition: { status: 'False', reason: 'NvidiaRowRemapFailure', message: on('NvidiaRowRemapFailure', 2, 'row-remap-failure', 'RESET_GPU'), sinceAgoMs: 4 * M } },
      { name: 'sxid', pool: 'a', condition: { status: 'False', reason: 'NvidiaSXID20034Error', message: on('NvidiaSXID20034Error', -1, 'SXid 20034', 'RESET_FABRIC'), sinceAgoMs: 5 * M } },
      { name: 'dcgm', pool: 'a', condition: { status: 'False', reason: 'DCGMHealthCode14', message: on('DCGMHealthCode14', 3, 'DCGM code 14 FAIL', 'CONTACT_SUPPORT'), sinceAgoMs: 6 * M } },
      { name: 'count', pool: 'a', condition: { status: 'False', reason: 'NvidiaDeviceCountMismatch', message: on('NvidiaDeviceCountMismatch', -1, 'device-count-mismatch', 'RESTART_BM'), sinceAgoMs: 7 * M } },
      { name: 'nvlink', pool: 'a', condition: { status: 'False', reason: 'NvidiaNVLinkError', message: `[drill] ${on('NvidiaNVLinkError', 4, 'nvlink-errors', 'RESET_GPU')}`, sinceAgoMs: 8 * M } },
      { name: 'ok', pool: 'a', condition: { status: 'True', reason: 'NvidiaGPUIsReady', message: ok, sinceAgoMs: 600 * M } },
      { name: 'unknown', pool: 'a', condition: { status: 'Unknown', reason: 'GPUHealthUnobservable', message: 'No source can observe the GPUs: kernel log down: EACCES.', sinceAgoMs: 60 * M } },
      { name: 'stale', pool: 'a', condition: { status: 'True', reason: 'NvidiaGPUIsReady', message: ok, sinceAgoMs: 600 * M, heartbeatAgoMs: 45 * M } },
      { name: 'reboot', pool: 'b', condition: { status: 'False', reason: 'NvidiaGPURecoveryActionNodeReboot', message: on('NvidiaGPURecoveryActionNodeReboot', 0, 'recovery action 2', 'RESTART_BM'), sinceAgoMs: M } },
      { name: 'missing', pool: 'b', condition: null },
      { name: 'fine', pool: 'b', condition: { status: 'True', reason: 'NvidiaGPUIsReady', message: ok, sinceAgoMs: 600 * M } },
    ];
    nodes = {};
    await Promise.all(
      specs.map(async (s) => {
        const name = uniqueName(`fleet-${s.name}`);
        nodes[s.name] = name;
        const extra: NodeCondition[] =
          s.condition === null
            ? []
            : [{ type: TYPE, status: s.condition.status, reason: s.condition.reason, message: s.condition.message, lastTransitionTime: iso(now - s.condition.sinceAgoMs), lastHeartbeatTime: iso(now - (s.condition.heartbeatAgoMs ?? M)) }];
        await createNode(admin, name, extra);
        await admin.request('PATCH', `/api/v1/nodes/${name}`, { body: { metadata: { labels: { 'karpenter.sh/nodepool': s.pool === 'a' ? poolA : poolB } } }, contentType: CONTENT_STRATEGIC_MERGE });
      }),
    );
    viewer = await execKubeconfig('fleet-viewer', await serviceAccountToken(admin, uniqueName('fleet-viewer'), true));
  });

  function mine(view: FleetView) {
    const byName = new Map(Object.entries(nodes).map(([k, v]) => [v, k]));
    return {
      rows: new Map(view.rows.filter((r) => byName.has(r.node)).map((r) => [byName.get(r.node) as string, r])),
      a: view.pools.find((p) => p.name === poolA),
      b: view.pools.find((p) => p.name === poolB),
    };
  }

  test('--json through an exec credential plugin: every kind of condition, the repair clock and both pools\' budgets', async () => {
    const run = await fleet(['--kubeconfig', viewer.kubeconfig, '--json']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(await readFile(viewer.calls, 'utf8'), /fleet-viewer-credential\.sh\n/, 'the exec plugin supplied the credential');
    const { rows, a, b } = mine(JSON.parse(run.stdout) as FleetView);
    assert.equal(rows.size, 13, 'all 13 GPU nodes listed');
    assert.deepEqual(
      [...rows].filter(([, r]) => r.status === 'False').map(([k, r]) => [k, r.reason]).sort(),
      [
        ['count', 'NvidiaDeviceCountMismatch'], ['dbe', 'NvidiaDoubleBitError'], ['dcgm', 'DCGMHealthCode14'], ['nvlink', 'NvidiaNVLinkError'],
        ['reboot', 'NvidiaGPURecoveryActionNodeReboot'], ['remap', 'NvidiaRowRemapFailure'], ['sxid', 'NvidiaSXID20034Error'], ['xid79', 'NvidiaXID79Error'],
      ],
    );
    assert.equal(rows.get('xid79')?.gpu, gpu(0));
    assert.equal(rows.get('count')?.gpu, 'node');
    assert.equal(rows.get('nvlink')?.drill, true);
    assert.equal(rows.get('unknown')?.status, 'Unknown');
    assert.equal(rows.get('unknown')?.repair.state, 'none', 'no repair policy matches Unknown');
    assert.equal(rows.get('missing')?.status, null);
    assert.equal(rows.get('stale')?.stale, true);
    assert.equal(rows.get('ok')?.stale, false);
    // Pool A is over budget: its nodes wait however long they have been False.
    assert.deepEqual([a?.nodes, a?.unhealthy, a?.budget, a?.blocked], [10, 7, 2, true]);
    assert.equal(rows.get('dbe')?.repair.state, 'blocked');
    assert.equal(rows.get('xid79')?.repair.state, 'blocked');
    // Pool B is at its limit: its False node's 10 minutes run from lastTransitionTime.
    assert.deepEqual([b?.nodes, b?.unhealthy, b?.budget, b?.blocked], [3, 1, 1, false]);
    const reboot = rows.get('reboot')?.repair;
    assert.equal(reboot?.state, 'waiting');
    assert.ok(reboot?.inMs !== null && reboot!.inMs! > 8 * M && reboot!.inMs! <= 9 * M, `about 9 minutes left: ${reboot?.inMs}`);
  });

  test('the table names each node, its pool, the blocked pool and the node without the condition', async () => {
    const run = await fleet(['--kubeconfig', viewer.kubeconfig]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^NODE +POOL +STATUS +REASON +SINCE +GPU +HEARTBEAT +REPAIR$/m);
    assert.match(run.stdout, new RegExp(`^${nodes.xid79} +${poolA} +False +NvidiaXID79Error +3m +GPU 0 \\(0000:3b:00\\.0\\) +1m +BLOCKED, in [67]m$`, 'm'));
    assert.match(run.stdout, new RegExp(`^${nodes.reboot} +${poolB} +False +NvidiaGPURecoveryActionNodeReboot +1m +GPU 0 \\(0000:3b:00\\.0\\) +1m +in [89]m$`, 'm'));
    assert.match(run.stdout, new RegExp(`^${nodes.missing} +${poolB} +MISSING `, 'm'));
    assert.match(run.stdout, new RegExp(`^${poolA} +NodePool +10 +7 +2 +BLOCKED \\(7 > 2\\)$`, 'm'));
    assert.match(run.stdout, new RegExp(`Repair is blocked in NodePool ${poolA}: 7 of 10 nodes unhealthy, more than the 2 allowed`));
    // Other test files' nodes share the cluster, so the note may name others first.
    assert.match(run.stdout, /^\d+ GPU node\(s\) without AcceleratedHardwareReady \(/m);
  });

  test('--watch keeps it current: a node going False shows, and tips its pool over the budget', async () => {
    const child = spawn(process.execPath, [MAIN, 'fleet', '--kubeconfig', viewer.kubeconfig, '--watch', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    child.stderr.on('data', (c: Buffer) => (err += c));
    const exited = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
    const views = (): FleetView[] => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as FleetView);
    const waitForView = async (pred: (v: ReturnType<typeof mine>) => boolean, what: string): Promise<void> => {
      await cluster().waitFor(async () => views().some((v) => pred(mine(v))), 20_000, `${what} (stderr: ${err})`);
    };
    try {
      await waitForView((v) => v.rows.get('fine')?.status === 'True' && v.b?.blocked === false, 'the first view');
      const now = new Date().toISOString();
      await cluster().admin().request('PATCH', `/api/v1/nodes/${nodes.fine}/status`, {
        body: { status: { conditions: [{ type: TYPE, status: 'False', reason: 'NvidiaXID48Error', message: on('NvidiaXID48Error', 5, 'Xid 48', 'RESET_GPU'), lastTransitionTime: now, lastHeartbeatTime: now }] } },
        contentType: CONTENT_STRATEGIC_MERGE,
      });
      await waitForView((v) => v.rows.get('fine')?.reason === 'NvidiaXID48Error' && v.b?.unhealthy === 2 && v.b.blocked, 'the change to show');
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exited, 0, `Ctrl-C ends it cleanly: ${err}`);
  });

  test('a forbidden list says who was refused and which permission fleet needs', async () => {
    const nobody = uniqueName('fleet-nobody');
    const cfg = await execKubeconfig('fleet-nobody', await serviceAccountToken(cluster().admin(), nobody, false));
    const run = await fleet(['--kubeconfig', cfg.kubeconfig]);
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, new RegExp(`^fleet: forbidden: nodes is forbidden: User "system:serviceaccount:default:${nobody}" cannot list resource "nodes" in API group "" at the cluster scope\\. fleet needs get, list and watch on nodes`));
  });

  test('an unreachable API server, a failing credential plugin and a missing kubeconfig are told plainly', async () => {
    const token = await serviceAccountToken(cluster().admin(), uniqueName('fleet-gone'), true);
    // A port nothing listens on (the harness's own port finder picks free ones the same way).
    const closed = await new Promise<number>((res) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const port = (srv.address() as { port: number }).port;
        srv.close(() => res(port));
      });
    });
    const gone = await execKubeconfig('fleet-gone', token, `https://127.0.0.1:${closed}`);
    const unreachable = await fleet(['--kubeconfig', gone.kubeconfig]);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, new RegExp(`^fleet: cannot reach the API server at https://127\\.0\\.0\\.1:${closed}: connect ECONNREFUSED 127\\.0\\.0\\.1:${closed}\\. Is the cluster up`));

    const expired = await execKubeconfig('fleet-expired', null);
    const failed = await fleet(['--kubeconfig', expired.kubeconfig]);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /^fleet: the kubeconfig's exec credential plugin \(\S+fleet-expired-credential\.sh\) failed: error: the SSO session has expired; log in again$/m);

    const missing = await fleet(['--kubeconfig', join(cluster().state.dir, 'no-such.kubeconfig')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^fleet: cannot use the kubeconfig: ENOENT: no such file or directory/);
    const context = await fleet(['--kubeconfig', viewer.kubeconfig, '--context', 'prod']);
    assert.equal(context.code, 1);
    assert.match(context.stderr, /^fleet: cannot use the kubeconfig: no context "prod" \(it has: fleet\)/);
  });
});
