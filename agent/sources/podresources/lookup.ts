// Answers "which pods hold these GPUs?" for Events and the debug endpoint.
// The kubelet is asked at most once per `maxAgeMs` (concurrent askers share one
// call); when it cannot be reached the last good answer is kept and the error
// is reported, never thrown: pod impact is a courtesy, not evidence.
import type { GpuPods, PodRef } from '../../model/pod-ref.ts';
import type { PodResourcesLister } from './client.ts';
import { gpuPodsFromList, isNvidiaGpuResource } from './gpu-pods.ts';
import { errorText } from '../../model/text.ts';

export interface PodImpactStatus {
  state: 'unknown' | 'up' | 'down';
  /** Error text of the last failed call; '' when the last call worked. */
  detail: string;
  /** When the mapping in hand was fetched; ms since epoch, null before the first answer. */
  fetchedAt: number | null;
  /** GPUs held by at least one container in that mapping. */
  gpusInUse: number;
}

export interface PodImpactOptions {
  lister: PodResourcesLister;
  /** Reuse an answer younger than this; default 10 s. */
  maxAgeMs?: number;
  now?: () => number;
  isGpuResource?: (resourceName: string) => boolean;
}

export class PodImpactLookup {
  private readonly lister: PodResourcesLister;
  private readonly maxAgeMs: number;
  private readonly now: () => number;
  private readonly isGpuResource: (resourceName: string) => boolean;
  private mapping: GpuPods = new Map();
  private fetchedAt: number | null = null;
  private attemptedAt: number | null = null;
  private lastError = '';
  private inFlight: Promise<void> | null = null;

  constructor(options: PodImpactOptions) {
    this.lister = options.lister;
    this.maxAgeMs = options.maxAgeMs ?? 10_000;
    this.now = options.now ?? Date.now;
    this.isGpuResource = options.isGpuResource ?? isNvidiaGpuResource;
  }

  /** Pods per requested GPU UUID (GPUs nobody holds map to []). Never rejects. */
  async podsFor(gpuUuids: readonly string[]): Promise<Map<string, PodRef[]>> {
    await this.refresh();
    const answer = new Map<string, PodRef[]>();
    for (const uuid of gpuUuids) answer.set(uuid, [...(this.mapping.get(uuid) ?? [])]);
    return answer;
  }

  /** The whole mapping, refreshed if stale. Never rejects. */
  async all(): Promise<GpuPods> {
    await this.refresh();
    return this.mapping;
  }

  status(): PodImpactStatus {
    return {
      state: this.fetchedAt === null && this.lastError === '' ? 'unknown' : this.lastError === '' ? 'up' : 'down',
      detail: this.lastError,
      fetchedAt: this.fetchedAt,
      gpusInUse: this.mapping.size,
    };
  }

  close(): void {
    this.lister.close();
  }

  private refresh(): Promise<void> {
    // A failed call is not retried sooner than a good answer is refreshed, so a
    // storm of Events cannot hammer a kubelet that is down.
    if (this.attemptedAt !== null && this.now() - this.attemptedAt < this.maxAgeMs) return Promise.resolve();
    this.inFlight ??= this.fetch().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async fetch(): Promise<void> {
    this.attemptedAt = this.now();
    try {
      const response = await this.lister.list();
      this.mapping = gpuPodsFromList(response, this.isGpuResource);
      this.fetchedAt = this.now();
      this.lastError = '';
    } catch (error) {
      this.lastError = errorText(error);
    }
  }
}
