// How many physical GPUs the Node advertises, for the device-count check when
// no --expected-gpus is configured. The NVIDIA device plugin publishes
// `nvidia.com/gpu` capacity; with time-slicing or MPS it publishes replicas
// (GPUs x replicas) and GPU feature discovery labels the node with
// `nvidia.com/gpu.replicas`; with the MIG "single" strategy it counts MIG
// slices. A wrong count here would mark a healthy node broken, so anything
// that is not plainly whole GPUs gives null (no count check) instead.
import type { NodeLike } from './condition.ts';

export const GPU_RESOURCE = 'nvidia.com/gpu';

export function expectedGpusFromNode(node: NodeLike | undefined): number | null {
  const raw = node?.status?.capacity?.[GPU_RESOURCE];
  if (raw === undefined || !/^\d+$/.test(raw)) return null;
  const capacity = Number(raw);
  if (capacity <= 0) return null;
  const labels = node?.metadata?.labels ?? {};
  if (labels['nvidia.com/mig.strategy'] === 'single') return null;
  const replicasLabel = labels['nvidia.com/gpu.replicas'];
  if (replicasLabel === undefined || replicasLabel === '' || replicasLabel === '1') return capacity;
  if (!/^\d+$/.test(replicasLabel)) return null;
  const replicas = Number(replicasLabel);
  // Replicas that do not divide the capacity: the labels and the capacity disagree; do not guess.
  return replicas > 0 && capacity % replicas === 0 ? capacity / replicas : null;
}
