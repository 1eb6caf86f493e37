// NVSwitch fabric health from DCGM: the Fabric Manager status and each field of
// the fabric health mask, decoded (agent/sources/dcgm/fabric.ts), turned into
// evidence when a field changes (translate.ts), and judged by the rule table's
// fabric family. A fabric still starting is no fault; a failed one, or a GPU the
// fabric rejects, is; a field back to normal clears what it reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeHealthMask, decodeManagerStatus } from '../../agent/sources/dcgm/fabric.ts';
import { DcgmTranslator } from '../../agent/sources/dcgm/translate.ts';
import { DCGM_ST, FABRIC_FIELD } from '../../agent/sources/dcgm/abi.ts';
import type { ProbeResult } from '../../agent/sources/dcgm/worker.ts';
import { verdictOf } from '../../agent/health/index.ts';
import type { HealthState } from '../../agent/health/index.ts';
import type { Notice } from '../../agent/model/verdict.ts';
import { S, T0, feed, override, rules, source, watched } from './health-fixtures.ts';
import { updateSource } from '../../agent/health/index.ts';

// Masks as NVIDIA's own tests of DCGM's health watch build them: 0x1AA is every
// boolean sub-field FALSE (2) and the configuration NONE (1).
const HEALTHY = 0x1aa;

test('the health mask decodes per field: 0x1AA is healthy, one field at a time goes bad', () => {
  assert.deepEqual(decodeHealthMask(HEALTHY).filter((r) => !r.healthy), []);
  const bad = (mask: number) => decodeHealthMask(mask).filter((r) => !r.healthy).map((r) => `${r.field}=${r.state}`);
  assert.deepEqual(bad(0x1a9), ['degraded-bw=true']);
  assert.deepEqual(bad(0x1a6), ['route-recovery=true']);
  assert.deepEqual(bad(0x19a), ['route-unhealthy=true']);
  assert.deepEqual(bad(0x16a), ['access-timeout-recovery=true']);
  assert.deepEqual(bad(0x2aa), ['incorrect-configuration=incorrect-sysguid']);
  assert.deepEqual(bad(0x5aa), ['incorrect-configuration=insufficient-nvlinks']);
  assert.deepEqual(bad(0xcaa), ['incorrect-configuration=unknown-12']);
  assert.deepEqual(bad(0x1aa | (2 << 14)), ['gfm-state=disconnected']);
  assert.deepEqual(bad(0), [], 'all not supported (no NVSwitch)');
  assert.deepEqual(bad(0x255), ['degraded-bw=true', 'route-recovery=true', 'route-unhealthy=true', 'access-timeout-recovery=true', 'incorrect-configuration=incorrect-sysguid']);
});

test('the Fabric Manager status decodes dcgmFabricManagerStatus_t; -1 (a state DCGM does not know) is unknown', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, -1, 7].map((v) => [decodeManagerStatus(v).state, decodeManagerStatus(v).healthy]), [
    ['not-supported', true], ['not-started', false], ['in-progress', false], ['success', true], ['failure', false],
    ['unrecognized', false], ['nvml-too-old', false], ['unknown', false], ['unknown', false],
  ]);
});

function probe(fields: { manager?: number; mask?: number }): ProbeResult {
  const values = [];
  if (fields.manager !== undefined) values.push({ fieldId: FABRIC_FIELD.MANAGER_STATUS, status: DCGM_ST.OK, ts: 1, value: fields.manager });
  if (fields.mask !== undefined) values.push({ fieldId: FABRIC_FIELD.HEALTH_MASK, status: DCGM_ST.OK, ts: 1, value: fields.mask });
  return {
    gpus: [{ gpuId: 0, uuid: 'GPU-00000000-0000-4000-8000-000000005000', pciBusId: '00000000:10:00.0', name: 'x', values }],
    health: { overall: 0, incidents: [] },
  };
}

/** Probes through the translator into health, as the DCGM source and the runtime do. */
function run(probes: Array<{ manager?: number; mask?: number }>, table = rules): { state: HealthState; notices: Notice[]; kinds: string[] } {
  const t = new DcgmTranslator();
  let state = updateSource(watched(), source('dcgm', 'up', T0), T0).state;
  const notices: Notice[] = [];
  const kinds: string[] = [];
  probes.forEach((p, i) => {
    const obs = t.translate(probe(p), T0 + i * S, null);
    kinds.push(...obs.filter((o) => o.evidence.kind === 'fabric').map((o) => (o.evidence.kind === 'fabric' ? `${o.evidence.field}=${o.evidence.state}` : '')));
    const r = feed(state, obs, table);
    state = r.state;
    notices.push(...r.notices);
  });
  return { state, notices, kinds };
}

test('a fabric still starting is not a fault; then Success: True all along, no Event', () => {
  const r = run([{ manager: 1, mask: 0 }, { manager: 2, mask: HEALTHY }, { manager: 3, mask: HEALTHY }]);
  assert.equal(verdictOf(r.state, T0 + 2 * S).status, 'True');
  assert.deepEqual(r.notices, []);
  assert.equal([...r.state.gpus.values()].some((g) => g.findings.size > 0), false, 'the starting finding (info) cleared on Success');
});

test('Fabric Manager failed: False FabricManagerNotRunning; back to Success clears it', () => {
  const r = run([{ manager: 3, mask: HEALTHY }, { manager: 4, mask: HEALTHY }]);
  const v = verdictOf(r.state, T0 + S);
  assert.deepEqual([v.status, v.reason], ['False', 'FabricManagerNotRunning']);
  assert.match(v.message, /fabric manager failure/);
  const back = run([{ manager: 4 }, { manager: 3 }]);
  assert.equal(verdictOf(back.state, T0 + S).status, 'True');
  assert.deepEqual(back.notices.map((n) => n.reason), ['FabricManagerNotRunning', 'GPUFindingCleared']);
});

test('a GPU the fabric rejects, or a route that is unhealthy, is fatal NvidiaFabricError; recoveries in progress are warnings', () => {
  assert.equal(verdictOf(run([{ manager: 3, mask: 0x5aa }]).state, T0).reason, 'NvidiaFabricError');
  assert.equal(verdictOf(run([{ manager: 3, mask: 0x19a }]).state, T0).reason, 'NvidiaFabricError');
  const recovering = run([{ manager: 3, mask: 0x1a6 }]);
  assert.equal(verdictOf(recovering.state, T0).status, 'True');
  assert.deepEqual(recovering.notices.map((n) => n.reason), ['NvidiaFabricWarning']);
  // A configuration value the table does not know is a warning, never fatal by default.
  assert.equal(verdictOf(run([{ manager: 3, mask: 0xcaa }]).state, T0).status, 'True');
});

test('a reading is evidence only when the field changes', () => {
  const r = run([{ manager: 3, mask: 0x1a9 }, { manager: 3, mask: 0x1a9 }, { manager: 3, mask: 0x1a9 }]);
  assert.deepEqual(r.kinds.filter((k) => !k.endsWith('=false') && !k.endsWith('=none') && !k.endsWith('=not-supported')), ['manager=success', 'degraded-bw=true']);
  const f = [...r.state.gpus.values()].flatMap((g) => [...g.findings.values()]);
  assert.deepEqual(f.map((x) => [x.key, x.count]), [['fabric:degraded-bw', 1]]);
});

test('every fabric state is the rule table\'s: the operator can make in-progress a warning or failure a warning', () => {
  const table = override('fabric:\n  manager/in-progress: {severity: warning}\n  manager/failure: {severity: warning}\n');
  const r = run([{ manager: 2 }, { manager: 4 }], table);
  assert.equal(verdictOf(r.state, T0 + S).status, 'True');
  assert.deepEqual(r.notices.map((n) => n.reason), ['FabricManagerStarting', 'FabricManagerNotRunning']);
});
