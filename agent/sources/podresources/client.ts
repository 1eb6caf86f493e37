// Client for the kubelet's pod-resources API (v1 PodResourcesLister) over its
// unix socket. Every call has a deadline so a wedged kubelet never stalls the
// agent; errors surface as rejected promises and the caller decides.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ContainerDevicesEntry, ListPodResourcesResponse } from './gpu-pods.ts';
import { podResourcesProtoPath } from './proto-path.ts';

export const DEFAULT_POD_RESOURCES_SOCKET = '/var/lib/kubelet/pod-resources/kubelet.sock';

export interface PodResourcesClientOptions {
  /** Path of the kubelet's socket; default /var/lib/kubelet/pod-resources/kubelet.sock. */
  socketPath?: string;
  /** Deadline of each call; default 5000 ms. */
  timeoutMs?: number;
}

/** What the lookup needs from a client; tests and the real client both satisfy it. */
export interface PodResourcesLister {
  list(): Promise<ListPodResourcesResponse>;
  allocatable(): Promise<ContainerDevicesEntry[]>;
  close(): void;
}

const SERVICE = 'v1.PodResourcesLister';
// The kubelet allows answers up to 16 MiB; grpc-js would stop at 4 MiB.
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** Loader options shared with tests: camelCase fields, empty arrays for absent repeated fields. */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  arrays: true,
  oneofs: true,
};

let cachedDefinition: protoLoader.PackageDefinition | null = null;

export function podResourcesDefinition(): protoLoader.PackageDefinition {
  cachedDefinition ??= protoLoader.loadSync(podResourcesProtoPath(), PROTO_LOADER_OPTIONS);
  return cachedDefinition;
}

function method(name: string): protoLoader.MethodDefinition<object, object> {
  const service = podResourcesDefinition()[SERVICE] as protoLoader.ServiceDefinition | undefined;
  const found = service?.[name];
  if (found === undefined) throw new Error(`pod-resources proto lacks ${SERVICE}/${name}`);
  return found;
}

export class PodResourcesClient implements PodResourcesLister {
  readonly socketPath: string;
  readonly timeoutMs: number;
  private readonly client: grpc.Client;

  constructor(options: PodResourcesClientOptions = {}) {
    this.socketPath = options.socketPath ?? DEFAULT_POD_RESOURCES_SOCKET;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.client = new grpc.Client(`unix://${this.socketPath}`, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      // One call every few seconds at most: no keepalive pings against the kubelet.
      'grpc.enable_retries': 0,
    });
  }

  async list(): Promise<ListPodResourcesResponse> {
    return (await this.call('List')) as ListPodResourcesResponse;
  }

  async allocatable(): Promise<ContainerDevicesEntry[]> {
    const answer = (await this.call('GetAllocatableResources')) as { devices: ContainerDevicesEntry[] };
    return answer.devices;
  }

  close(): void {
    this.client.close();
  }

  private call(name: string): Promise<object> {
    const definition = method(name);
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        definition.path,
        definition.requestSerialize,
        definition.responseDeserialize,
        {},
        new grpc.Metadata(),
        { deadline: Date.now() + this.timeoutMs },
        (error, value) => {
          if (error) reject(new Error(`pod-resources ${name} via ${this.socketPath}: ${error.details || error.message}`));
          else if (value === undefined) reject(new Error(`pod-resources ${name}: empty answer`));
          else resolve(value);
        },
      );
    });
  }
}
