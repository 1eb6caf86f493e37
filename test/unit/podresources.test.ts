// The pod-resources client against a real gRPC server on a real unix socket.
// The server speaks a kubelet-shaped definition with more fields than the
// agent's own .proto (CPU ids, topology, DRA claims), so decoding must skip them.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PodResourcesClient, PROTO_LOADER_OPTIONS, podResourcesDefinition } from '../../agent/sources/podresources/client.ts';
import { PodImpactLookup } from '../../agent/sources/podresources/lookup.ts';
import { allocatableGpus } from '../../agent/sources/podresources/gpu-pods.ts';

const KUBELET_PROTO = fileURLToPath(new URL('../fixtures/podresources/kubelet-v1-full.proto', import.meta.url));

const GPU_A = 'GPU-0a1b2c3d-0000-1111-2222-333344445555';
const GPU_B = 'GPU-9f8e7d6c-aaaa-bbbb-cccc-ddddeeeeffff';
const GPU_C = 'GPU-12345678-abcd-ef01-2345-6789abcdef01';

const numa = { nodes: [{ ID: 1 }] };
const KUBELET_ANSWER = {
  pod_resources: [
    {
      name: 'trainer-0',
      namespace: 'ml',
      containers: [
        {
          name: 'main',
          devices: [
            { resource_name: 'nvidia.com/gpu', device_ids: [GPU_A, GPU_B], topology: numa },
            { resource_name: 'rdma/hca', device_ids: ['mlx5_0'], topology: numa },
          ],
          cpu_ids: [2, 3, 4],
          memory: [{ memory_type: 'memory', size: 1073741824, topology: numa }],
          dynamic_resources: [
            {
              claim_name: 'c',
              claim_namespace: 'ml',
              claim_resources: [{ cdi_devices: [{ name: 'k8s.gpu.nvidia.com/device=gpu-0' }], driver_name: 'gpu.nvidia.com', pool_name: 'n', device_name: 'gpu-0' }],
            },
          ],
        },
        { name: 'sidecar', devices: [], cpu_ids: [] },
      ],
    },
    {
      // time-sliced replicas of one GPU: one physical GPU, listed once per container
      name: 'notebook',
      namespace: 'dev',
      containers: [{ name: 'jupyter', devices: [{ resource_name: 'nvidia.com/gpu.shared', device_ids: [`${GPU_C}::0`, `${GPU_C}::3`] }] }],
    },
    {
      name: 'other',
      namespace: 'dev',
      containers: [{ name: 'c', devices: [{ resource_name: 'nvidia.com/gpu', device_ids: [GPU_A] }] }],
    },
    { name: 'web', namespace: 'default', containers: [{ name: 'nginx', devices: [] }] },
  ],
};

interface FakeKubelet {
  socket: string;
  listCalls: number;
  answer: object;
  hang: boolean;
  server: grpc.Server;
}

let dir = '';

async function startKubelet(socket: string): Promise<FakeKubelet> {
  const definition = protoLoader.loadSync(KUBELET_PROTO, { keepCase: true, longs: String, defaults: true, arrays: true });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as { v1: { PodResourcesLister: grpc.ServiceClientConstructor } };
  const server = new grpc.Server();
  const state: FakeKubelet = { socket, listCalls: 0, answer: KUBELET_ANSWER, hang: false, server };
  server.addService(pkg.v1.PodResourcesLister.service, {
    List: (_call: unknown, callback: grpc.sendUnaryData<object>) => {
      state.listCalls += 1;
      if (!state.hang) callback(null, state.answer);
    },
    GetAllocatableResources: (_call: unknown, callback: grpc.sendUnaryData<object>) => {
      callback(null, {
        devices: [
          { resource_name: 'nvidia.com/gpu', device_ids: [GPU_B, GPU_A], topology: numa },
          { resource_name: 'nvidia.com/gpu.shared', device_ids: [`${GPU_C}::0`, `${GPU_C}::1`] },
          { resource_name: 'rdma/hca', device_ids: ['mlx5_0'] },
        ],
        cpu_ids: [0, 1, 2, 3],
      });
    },
    Get: (_call: unknown, callback: grpc.sendUnaryData<object>) => callback({ code: grpc.status.UNIMPLEMENTED }),
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve())),
  );
  return state;
}

function stop(kubelet: FakeKubelet): Promise<void> {
  return new Promise((resolve) => kubelet.server.tryShutdown(() => resolve()));
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'podres-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

test('List over the unix socket maps GPU UUIDs to the pods and containers holding them', async () => {
  const kubelet = await startKubelet(join(dir, 'a.sock'));
  const client = new PodResourcesClient({ socketPath: kubelet.socket, timeoutMs: 2000 });
  try {
    const lookup = new PodImpactLookup({ lister: client });
    const pods = await lookup.podsFor([GPU_A, GPU_B, GPU_C, 'GPU-unused']);
    assert.deepEqual(pods.get(GPU_A), [
      { namespace: 'ml', name: 'trainer-0', container: 'main' },
      { namespace: 'dev', name: 'other', container: 'c' },
    ]);
    assert.deepEqual(pods.get(GPU_B), [{ namespace: 'ml', name: 'trainer-0', container: 'main' }]);
    assert.deepEqual(pods.get(GPU_C), [{ namespace: 'dev', name: 'notebook', container: 'jupyter' }]);
    assert.deepEqual(pods.get('GPU-unused'), []);
    const all = await lookup.all();
    assert.deepEqual([...all.keys()].sort(), [GPU_A, GPU_B, GPU_C].sort(), 'non-GPU resources (rdma/hca) are not GPUs');
    assert.deepEqual(lookup.status(), { state: 'up', detail: '', fetchedAt: lookup.status().fetchedAt, gpusInUse: 3 });
  } finally {
    client.close();
    await stop(kubelet);
  }
});

test('GetAllocatableResources lists the GPUs the kubelet can hand out, replicas folded', async () => {
  const kubelet = await startKubelet(join(dir, 'b.sock'));
  const client = new PodResourcesClient({ socketPath: kubelet.socket });
  try {
    assert.deepEqual(allocatableGpus(await client.allocatable()), [GPU_A, GPU_B, GPU_C].sort());
  } finally {
    client.close();
    await stop(kubelet);
  }
});

test('answers are reused for maxAge, concurrent askers share one call, then refreshed', async () => {
  const kubelet = await startKubelet(join(dir, 'c.sock'));
  const client = new PodResourcesClient({ socketPath: kubelet.socket });
  let now = 1_000_000;
  const lookup = new PodImpactLookup({ lister: client, maxAgeMs: 10_000, now: () => now });
  try {
    await Promise.all([lookup.podsFor([GPU_A]), lookup.podsFor([GPU_B]), lookup.all()]);
    assert.equal(kubelet.listCalls, 1);
    now += 9_999;
    await lookup.podsFor([GPU_A]);
    assert.equal(kubelet.listCalls, 1);
    kubelet.answer = { pod_resources: [] };
    now += 2;
    assert.deepEqual((await lookup.podsFor([GPU_A])).get(GPU_A), []);
    assert.equal(kubelet.listCalls, 2);
    assert.equal(lookup.status().fetchedAt, now);
  } finally {
    lookup.close();
    await stop(kubelet);
  }
});

test('a kubelet that goes away: status down with the error, last good mapping kept, no throw', async () => {
  const kubelet = await startKubelet(join(dir, 'd.sock'));
  let now = 5_000;
  const lookup = new PodImpactLookup({
    lister: new PodResourcesClient({ socketPath: kubelet.socket, timeoutMs: 1000 }),
    maxAgeMs: 1000,
    now: () => now,
  });
  try {
    assert.equal((await lookup.podsFor([GPU_B])).get(GPU_B)?.length, 1);
    await stop(kubelet);
    rmSync(kubelet.socket, { force: true });
    now += 1000;
    const pods = await lookup.podsFor([GPU_B]);
    assert.deepEqual(pods.get(GPU_B), [{ namespace: 'ml', name: 'trainer-0', container: 'main' }]);
    const status = lookup.status();
    assert.equal(status.state, 'down');
    assert.match(status.detail, /d\.sock/);
    assert.equal(status.fetchedAt, 5_000);
  } finally {
    lookup.close();
  }
});

test('no socket at all: list rejects naming the socket; lookup reports down and answers empty', async () => {
  const missing = join(dir, 'nothing-here.sock');
  const client = new PodResourcesClient({ socketPath: missing, timeoutMs: 1000 });
  try {
    await assert.rejects(client.list(), (error: Error) => error.message.includes(missing));
    const lookup = new PodImpactLookup({ lister: client });
    assert.deepEqual((await lookup.podsFor([GPU_A])).get(GPU_A), []);
    assert.equal(lookup.status().state, 'down');
  } finally {
    client.close();
  }
});

test('a kubelet that never answers is cut off by the deadline', async () => {
  const kubelet = await startKubelet(join(dir, 'e.sock'));
  kubelet.hang = true;
  const client = new PodResourcesClient({ socketPath: kubelet.socket, timeoutMs: 300 });
  try {
    const started = performance.now();
    await assert.rejects(client.list(), /DEADLINE|Deadline/i);
    const took = performance.now() - started;
    assert.ok(took >= 250 && took < 5000, `deadline honoured (${took.toFixed(0)} ms)`);
  } finally {
    client.close();
    kubelet.server.forceShutdown();
  }
});

// Pins the field numbers independently of any .proto text: bytes built by hand
// in the kubelet's wire format must decode through the agent's definition.
test('the agent definition decodes hand-encoded kubelet bytes (field numbers pinned)', () => {
  const str = (field: number, text: string): Buffer => {
    const body = Buffer.from(text);
    return Buffer.concat([Buffer.from([(field << 3) | 2, body.length]), body]);
  };
  const msg = (field: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([(field << 3) | 2, body.length]), body]);
  const devices = Buffer.concat([str(1, 'nvidia.com/gpu'), str(2, GPU_A), msg(3, msg(1, Buffer.from([0x08, 0x01])))]);
  const container = Buffer.concat([str(1, 'cuda'), msg(2, devices), Buffer.from([0x18, 0x07])]);
  const pod = Buffer.concat([str(1, 'p'), str(2, 'ns'), msg(3, container)]);
  const bytes = msg(1, pod);
  const listMethod = (podResourcesDefinition()['v1.PodResourcesLister'] as protoLoader.ServiceDefinition)['List'];
  assert.ok(listMethod);
  assert.equal(listMethod.path, '/v1.PodResourcesLister/List');
  assert.deepEqual(listMethod.responseDeserialize(bytes), {
    podResources: [{ name: 'p', namespace: 'ns', containers: [{ name: 'cuda', devices: [{ resourceName: 'nvidia.com/gpu', deviceIds: [GPU_A] }] }] }],
  });
  assert.equal(PROTO_LOADER_OPTIONS.keepCase, false);
});

test('the compiled agent finds the .proto at its source path next to dist/', async () => {
  const { podResourcesProtoPath } = await import('../../agent/sources/podresources/proto-path.ts');
  assert.equal(
    podResourcesProtoPath('file:///app/dist/agent/sources/podresources/proto-path.js', () => false),
    '/app/agent/sources/podresources/kubelet-podresources-v1.proto',
  );
  const fromSource = podResourcesProtoPath();
  assert.match(fromSource, /agent\/sources\/podresources\/kubelet-podresources-v1\.proto$/);
});
