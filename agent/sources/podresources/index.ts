// Pod impact: which pods hold which GPU, from the kubelet's pod-resources API.
export { PodResourcesClient, DEFAULT_POD_RESOURCES_SOCKET, type PodResourcesLister } from './client.ts';
export { PodImpactLookup, type PodImpactStatus, type PodImpactOptions } from './lookup.ts';
export { gpuPodsFromList, allocatableGpus, isNvidiaGpuResource, physicalDeviceId } from './gpu-pods.ts';
