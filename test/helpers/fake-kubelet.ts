// A kubelet-shaped pod-resources gRPC server on a real unix socket, speaking
// the kubelet's full v1 definition (more fields than the agent's own .proto),
// for tests that run the real agent against it.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const KUBELET_PROTO = fileURLToPath(new URL('../fixtures/podresources/kubelet-v1-full.proto', import.meta.url));

export interface FakePod {
  namespace: string;
  name: string;
  /** container name -> GPU device ids it holds (`nvidia.com/gpu`). */
  containers: Record<string, string[]>;
}

export interface FakeKubelet {
  socket: string;
  listCalls: number;
  pods: FakePod[];
  stop(): Promise<void>;
}

function answer(pods: FakePod[]): object {
  return {
    pod_resources: pods.map((p) => ({
      name: p.name,
      namespace: p.namespace,
      containers: Object.entries(p.containers).map(([name, ids]) => ({
        name,
        devices: ids.length === 0 ? [] : [{ resource_name: 'nvidia.com/gpu', device_ids: ids }],
        cpu_ids: [1],
      })),
    })),
  };
}

export async function startFakeKubelet(socket: string, pods: FakePod[]): Promise<FakeKubelet> {
  const definition = protoLoader.loadSync(KUBELET_PROTO, { keepCase: true, longs: String, defaults: true, arrays: true });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as { v1: { PodResourcesLister: grpc.ServiceClientConstructor } };
  const server = new grpc.Server();
  const state: FakeKubelet = {
    socket,
    listCalls: 0,
    pods,
    stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
  server.addService(pkg.v1.PodResourcesLister.service, {
    List: (_call: unknown, callback: grpc.sendUnaryData<object>) => {
      state.listCalls += 1;
      callback(null, answer(state.pods));
    },
    GetAllocatableResources: (_call: unknown, callback: grpc.sendUnaryData<object>) => callback(null, { devices: [] }),
    Get: (_call: unknown, callback: grpc.sendUnaryData<object>) => callback({ code: grpc.status.UNIMPLEMENTED }),
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve())),
  );
  return state;
}
