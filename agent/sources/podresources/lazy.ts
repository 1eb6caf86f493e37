// The pod-resources lookup as the agent holds it: loaded on first use (gRPC
// is a few MiB of code that an agent without findings or debug requests never
// needs), and its answer for /debug/state, bounded in time. The notes that
// carry the pods are report/pod-impact.ts's.
import type { PodLookup, PodRef } from '../../model/pod-ref.ts';
import { errorText } from '../../model/text.ts';

export interface PodsView {
  /** null: pod information is not available (disabled, kubelet not reachable yet). */
  byGpu: Map<string, PodRef[]> | null;
  state: 'disabled' | 'unknown' | 'up' | 'down';
  detail: string;
  fetchedAt: number | null;
}

/** Pods for the debug endpoint: the lookup's answer if it comes within `boundMs`, else what is known. */
export async function podsForView(lookup: PodLookup | null, gpuUuids: string[], boundMs: number): Promise<PodsView> {
  if (lookup === null) return { byGpu: null, state: 'disabled', detail: 'pod impact disabled (--pod-resources-socket none)', fetchedAt: null };
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((r) => {
    timer = setTimeout(() => r(null), boundMs);
  });
  const answer = await Promise.race([lookup.podsFor(gpuUuids), late]);
  clearTimeout(timer);
  const st = lookup.status();
  // A mapping is only worth showing once the kubelet answered at least once.
  const byGpu = answer === null || st.fetchedAt === null ? null : answer;
  return { byGpu, state: st.state, detail: st.detail, fetchedAt: st.fetchedAt };
}

/**
 * The kubelet lookup, loaded on first use: gRPC is a few MiB of code and an
 * agent that never sees a finding or a debug request never needs it.
 */
export function lazyPodLookup(socketPath: string, timeoutMs = 2000): PodLookup {
  let real: PodLookup | null = null;
  let loading: Promise<PodLookup> | null = null;
  let closed = false;
  let loadError = '';
  const load = (): Promise<PodLookup> =>
    (loading ??= import('./index.ts').then((m) => {
      const lookup = new m.PodImpactLookup({ lister: new m.PodResourcesClient({ socketPath, timeoutMs }) });
      if (closed) lookup.close();
      real = lookup;
      return lookup;
    }));
  return {
    async podsFor(gpuUuids) {
      if (closed) return new Map();
      try {
        return await (await load()).podsFor(gpuUuids);
      } catch (err) {
        loadError = `cannot load the pod-resources client: ${errorText(err)}`;
        return new Map();
      }
    },
    status: () =>
      real?.status() ?? (loadError !== '' ? { state: 'down', detail: loadError, fetchedAt: null } : { state: 'unknown', detail: `not asked yet (${socketPath})`, fetchedAt: null }),
    close() {
      closed = true;
      real?.close();
    },
  };
}
