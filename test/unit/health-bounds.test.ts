// Memory stays bounded: a million distinct findings (distinct codes on distinct
// GPUs) leave at most 64 GPUs x 256 findings, with every eviction counted, and
// fatal evidence is the last thing evicted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeHealth, emptyHealth, observe, updateSource, verdictOf } from '../../agent/health/index.ts';
import type { Observation } from '../../agent/model/evidence.ts';
import { at, override, rules, source, T0, xid } from './health-fixtures.ts';

test('a million distinct findings stay within 64 GPUs x 256 findings, evictions counted', () => {
  // The flood is info (no Events to format) so the test stays quick; storage and
  // eviction are the same for every severity. Timing is for bench/, not asserted here.
  const table = override('unknown:\n  xid: {severity: info}\n');
  let state = updateSource(emptyHealth('b'), source('kmsg', 'up', T0), T0).state;
  // Real fatal evidence on one GPU, before the flood.
  state = observe(state, at(xid(79, { pci: '0000:3b:00.0' }), T0), table, T0).state;
  const N = 1_000_000;
  const started = performance.now();
  const obs: Observation = at(xid(0), T0);
  // A distinct real address per GPU: the device number is 5 bits (0x00-0x1f), the bus 8, the domain the rest.
  const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
  const pci = (g: number) => `${hex(g >> 13, 4)}:${hex((g >> 5) & 0xff, 2)}:${hex(g & 0x1f, 2)}.1`;
  for (let i = 0; i < N; i++) {
    // First 900,000: 63 GPUs with ever new codes (per-GPU eviction); then a new GPU each time (GPU eviction).
    const gpu = { pci: i < 900_000 ? pci(i % 63) : pci(1000 + i) };
    obs.evidence = { kind: 'xid', gpu, code: 10_000 + i, pid: null, processName: null, text: '' };
    obs.at = T0 + 1 + i;
    state = observe(state, obs, table, obs.at).state;
    if (i === 899_999) {
      const sizes = [...state.gpus.values()].map((g) => g.findings.size);
      assert.equal(sizes.length, 64);
      assert.ok(sizes.every((n) => n <= 256));
      assert.equal(sizes.reduce((a, b) => a + b, 0), 1 + 63 * 256, 'per-GPU caps full');
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const gpuCount = [...state.gpus.values()].filter((g) => g.id !== 'node').length;
  assert.ok(gpuCount <= 64, `${gpuCount} GPUs`);
  let total = 0;
  for (const g of state.gpus.values()) {
    assert.ok(g.findings.size <= 256, `${g.id}: ${g.findings.size} findings`);
    total += g.findings.size;
  }
  assert.ok(state.aliases.size <= 3 * 65, `${state.aliases.size} aliases`);
  assert.equal(state.evicted, N + 1 - total, 'every finding that is not held was counted as evicted');
  assert.equal(describeHealth(state).evicted, state.evicted);
  assert.equal(verdictOf(state, T0 + N).reason, 'NvidiaXID79Error', 'the fatal finding survived the flood');
  console.log(`# 1,000,000 distinct findings: ${seconds.toFixed(2)} s, kept ${total}, evicted ${state.evicted}`);
});

test('a flood of distinct warnings is bounded too, with one notice each', () => {
  let state = updateSource(emptyHealth('b', { maxGpus: 4, maxFindingsPerGpu: 32 }), source('kmsg', 'up', T0), T0).state;
  let notices = 0;
  for (let i = 0; i < 20_000; i++) {
    const r = observe(state, at(xid(10_000 + i, { pci: `0000:0${i % 8}:00.0` }), T0 + i), rules, T0 + i);
    state = r.state;
    notices += r.notices.length;
  }
  assert.equal(notices, 20_000);
  assert.ok(state.gpus.size <= 4);
  assert.ok([...state.gpus.values()].every((g) => g.findings.size <= 32));
  assert.equal(state.evicted, 20_000 - [...state.gpus.values()].reduce((a, g) => a + g.findings.size, 0));
});

test('per GPU: the least recently seen non-fatal finding goes first; a warning never pushes out a fatal one', () => {
  let state = updateSource(emptyHealth('b', { maxGpus: 2, maxFindingsPerGpu: 3 }), source('kmsg', 'up', T0), T0).state;
  const push = (code: number, t: number) => (state = observe(state, at(xid(code), t), rules, t).state);
  push(79, T0); // fatal
  push(13, T0 + 1); // warning
  push(43, T0 + 2); // warning
  push(13, T0 + 3); // 13 seen again: now more recent than 43
  push(31, T0 + 4); // full: 43 (least recent non-fatal) goes
  let keys = [...(state.gpus.get('pci:0000:3b:00.0')?.findings.keys() ?? [])].sort();
  assert.deepEqual(keys, ['xid:13', 'xid:31', 'xid:79']);
  assert.equal(state.evicted, 1);
  push(48, T0 + 5); // fatal newcomer: 13 goes
  push(64, T0 + 6); // fatal newcomer: 31 goes
  push(92, T0 + 7); // warning newcomer, all fatal: the warning is dropped
  keys = [...(state.gpus.get('pci:0000:3b:00.0')?.findings.keys() ?? [])].sort();
  assert.deepEqual(keys, ['xid:48', 'xid:64', 'xid:79']);
  assert.equal(state.evicted, 4);
});
