// Pod impact at the reporter edge: the health core builds Notices without I/O;
// here, on their way to a reporter, finding notices get the pods that hold the
// GPU named in their note (from the kubelet's pod-resources API), and with
// --pod-events each such Pod gets an Event of its own. Pod information is a
// courtesy: when the kubelet cannot be asked, notices go out without it.
import type { PodLookup, PodRef } from '../model/pod-ref.ts';
import type { Notice } from '../model/verdict.ts';
import { bounded } from '../model/text.ts';
import type { Reporter } from '../runtime/types.ts';

const NOTE_MAX = 1024;
/** The pod list takes at most this much of a note; the finding's own text keeps the rest. */
const PODS_MAX = 400;
/** Notices waiting for a pod lookup; beyond this (a storm while the kubelet is slow) they go out without pods. */
const MAX_WAITING = 256;

function podName(p: PodRef): string {
  return `${p.namespace}/${p.name}`;
}

/** One entry per Pod, its containers joined, in first-seen order. */
export function groupByPod(refs: readonly PodRef[]): Array<{ namespace: string; name: string; containers: string[] }> {
  const pods = new Map<string, { namespace: string; name: string; containers: string[] }>();
  for (const r of refs) {
    const key = podName(r);
    const p = pods.get(key) ?? { namespace: r.namespace, name: r.name, containers: [] };
    if (!p.containers.includes(r.container)) p.containers.push(r.container);
    pods.set(key, p);
  }
  return [...pods.values()];
}

/** The note with the pods that hold the GPU appended, within the Event note limit. Pure. */
export function noteWithPods(note: string, refs: readonly PodRef[]): string {
  const pods = groupByPod(refs);
  if (pods.length === 0) return note;
  const parts: string[] = [];
  let len = 0;
  for (const [i, p] of pods.entries()) {
    const part = `${p.namespace}/${p.name} (${p.containers.join(', ')})`;
    const more = pods.length - i - 1;
    if (len + part.length + 2 > PODS_MAX - (more > 0 ? 16 : 0)) {
      parts.push(`and ${pods.length - i} more`);
      break;
    }
    parts.push(part);
    len += part.length + 2;
  }
  const tail = ` Pods on this GPU: ${parts.join(', ')}.`;
  return `${bounded(note, NOTE_MAX - tail.length)}${tail}`;
}

/** The note of the Event regarding one Pod. Pure. */
export function podEventNote(note: string, pod: { containers: string[] }): string {
  const who = pod.containers.length === 1 ? `Container ${pod.containers[0]} of this Pod holds` : `Containers ${pod.containers.join(', ')} of this Pod hold`;
  return bounded(`${who} a GPU with a hardware finding: ${note}`, NOTE_MAX);
}

export interface PodImpactReporterOptions {
  /** Also post an Event regarding each Pod (only for Warning notices). */
  podEvents: boolean;
}

/**
 * Wraps a reporter: notices that name GPUs wait for the pod lookup (bounded by
 * its deadline), in order, then go on with the pods in the note. Notices that
 * name no GPU pass straight through unless something is waiting ahead of them.
 */
export function withPodImpact(inner: Reporter, lookup: PodLookup, opts: PodImpactReporterOptions): Reporter {
  let chain: Promise<void> = Promise.resolve();
  let waiting = 0;

  const deliver = async (n: Notice): Promise<void> => {
    const byGpu = await lookup.podsFor(n.gpuUuids);
    const refs = n.gpuUuids.flatMap((u) => byGpu.get(u) ?? []);
    inner.notice(refs.length === 0 ? n : { ...n, note: noteWithPods(n.note, refs) });
    if (opts.podEvents && n.type === 'Warning') {
      for (const p of groupByPod(refs)) inner.podNotice({ ...n, note: podEventNote(n.note, p) }, { namespace: p.namespace, name: p.name, container: p.containers.join(',') });
    }
  };

  return {
    name: inner.name,
    start: (hooks) => inner.start(hooks),
    setCondition: (c) => inner.setCondition(c),
    podNotice: (n, pod) => inner.podNotice(n, pod),
    lastWrite: () => inner.lastWrite(),
    notice(n) {
      if (n.gpuUuids.length === 0 && waiting === 0) return inner.notice(n);
      if (waiting >= MAX_WAITING) return inner.notice(n);
      waiting++;
      chain = chain
        .then(() => (n.gpuUuids.length === 0 ? inner.notice(n) : deliver(n)))
        .catch(() => inner.notice(n))
        .finally(() => {
          waiting--;
        });
    },
    async stop() {
      await chain;
      lookup.close();
      await inner.stop();
    },
  };
}
