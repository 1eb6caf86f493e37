// `fleet`'s pure core: Node objects and a time in, rows, pools and notes out,
// computed the way Karpenter's and EKS's repair controllers compute them.
// Messages come from the agent's own verdict code, so parsing follows what the
// agent really writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verdictOf } from '../../agent/health/index.ts';
import { fleetView, gpusInMessage, type NodeConditionLike, type NodeLike } from '../../agent/cli/fleet-view.ts';
import { formatFleet, age } from '../../agent/cli/fleet-format.ts';
import { repairBlocked, repairDeadline, unhealthyBudget } from '../../agent/cli/fleet-repair.ts';
import { at, dcgm, feed, GPU1, M, recovery, T0, watched, xid } from './health-fixtures.ts';

const TYPE = 'AcceleratedHardwareReady';
const OPTS = { conditionType: TYPE, staleAfterMs: 15 * M };
const NOW = T0 + 60 * M;
const iso = (ms: number): string => new Date(ms).toISOString();

function gpuCondition(status: string, reason: string, message: string, since: number, heartbeat = NOW - M): NodeConditionLike {
  return { type: TYPE, status, reason, message, lastTransitionTime: iso(since), lastHeartbeatTime: iso(heartbeat) };
}

function node(name: string, labels: Record<string, string>, conditions: NodeConditionLike[], gpus = 8): NodeLike {
  return {
    metadata: { name, labels },
    status: {
      capacity: gpus > 0 ? { 'nvidia.com/gpu': String(gpus) } : { cpu: '8' },
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', lastTransitionTime: iso(T0 - 600 * M) }, ...conditions],
    },
  };
}

const pool = (name: string) => ({ 'karpenter.sh/nodepool': name });

/** The condition the agent writes for these observations, by its own verdict code. */
function verdict(...obs: Parameters<typeof feed>[1]): { status: string; reason: string; message: string } {
  return verdictOf(feed(watched(), obs).state, NOW);
}

test('the GPU the message names: index, PCI and UUID as the agent writes them; node-level findings; several GPUs', () => {
  const withIdentity = verdict(at({ kind: 'gpu-identity', gpu: { pci: '0000:3b:00.0', uuid: 'GPU-1111', index: 0 } }, T0), at(xid(79), T0), at(xid(48, GPU1), T0 + M));
  assert.deepEqual(gpusInMessage(withIdentity.message), ['GPU 0 (0000:3b:00.0, GPU-1111)', 'GPU (0000:86:00.0)']);
  // Fatal when the PCI bus agrees a GPU is gone: 7 on the bus.
  const bus = at({ kind: 'bus-scan', gpus: Array.from({ length: 7 }, (_, i) => `0000:${(0x10 + i).toString(16)}:00.0`), switches: [], ports: [], aerCounters: [], expectedGpus: null }, T0, 'sysfs');
  const count = verdict(bus, at({ kind: 'device-count', expected: 8, visible: 7 }, T0), at({ kind: 'device-count', expected: 8, visible: 7 }, T0 + M));
  assert.equal(count.reason, 'NvidiaDeviceCountMismatch');
  assert.deepEqual(gpusInMessage(count.message), ['node']);
  const warning = verdict(at(xid(13), T0));
  assert.equal(warning.status, 'True');
  assert.deepEqual(gpusInMessage(warning.message), ['GPU (0000:3b:00.0)'], 'a True message names the latest warning\'s GPU');
  assert.deepEqual(gpusInMessage('Monitoring for the Nvidia GPU system is active: kernel log watched.'), []);
});

test('rows: every kind of condition, its reason, since, GPU and heartbeat; problems sort first', () => {
  const x79 = verdict(at(xid(79), T0));
  const dbe = verdict(at(dcgm(4, 'fail'), T0));
  const reboot = verdict(at(recovery(2), T0));
  const dcgmFail = verdict(at(dcgm(14, 'fail'), T0));
  const nodes = [
    node('a-ok', pool('gpu-a'), [gpuCondition('True', 'NvidiaGPUIsReady', 'Monitoring for the Nvidia GPU system is active: kernel log watched.', T0 - 100 * M)]),
    node('a-xid79', pool('gpu-a'), [gpuCondition('False', x79.reason, x79.message, NOW - 3 * M)]),
    node('a-dbe', pool('gpu-a'), [gpuCondition('False', dbe.reason, dbe.message, NOW - 12 * M)]),
    node('b-reboot', pool('gpu-b'), [gpuCondition('False', reboot.reason, reboot.message, NOW - M)]),
    node('b-dcgm', pool('gpu-b'), [gpuCondition('False', dcgmFail.reason, dcgmFail.message, NOW - 2 * M)]),
    node('b-unknown', pool('gpu-b'), [gpuCondition('Unknown', 'GPUHealthUnobservable', 'No source can observe the GPUs: kernel log down.', NOW - 30 * M)]),
    node('b-missing', pool('gpu-b'), []),
    node('b-stale', pool('gpu-b'), [gpuCondition('True', 'NvidiaGPUIsReady', 'ok', T0 - 100 * M, NOW - 40 * M)]),
    node('cpu-only', pool('gpu-b'), [], 0),
  ];
  const v = fleetView(nodes, NOW, OPTS);
  assert.deepEqual(
    v.rows.map((r) => [r.node, r.status, r.reason]),
    [
      ['a-dbe', 'False', 'NvidiaDoubleBitError'],
      ['a-xid79', 'False', 'NvidiaXID79Error'],
      ['b-dcgm', 'False', 'DCGMHealthCode14'],
      ['b-reboot', 'False', 'NvidiaGPURecoveryActionNodeReboot'],
      ['b-unknown', 'Unknown', 'GPUHealthUnobservable'],
      ['b-missing', null, null],
      ['a-ok', 'True', 'NvidiaGPUIsReady'],
      ['b-stale', 'True', 'NvidiaGPUIsReady'],
    ],
    'GPU nodes only (cpu-only has no GPU), False first',
  );
  const row = (n: string) => v.rows.find((r) => r.node === n)!;
  assert.equal(row('a-xid79').since, iso(NOW - 3 * M));
  assert.equal(row('a-xid79').gpu, 'GPU (0000:3b:00.0)');
  assert.equal(row('a-xid79').pool?.name, 'gpu-a');
  assert.equal(row('b-stale').stale, true);
  assert.equal(row('b-stale').heartbeatAgeMs, 40 * M);
  assert.equal(row('a-ok').stale, false);
  assert.equal(row('b-missing').heartbeat, null);
  assert.match(v.notes.join('\n'), /1 GPU node\(s\) without AcceleratedHardwareReady \(b-missing\)/);
  assert.match(v.notes.join('\n'), /1 node\(s\) whose agent is not reporting \(heartbeat older than 15m\): b-stale/);
});

test('the 10-minute rule: from lastTransitionTime, waiting then due; the earliest policy wins; Unknown and True never', () => {
  const x = verdict(at(xid(79), T0));
  const nodes = [
    node('fresh', pool('p'), [gpuCondition('False', x.reason, x.message, NOW - 3 * M)]),
    node('overdue', pool('p'), [gpuCondition('False', x.reason, x.message, NOW - 12 * M)]),
    node('unknown', pool('p'), [gpuCondition('Unknown', 'GPUHealthUnobservable', 'No source can observe the GPUs.', NOW - 300 * M)]),
    ...Array.from({ length: 10 }, (_, i) => node(`ok-${i}`, pool('p'), [gpuCondition('True', 'NvidiaGPUIsReady', 'ok', T0)])),
  ];
  const v = fleetView(nodes, NOW, OPTS);
  const repair = (n: string) => v.rows.find((r) => r.node === n)!.repair;
  assert.deepEqual(repair('fresh'), { state: 'waiting', at: iso(NOW + 7 * M), inMs: 7 * M, condition: 'AcceleratedHardwareReady=False' });
  assert.deepEqual(repair('overdue'), { state: 'due', at: iso(NOW - 2 * M), inMs: -2 * M, condition: 'AcceleratedHardwareReady=False' });
  assert.equal(repair('unknown').state, 'none', 'no AWS policy matches AcceleratedHardwareReady=Unknown');
  assert.equal(repair('ok-0').state, 'none');
  // Ready=False for 25 minutes (30m toleration) ends before a GPU False of 2 minutes (10m).
  const d = repairDeadline([
    { type: 'Ready', status: 'False', lastTransitionTime: iso(NOW - 25 * M) },
    { type: TYPE, status: 'False', lastTransitionTime: iso(NOW - 2 * M) },
  ]);
  assert.deepEqual(d, { type: 'Ready', status: 'False', at: NOW + 5 * M });
  // A custom --condition-type is shown, but the controllers still only know theirs.
  const custom = fleetView([node('c', pool('p'), [{ ...gpuCondition('False', x.reason, x.message, NOW - 20 * M), type: 'GPURehearsal' }])], NOW, { ...OPTS, conditionType: 'GPURehearsal' });
  assert.equal(custom.rows[0]?.status, 'False');
  assert.equal(custom.rows[0]?.repair.state, 'none');
});

test('the repair budget per NodePool: 20% rounded up, every matching node counted whatever its duration or kind of node', () => {
  assert.deepEqual([1, 3, 5, 6, 10, 11, 100].map((n) => unhealthyBudget('karpenter', n)), [1, 1, 1, 2, 2, 3, 20]);
  assert.equal(repairBlocked('karpenter', 1, 3), false, 'one unhealthy node never stops a small pool');
  assert.equal(repairBlocked('karpenter', 2, 5), true);
  assert.equal(repairBlocked('karpenter', 2, 6), false);
  const x = verdict(at(xid(48), T0));
  const nodes = [
    // gpu-a: 5 nodes; one GPU False for a second and a CPU node Ready=Unknown: 2 > ceil(20% of 5) = 1.
    node('a1', pool('gpu-a'), [gpuCondition('False', x.reason, x.message, NOW - 1000)]),
    node('a2', pool('gpu-a'), [gpuCondition('True', 'NvidiaGPUIsReady', 'ok', T0)]),
    node('a3', pool('gpu-a'), [gpuCondition('True', 'NvidiaGPUIsReady', 'ok', T0)]),
    node('a4', pool('gpu-a'), [gpuCondition('True', 'NvidiaGPUIsReady', 'ok', T0)]),
    { metadata: { name: 'a5-cpu', labels: pool('gpu-a') }, status: { conditions: [{ type: 'Ready', status: 'Unknown', lastTransitionTime: iso(NOW) }] } },
    // gpu-b: 3 nodes, one unhealthy: within ceil(20% of 3) = 1. Unknown on the GPU condition is no match.
    node('b1', pool('gpu-b'), [gpuCondition('False', x.reason, x.message, NOW - 20 * M)]),
    node('b2', pool('gpu-b'), [gpuCondition('Unknown', 'GPUHealthUnobservable', 'x', NOW - 20 * M)]),
    node('b3', pool('gpu-b'), [gpuCondition('True', 'NvidiaGPUIsReady', 'ok', T0)]),
  ];
  const v = fleetView(nodes, NOW, OPTS);
  assert.deepEqual(
    v.pools.map((p) => [p.kind, p.name, p.nodes, p.gpuNodes, p.unhealthy, p.budget, p.blocked]),
    [
      ['karpenter', 'gpu-a', 5, 4, 2, 1, true],
      ['karpenter', 'gpu-b', 3, 3, 1, 1, false],
    ],
  );
  assert.equal(v.rows.find((r) => r.node === 'a1')?.repair.state, 'blocked');
  assert.equal(v.rows.find((r) => r.node === 'b1')?.repair.state, 'due');
  assert.match(v.notes.join('\n'), /Repair is blocked in NodePool gpu-a: 2 of 5 nodes unhealthy, more than the 1 allowed/);
});

test('EKS managed node groups: blocked past 5 unhealthy nodes that are also more than 20%; nodes in no pool have no controller', () => {
  assert.deepEqual([1, 10, 25, 26, 40].map((n) => unhealthyBudget('eks-nodegroup', n)), [5, 5, 5, 5, 8]);
  assert.equal(repairBlocked('eks-nodegroup', 5, 5), false, 'all 5 of 5: not more than 5');
  assert.equal(repairBlocked('eks-nodegroup', 6, 10), true);
  assert.equal(repairBlocked('eks-nodegroup', 6, 40), false, '6 of 40 is 15%');
  const x = verdict(at(xid(79), T0));
  const ng = { 'eks.amazonaws.com/nodegroup': 'p5-ng' };
  const nodes = [
    ...Array.from({ length: 6 }, (_, i) => node(`bad-${i}`, ng, [gpuCondition('False', x.reason, x.message, NOW - 11 * M)])),
    ...Array.from({ length: 4 }, (_, i) => node(`good-${i}`, ng, [gpuCondition('True', 'NvidiaGPUIsReady', 'ok', T0)])),
    node('loose', {}, [gpuCondition('False', x.reason, x.message, NOW - 11 * M)]),
  ];
  const v = fleetView(nodes, NOW, OPTS);
  assert.deepEqual(v.pools.map((p) => [p.kind, p.name, p.unhealthy, p.budget, p.blocked]), [['eks-nodegroup', 'p5-ng', 6, 5, true]]);
  assert.equal(v.rows.find((r) => r.node === 'loose')?.repair.state, 'no-controller');
  assert.equal(v.rows.find((r) => r.node === 'loose')?.pool, null);
});

test('the table: status, reason, age, GPU, heartbeat and repair columns, then pools and notes', () => {
  const x = verdict(at({ kind: 'gpu-identity', gpu: { pci: '0000:3b:00.0', uuid: 'GPU-1111', index: 0 } }, T0), at(xid(79), T0, 'kmsg', true));
  const nodes = [
    node('n1', pool('gpu-a'), [gpuCondition('False', x.reason, x.message, NOW - 3 * M)]),
    node('n2', pool('gpu-a'), []),
    node('n3', pool('gpu-a'), [gpuCondition('True', 'NvidiaGPUIsReady', 'ok', T0 - 3 * 24 * 60 * M, NOW - 20 * M)]),
  ];
  const text = formatFleet(fleetView(nodes, NOW, OPTS));
  const lines = text.split('\n');
  assert.match(lines[0]!, /^NODE +POOL +STATUS +REASON +SINCE +GPU +HEARTBEAT +REPAIR$/);
  assert.match(lines[1]!, /^n1 +gpu-a +False +NvidiaXID79Error \[drill\] +3m +GPU 0 \(0000:3b:00\.0\) +1m +in 7m$/);
  assert.match(lines[2]!, /^n2 +gpu-a +MISSING +- +- +- +- +-$/);
  assert.match(lines[3]!, /^n3 +gpu-a +True +NvidiaGPUIsReady +3d1h +- +20m STALE +-$/);
  assert.match(text, /\nPOOL +KIND +NODES +UNHEALTHY +BUDGET +REPAIR\ngpu-a +NodePool +3 +1 +1 +ok \(at the limit: one more blocks repair\)\n/);
  assert.match(text, /without AcceleratedHardwareReady \(n2\)/);
  assert.deepEqual([45_000, 12 * M, 184 * M, 49 * 60 * M].map(age), ['45s', '12m', '3h4m', '2d1h']);
  assert.match(formatFleet(fleetView([], NOW, OPTS)), /^No GPU nodes/);
});
