// The repair ladder: the state keeps the boots and the fatal findings each ended
// with; the same fault on the same GPU back after `ladder.repairs` reboots takes
// the replace-class reason (NvidiaGPUFaultRecurring), action REPLACE, with the
// boots in the message and an Event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clearFindings, fromSnapshot, tick, toSnapshot, verdictOf } from '../../agent/health/index.ts';
import type { HealthState } from '../../agent/health/index.ts';
import type { RuleTable } from '../../agent/rules/types.ts';
import { GPU0, GPU1, H, M, T0, at, feed, override, rules, watched, xid } from './health-fixtures.ts';

/** The node reboots: the state file is read back under a new boot id. */
function reboot(state: HealthState, bootId: string, now: number, table: RuleTable = rules): HealthState {
  return fromSnapshot(JSON.parse(JSON.stringify(toSnapshot(state))), bootId, table, now).state;
}

/** Boots 1..n each end with Xid 79 on the GPU; returns the state in boot n+1, before anything is seen. */
function bootsEndingWith79(n: number, gpu = GPU0, table: RuleTable = rules): HealthState {
  let s = watched('boot-1');
  for (let i = 1; i <= n; i++) {
    s = feed(s, [at(xid(79, gpu), T0 + i * H)], table).state;
    s = reboot(s, `boot-${i + 1}`, T0 + i * H + 10 * M, table);
  }
  return s;
}

test('the fault back after one reboot is still the reboot-class reason', () => {
  const s = feed(bootsEndingWith79(1), [at(xid(79), T0 + 2 * H)]).state;
  assert.equal(verdictOf(s, T0 + 2 * H).reason, 'NvidiaXID79Error');
});

test('back after two reboots that ended with it: NvidiaGPUFaultRecurring, REPLACE, the boots named, one Event', () => {
  const r = feed(bootsEndingWith79(2), [at(xid(79), T0 + 3 * H)]);
  const v = verdictOf(r.state, T0 + 3 * H);
  assert.deepEqual([v.status, v.reason], ['False', 'NvidiaGPUFaultRecurring']);
  assert.match(v.message, /action REPLACE, back after 2 reboots that ended with it: boot boot-2 \(last seen .*\), boot boot-1 \(last seen/);
  const recurring = r.notices.filter((n) => n.key.endsWith('/recurring'));
  assert.deepEqual(recurring.map((n) => [n.type, n.reason]), [['Warning', 'NvidiaGPUFaultRecurring']]);
  assert.match(recurring[0]?.note ?? '', /Xid 79 .* replace the node/);
  assert.deepEqual(r.state.boots.map((b) => [b.bootId, b.faults.map((f) => `${f.key}@${f.pci}`)]), [
    ['boot-2', ['xid:79@0000:3b:00.0']], ['boot-1', ['xid:79@0000:3b:00.0']],
  ]);
  // A repeat in the same boot does not post the Event again.
  const again = feed(r.state, [at(xid(79), T0 + 3 * H + M)]);
  assert.deepEqual(again.notices.filter((n) => n.key.endsWith('/recurring')), []);
});

test('the replace-class reason leads the condition: stronger than any reboot-class finding beside it', () => {
  const s = feed(bootsEndingWith79(2), [at(xid(48, GPU1), T0 + 3 * H - M), at(xid(79), T0 + 3 * H)]).state;
  assert.equal(verdictOf(s, T0 + 3 * H).reason, 'NvidiaGPUFaultRecurring');
});

test('another GPU, or another board (UUID) in the same slot, is not the same fault', () => {
  const other = feed(bootsEndingWith79(2), [at(xid(79, GPU1), T0 + 3 * H)]).state;
  assert.equal(verdictOf(other, T0 + 3 * H).reason, 'NvidiaXID79Error');
  const board1 = { pci: GPU0.pci, uuid: 'GPU-11111111-1111-1111-1111-111111111111' };
  const s = bootsEndingWith79(2, board1);
  const swapped = feed(s, [at({ kind: 'gpu-identity', gpu: { pci: GPU0.pci, uuid: 'GPU-22222222-2222-2222-2222-222222222222' } }, T0 + 3 * H), at(xid(79), T0 + 3 * H)]).state;
  assert.equal(verdictOf(swapped, T0 + 3 * H).reason, 'NvidiaXID79Error');
  const same = feed(bootsEndingWith79(2, board1), [at({ kind: 'gpu-identity', gpu: board1 }, T0 + 3 * H), at(xid(79), T0 + 3 * H)]).state;
  assert.equal(verdictOf(same, T0 + 3 * H).reason, 'NvidiaGPUFaultRecurring');
});

test('a boot that ended clean breaks the chain: the reboot fixed it then', () => {
  let s = bootsEndingWith79(2);
  s = reboot(s, 'boot-4', T0 + 3 * H);
  const r = feed(s, [at(xid(79), T0 + 4 * H)]).state;
  assert.equal(verdictOf(r, T0 + 4 * H).reason, 'NvidiaXID79Error');
});

test("an operator's clear before the reboot means the boot did not end with it", () => {
  let s = watched('boot-1');
  s = feed(s, [at(xid(79), T0 + H)]).state;
  s = reboot(s, 'boot-2', T0 + 2 * H);
  s = feed(s, [at(xid(79), T0 + 3 * H)]).state;
  s = clearFindings(s, {}, T0 + 3 * H + M).state;
  s = reboot(s, 'boot-3', T0 + 4 * H);
  const r = feed(s, [at(xid(79), T0 + 5 * H)]).state;
  assert.equal(verdictOf(r, T0 + 5 * H).reason, 'NvidiaXID79Error');
});

test('the rule table sets it: repairs 1 is sooner, 0 turns it off, the reason may keep the fault\'s own', () => {
  const one = override('ladder: {repairs: 1}\n');
  assert.equal(verdictOf(feed(bootsEndingWith79(1, GPU0, one), [at(xid(79), T0 + 2 * H)], one).state, T0).reason, 'NvidiaGPUFaultRecurring');
  const off = override('ladder: {repairs: 0}\n');
  assert.equal(verdictOf(feed(bootsEndingWith79(3, GPU0, off), [at(xid(79), T0 + 4 * H)], off).state, T0).reason, 'NvidiaXID79Error');
  const own = override('ladder: {reason: "{reason}Recurring"}\n');
  assert.equal(verdictOf(feed(bootsEndingWith79(2, GPU0, own), [at(xid(79), T0 + 3 * H)], own).state, T0).reason, 'NvidiaXID79ErrorRecurring');
});

test('a rule reload re-judges the findings it holds', () => {
  const s = feed(bootsEndingWith79(2), [at(xid(79), T0 + 3 * H)]).state;
  const off = override('ladder: {repairs: 0}\n');
  const r = tick(s, off, T0 + 3 * H + M);
  assert.equal(verdictOf(r.state, T0).reason, 'NvidiaXID79Error');
  const on = tick(r.state, rules, T0 + 3 * H + 2 * M);
  assert.equal(verdictOf(on.state, T0).reason, 'NvidiaGPUFaultRecurring');
  assert.deepEqual(on.notices.map((n) => n.reason), ['NvidiaGPUFaultRecurring']);
});

test('drills count only against drills', () => {
  let s = watched('boot-1');
  for (let i = 1; i <= 2; i++) {
    s = feed(s, [at(xid(79), T0 + i * H, 'kmsg', true)]).state;
    s = reboot(s, `boot-${i + 1}`, T0 + i * H + M);
  }
  assert.equal(verdictOf(feed(s, [at(xid(79), T0 + 3 * H)]).state, T0).reason, 'NvidiaXID79Error');
  assert.equal(verdictOf(feed(s, [at(xid(79), T0 + 3 * H, 'kmsg', true)]).state, T0).reason, 'NvidiaGPUFaultRecurring');
});

test('the history is bounded, and survives the state file', () => {
  const s = bootsEndingWith79(20);
  assert.equal(s.boots.length, 16);
  assert.equal(s.boots[0]?.bootId, 'boot-20');
  const r = feed(s, [at(xid(79), T0 + 21 * H)]).state;
  const back = fromSnapshot(JSON.parse(JSON.stringify(toSnapshot(r))), 'boot-21', rules, T0 + 21 * H + M).state;
  assert.equal(back.gpus.get(`pci:${GPU0.pci}`)?.findings.get('xid:79')?.recurring?.reason, 'NvidiaGPUFaultRecurring');
  assert.equal(verdictOf(back, T0).reason, 'NvidiaGPUFaultRecurring');
});

test('a state file of an older agent (no history) restores with an empty one', () => {
  const doc = toSnapshot(watched('boot-1')) as Record<string, unknown>;
  delete doc.boots;
  delete doc.initFailed;
  const s = fromSnapshot(doc, 'boot-2', rules, T0).state;
  assert.deepEqual(s.boots, [{ bootId: 'boot-1', faults: [] }]);
});
