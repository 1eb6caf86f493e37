// What clears findings (reboot, GPU reset, quiet window, operator, a rule
// change) and what survives a restart. Time is an argument everywhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clearFindings, fromSnapshot, tick, toSnapshot, verdictOf } from '../../agent/health/index.ts';
import { at, dcgm, feed, findings, GPU0, GPU1, H, M, override, rules, S, T0, watched, xid } from './health-fixtures.ts';

test('quiet window: a warning clears after its quiet window without a new occurrence, not before', () => {
  let { state } = feed(watched(), [at(xid(13), T0), at(xid(13), T0 + 30 * M)]);
  let r = tick(state, rules, T0 + 30 * M + H - 1);
  assert.equal(findings(r.state).length, 1);
  assert.equal(r.notices.length, 0);
  r = tick(r.state, rules, T0 + 30 * M + H);
  state = r.state;
  assert.equal(findings(state).length, 0);
  assert.equal(r.notices[0]?.reason, 'GPUFindingCleared');
  assert.match(r.notices[0]?.note ?? '', /quiet window/);
  // A fatal hardware finding does not clear by quiet.
  ({ state } = feed(state, [at(xid(79), T0)]));
  state = tick(state, rules, T0 + 1000 * H).state;
  assert.equal(verdictOf(state, T0 + 1000 * H).reason, 'NvidiaXID79Error');
});

test('reboot: a new boot id clears what clears on reboot; the same boot keeps everything', () => {
  const table = override('xid:\n  64: {clearOn: [operator]}\n');
  const { state } = feed(watched('boot-1'), [at(xid(79), T0), at(xid(64, GPU1), T0 + S), at(xid(79), T0 + 2 * S)], table);
  const json = JSON.parse(JSON.stringify(toSnapshot(state)));

  const same = fromSnapshot(json, 'boot-1', table, T0 + H);
  assert.deepEqual(same.warnings, []);
  assert.deepEqual(same.notices, []);
  const f = findings(same.state)[0];
  assert.deepEqual([f?.key, f?.count, f?.firstSeen, f?.lastSeen], ['xid:79', 2, T0, T0 + 2 * S]);
  assert.equal(verdictOf(same.state, T0 + H).message, verdictOf(state, T0 + H).message);

  const rebooted = fromSnapshot(json, 'boot-2', table, T0 + H);
  assert.equal(findings(rebooted.state).length, 0);
  assert.equal(findings(rebooted.state, `pci:${GPU1.pci}`).length, 1, 'an entry without reboot in clearOn survives it');
  assert.equal(rebooted.notices.length, 1);
  assert.match(rebooted.notices[0]?.note ?? '', /rebooted/);
  assert.equal(rebooted.state.bootId, 'boot-2');
});

test('operator clear: one GPU by PCI, UUID or index, or all', () => {
  const setup = () =>
    feed(watched(), [
      at({ kind: 'gpu-inventory', gpus: [{ pci: GPU0.pci, uuid: 'GPU-0', index: 0 }, { pci: GPU1.pci, uuid: 'GPU-1', index: 1 }] }, T0, 'nvml'),
      at(xid(79), T0),
      at(xid(48, GPU1), T0),
    ]).state;
  for (const name of ['0000:86:00.0', '0000:86:00', 'GPU-1', '1']) {
    const r = clearFindings(setup(), { gpu: name }, T0 + M);
    assert.equal(r.cleared, 1, name);
    assert.equal(r.matched, true);
    assert.equal(verdictOf(r.state, T0 + M).reason, 'NvidiaXID79Error', `${name}: only GPU1 cleared`);
    assert.equal(r.notices[0]?.reason, 'GPUFindingCleared');
  }
  const none = clearFindings(setup(), { gpu: 'GPU-nope' }, T0 + M);
  assert.equal(none.matched, false);
  assert.equal(none.cleared, 0);
  const all = clearFindings(setup(), {}, T0 + M);
  assert.equal(all.cleared, 2);
  assert.equal(verdictOf(all.state, T0 + M).status, 'True');
  // An entry without operator in clearOn is not cleared by an operator.
  const table = override('xid:\n  79: {clearOn: [reboot]}\n');
  const kept = clearFindings(feed(watched(), [at(xid(79), T0)], table).state, {}, T0 + M);
  assert.equal(kept.cleared, 0);
});

test('a cleared DCGM incident that DCGM keeps reporting stays cleared; a changed report comes back', () => {
  let { state } = feed(watched(), [at(dcgm(14, 'fail'), T0, 'dcgm')]);
  assert.equal(verdictOf(state, T0).reason, 'DCGMHealthCode14');
  state = clearFindings(state, {}, T0 + M).state;
  ({ state } = feed(state, [at(dcgm(14, 'fail'), T0 + 2 * M, 'dcgm'), at(dcgm(14, 'fail'), T0 + 3 * M, 'dcgm')]));
  assert.equal(verdictOf(state, T0 + 3 * M).status, 'True', 'the same sticky report does not re-raise it');
  ({ state } = feed(state, [at(dcgm(14, 'warn'), T0 + 4 * M, 'dcgm')]));
  assert.equal(findings(state)[0]?.levelSig, 'warn');
  // After a reboot the latch is gone.
  const snap = toSnapshot(clearFindings(state, {}, T0 + 5 * M).state);
  const next = fromSnapshot(snap, 'boot-2', rules, T0 + H).state;
  ({ state } = feed(next, [at(dcgm(14, 'warn'), T0 + H, 'dcgm')]));
  assert.equal(findings(state).length, 1);
});

test('a new rule table re-classifies existing findings', () => {
  const { state } = feed(watched(), [at(xid(109), T0)]);
  assert.equal(verdictOf(state, T0).status, 'True');
  const stricter = override('xid:\n  109: {severity: fatal}\n');
  let next = tick(state, stricter, T0 + S).state;
  assert.equal(verdictOf(next, T0 + S).reason, 'NvidiaXID109Error');
  next = tick(next, override('xid:\n  109: {severity: ignore}\n'), T0 + 2 * S).state;
  assert.equal(findings(next).length, 0);
});

test('snapshots: JSON round trip, and a corrupt or foreign one gives a clean state and a warning', () => {
  const { state } = feed(watched(), [at(xid(13, GPU0, 'a'), T0), at(xid(13, GPU0, 'b'), T0 + M), at(xid(13, GPU0, 'c'), T0 + 2 * M)]);
  const text = JSON.stringify(toSnapshot(state));
  const back = fromSnapshot(JSON.parse(text), 'boot-1', rules, T0 + 3 * M);
  assert.equal(JSON.stringify(toSnapshot(back.state)), text);
  assert.equal(verdictOf(back.state, T0).reason, 'NvidiaXID13Error', 'escalation survives a restart');

  for (const bad of ['garbage', 42, [], { kind: 'gpu-health-agent/health', version: 99 }, { ...JSON.parse(text), gpus: 'x' }]) {
    const r = fromSnapshot(bad, 'boot-1', rules, T0);
    assert.equal(r.state.gpus.size, 0);
    assert.equal(r.warnings.length, 1);
    assert.match(r.warnings[0] ?? '', /health snapshot unusable/);
  }
  assert.deepEqual(fromSnapshot(null, 'boot-1', rules, T0).warnings, [], 'no snapshot yet is not a warning');
});

test('drills off after a restart: drill findings go, with a notice; real findings stay', () => {
  const { state } = feed(watched('boot-1'), [at(xid(79), T0, 'kmsg', true), at(xid(48, GPU1), T0 + S)]);
  const json = JSON.parse(JSON.stringify(toSnapshot(state)));
  const kept = fromSnapshot(json, 'boot-1', rules, T0 + H, undefined, { acceptDrills: true });
  assert.equal(verdictOf(kept.state, T0 + H).reason, 'NvidiaXID79Error');
  const off = fromSnapshot(json, 'boot-1', rules, T0 + H, undefined, { acceptDrills: false });
  assert.deepEqual(findings(off.state), [], 'the drill on GPU0 is gone');
  assert.deepEqual(findings(off.state, `pci:${GPU1.pci}`).map((f) => f.key), ['xid:48']);
  assert.deepEqual(off.notices.map((n) => [n.reason, n.drill]), [['GPUFindingCleared', true]]);
  assert.match(off.notices[0]?.note ?? '', /without --accept-drills/);
});

test('restore goes finding by finding: an unreadable one is counted and asks for a replay, the rest stay', () => {
  const { state } = feed(watched('boot-1'), [at(xid(79), T0), at(xid(48, GPU1), T0 + S)]);
  const json = JSON.parse(JSON.stringify(toSnapshot(state))) as { gpus: Array<{ findings: Array<Record<string, unknown>> }> };
  // A newer agent's finding (a rule family this version does not know) beside one with a broken field.
  json.gpus[0]?.findings.push({ ...json.gpus[0]?.findings[0], id: 'aer:fatal', key: 'aer:fatal', family: 'aer' });
  const broken = json.gpus[1]?.findings[0];
  if (broken !== undefined) broken.count = 'two';
  const r = fromSnapshot(json, 'boot-1', rules, T0 + H);
  assert.equal(verdictOf(r.state, T0 + H).reason, 'NvidiaXID79Error', 'the readable fatal finding is kept');
  assert.deepEqual([r.dropped, r.replay], [2, true]);
  assert.ok(r.warnings.some((w) => /rule family aer/.test(w)) && r.warnings.some((w) => /count/.test(w)), r.warnings.join('; '));
});

test("a newer agent's snapshot is read as far as this version understands it", () => {
  const { state } = feed(watched('boot-1'), [at(xid(79), T0)]);
  const json = { ...(JSON.parse(JSON.stringify(toSnapshot(state))) as object), version: 2, somethingNew: { x: 1 } };
  const r = fromSnapshot(json, 'boot-1', rules, T0 + H);
  assert.equal(verdictOf(r.state, T0 + H).reason, 'NvidiaXID79Error');
  assert.equal(r.replay, false);
  assert.match(r.warnings.join(' '), /newer agent \(version 2/);
});

test('the replay after a lossy restore does not count a restored finding twice', () => {
  const { state } = feed(watched('boot-1'), [at(xid(79), T0)]);
  const json = JSON.parse(JSON.stringify(toSnapshot(state))) as { gpus: unknown[] };
  json.gpus.push({ id: 'broken' });
  const r = fromSnapshot(json, 'boot-1', rules, T0 + H, undefined, { savedAt: T0 + M });
  assert.equal(r.replay, true);
  // The kernel log read again: the same record, then a new one after the save.
  const again = feed(r.state, [at(xid(79), T0), at(xid(79), T0 + 2 * M)]);
  assert.equal(findings(again.state)[0]?.count, 2);
});
