// Which workload holds a GPU, as the kubelet's pod-resources API tells it.
// Reporters use it to name affected pods in Events and the debug endpoint.

export interface PodRef {
  namespace: string;
  name: string;
  container: string;
}

/** GPU UUID (`GPU-...`, as the NVIDIA device plugin names devices) -> the pods that hold it. */
export type GpuPods = ReadonlyMap<string, readonly PodRef[]>;
