// Pure pieces of the runtime's pod-impact edge and the Node capacity reading:
// note bounds, per-Pod grouping, ordering through a slow lookup, and when the
// capacity is (not) a count of whole GPUs.
import { memoryReporter } from '../helpers/memory-reporter.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupByPod, noteWithPods, podEventNote, withPodImpact } from '../../agent/report/pod-impact.ts';
import type { PodLookup } from '../../agent/model/pod-ref.ts';
import { expectedGpusFromNode } from '../../agent/report/kube/gpu-capacity.ts';
import type { NodeLike } from '../../agent/report/kube/condition.ts';
import type { Notice } from '../../agent/model/verdict.ts';
import type { PodRef } from '../../agent/model/pod-ref.ts';

const ref = (namespace: string, name: string, container: string): PodRef => ({ namespace, name, container });

test('noteWithPods: pods grouped with their containers, appended, whole note within 1024 chars', () => {
  const refs = [ref('ml', 'a', 'main'), ref('ml', 'a', 'side'), ref('dev', 'b', 'c')];
  assert.equal(noteWithPods('Xid 79.', refs), 'Xid 79. Pods on this GPU: ml/a (main, side), dev/b (c).');
  assert.equal(noteWithPods('Xid 79.', []), 'Xid 79.');
  const long = noteWithPods('x'.repeat(1024), refs);
  assert.equal(long.length, 1024);
  assert.match(long, /…\s?Pods on this GPU: ml\/a \(main, side\), dev\/b \(c\)\.$/, 'the finding text is cut, not the pods');
  const many = Array.from({ length: 100 }, (_, i) => ref('namespace-with-a-long-name', `pod-${i}`, 'main'));
  const crowded = noteWithPods('Xid 79.', many);
  assert.ok(crowded.length <= 1024);
  assert.match(crowded, /and \d+ more\.$/);
});

test('groupByPod and podEventNote', () => {
  assert.deepEqual(groupByPod([ref('a', 'p', 'x'), ref('a', 'p', 'x'), ref('a', 'p', 'y')]), [{ namespace: 'a', name: 'p', containers: ['x', 'y'] }]);
  assert.equal(podEventNote('N.', { containers: ['x'] }), 'Container x of this Pod holds a GPU with a hardware finding: N.');
  assert.equal(podEventNote('N.', { containers: ['x', 'y'] }), 'Containers x, y of this Pod hold a GPU with a hardware finding: N.');
});

function notice(key: string, uuids: string[], type: Notice['type'] = 'Warning'): Notice {
  return { type, reason: 'R', note: key, key, at: 0, drill: false, gpuUuids: uuids };
}

test('withPodImpact keeps notice order across a slow lookup and posts one Pod Event per Pod for Warnings only', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const lookup: PodLookup = {
    async podsFor(uuids) {
      await gate;
      return new Map(uuids.map((u) => [u, u === 'GPU-a' ? [ref('ml', 'p', 'main'), ref('ml', 'p', 'side')] : []]));
    },
    status: () => ({ state: 'up', detail: '', fetchedAt: 1 }),
    close: () => undefined,
  };
  const inner = memoryReporter();
  const seen = inner.told;
  const said = (): string[] => seen.map((t) => (t.kind === 'notice' ? `node ${t.notice.key}: ${t.notice.note}` : t.kind === 'pod-notice' ? `pod ${t.pod.namespace}/${t.pod.name} ${t.notice.key}` : t.kind));
  const r = withPodImpact(inner, lookup, { podEvents: true });
  r.notice(notice('first', [])); // nothing waiting: straight through
  r.notice(notice('gpu', ['GPU-a']));
  r.notice(notice('source', [])); // waits behind the GPU notice
  r.notice(notice('cleared', ['GPU-a'], 'Normal'));
  assert.deepEqual(said(), ['node first: first']);
  release();
  await r.stop();
  assert.equal(inner.stopped, true, 'the inner reporter is stopped after the queue drained');
  assert.deepEqual(said(), [
    'node first: first',
    'node gpu: gpu Pods on this GPU: ml/p (main, side).',
    'pod ml/p gpu',
    'node source: source',
    'node cleared: cleared Pods on this GPU: ml/p (main, side).',
  ]);
});

test('expectedGpusFromNode: whole GPUs only; replicas divided; MIG single and odd labels give no count', () => {
  const node = (capacity: string | undefined, labels: Record<string, string> = {}): NodeLike => ({
    metadata: { labels },
    status: { capacity: capacity === undefined ? {} : { 'nvidia.com/gpu': capacity } },
  });
  assert.equal(expectedGpusFromNode(node('8')), 8);
  assert.equal(expectedGpusFromNode(node(undefined)), null);
  assert.equal(expectedGpusFromNode(node('0')), null, 'no device plugin yet');
  assert.equal(expectedGpusFromNode(node('1k')), null);
  assert.equal(expectedGpusFromNode(node('40', { 'nvidia.com/gpu.replicas': '10' })), 4);
  assert.equal(expectedGpusFromNode(node('41', { 'nvidia.com/gpu.replicas': '10' })), null);
  assert.equal(expectedGpusFromNode(node('8', { 'nvidia.com/gpu.replicas': '1' })), 8);
  assert.equal(expectedGpusFromNode(node('56', { 'nvidia.com/mig.strategy': 'single' })), null);
  assert.equal(expectedGpusFromNode(node('8', { 'nvidia.com/mig.strategy': 'mixed' })), 8);
  assert.equal(expectedGpusFromNode(undefined), null);
});
