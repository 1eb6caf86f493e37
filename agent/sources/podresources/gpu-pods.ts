// Pure translation of a pod-resources List answer into "which pods hold which
// GPU". No I/O: the client fetches, this file only reads plain values.
import type { GpuPods, PodRef } from '../../model/pod-ref.ts';

/** The decoded List answer, in the camelCase shape proto-loader produces. */
export interface ListPodResourcesResponse {
  podResources: PodResourcesEntry[];
}

export interface PodResourcesEntry {
  name: string;
  namespace: string;
  containers: ContainerResourcesEntry[];
}

export interface ContainerResourcesEntry {
  name: string;
  devices: ContainerDevicesEntry[];
}

export interface ContainerDevicesEntry {
  resourceName: string;
  deviceIds: string[];
}

/**
 * Resources whose device ids are GPUs: the device plugin's `nvidia.com/gpu`,
 * renamed shared resources (`nvidia.com/gpu.shared` under time-slicing) and MIG
 * slices (`nvidia.com/mig-1g.10gb`; their ids are MIG UUIDs, listed as-is).
 */
export function isNvidiaGpuResource(resourceName: string): boolean {
  return (
    resourceName === 'nvidia.com/gpu' ||
    resourceName.startsWith('nvidia.com/gpu.') ||
    resourceName.startsWith('nvidia.com/mig-')
  );
}

/**
 * Time-slicing and MPS hand out replicas named `<uuid>::<n>`; every replica is
 * the same physical GPU, so the suffix is dropped.
 */
export function physicalDeviceId(deviceId: string): string {
  const cut = deviceId.indexOf('::');
  return cut === -1 ? deviceId : deviceId.slice(0, cut);
}

/** Map each GPU device id to the containers holding it, in the kubelet's order, without duplicates. */
export function gpuPodsFromList(
  response: ListPodResourcesResponse,
  isGpuResource: (resourceName: string) => boolean = isNvidiaGpuResource,
): GpuPods {
  const byGpu = new Map<string, PodRef[]>();
  const seen = new Set<string>();
  for (const pod of response.podResources) {
    for (const container of pod.containers) {
      for (const devices of container.devices) {
        if (!isGpuResource(devices.resourceName)) continue;
        for (const rawId of devices.deviceIds) {
          const gpu = physicalDeviceId(rawId);
          const key = `${gpu}\u0000${pod.namespace}\u0000${pod.name}\u0000${container.name}`;
          if (seen.has(key)) continue;
          seen.add(key);
          let holders = byGpu.get(gpu);
          if (holders === undefined) {
            holders = [];
            byGpu.set(gpu, holders);
          }
          holders.push({ namespace: pod.namespace, name: pod.name, container: container.name });
        }
      }
    }
  }
  return byGpu;
}

/** Device ids the kubelet can hand out for GPU resources (allocated or not), replicas folded. */
export function allocatableGpus(
  devices: ContainerDevicesEntry[],
  isGpuResource: (resourceName: string) => boolean = isNvidiaGpuResource,
): string[] {
  const ids = new Set<string>();
  for (const entry of devices) {
    if (!isGpuResource(entry.resourceName)) continue;
    for (const id of entry.deviceIds) ids.add(physicalDeviceId(id));
  }
  return [...ids].sort();
}
