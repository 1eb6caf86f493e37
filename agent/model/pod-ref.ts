// Which workload holds a GPU, as the kubelet's pod-resources API tells it.
// Reporters use it to name affected pods in Events and the debug endpoint.

export interface PodRef {
  namespace: string;
  name: string;
  container: string;
}

/** GPU UUID (`GPU-...`, as the NVIDIA device plugin names devices) -> the pods that hold it. */
export type GpuPods = ReadonlyMap<string, readonly PodRef[]>;

/** The pod-resources lookup as the agent uses it (sources/podresources); the pod-impact decorator and /debug/state ask it. */
export interface PodLookup {
  /** Pods per GPU UUID; never rejects (a failed call keeps the last answer and says so in status()). */
  podsFor(gpuUuids: readonly string[]): Promise<Map<string, PodRef[]>>;
  status(): { state: 'unknown' | 'up' | 'down'; detail: string; fetchedAt: number | null };
  close(): void;
}
