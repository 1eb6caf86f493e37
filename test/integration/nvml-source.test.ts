// The NVML source through the real koffi binding and the stand-in
// libnvidia-ml.so.1. Faults go in through the stand-in's control file; the
// library is loaded once per process, so the suite shares one control file.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createNvmlSource } from '../../agent/sources/nvml/source.ts';
import { EVENT, FI } from '../../agent/sources/nvml/abi.ts';
import { createGpuSource } from '../../agent/sources/backend/index.ts';
import type { GpuSourceOptions } from '../../agent/sources/gpu/types.ts';
import { emptyHealth, observe, updateSource, verdictOf } from '../../agent/health/index.ts';
import { loadDefaults } from '../../agent/rules/load.ts';
import { nvmlControl } from '../../scripts/standin/nvml-control.ts';
import type { NvmlControl } from '../../scripts/standin/nvml-control.ts';
import { buildNative, collector, DCGM_LIB, maxTimerLag, NVML_LIB, sleep, tempDir } from './dcgm-harness.ts';
import type { Collector } from './dcgm-harness.ts';

const rules = loadDefaults();
const ALL_EVENTS = Object.values(EVENT).reduce((a, b) => a | b, 0);
const UUID0 = 'GPU-5a5a5a5a-0000-4000-8000-000000005000';
const UUID1 = 'GPU-5a5a5a5a-0000-4000-8000-000000005001';

function options(extra: Partial<GpuSourceOptions> = {}): GpuSourceOptions {
  return {
    backend: 'nvml',
    dcgmAddress: 'unix:///nonexistent/gha/hostengine.sock',
    nvmlLibPath: NVML_LIB,
    intervalMs: 100,
    callTimeoutMs: 400,
    reconnectMinMs: 100,
    reconnectMaxMs: 300,
    ...extra,
  };
}

function verdictFrom(c: Collector) {
  const now = Date.now();
  let state = updateSource(emptyHealth('boot-test'), { source: 'kmsg', state: 'up', since: now, detail: '', caughtUp: true }, now).state;
  for (const o of c.observations) state = observe(state, o, rules, o.at).state;
  return verdictOf(state, now);
}

describe('NVML source against the stand-in library', () => {
  let dir: string;
  let ctl: NvmlControl;

  before(() => {
    buildNative();
    dir = tempDir('gha-nvml-');
    const file = path.join(dir, 'control');
    fs.writeFileSync(file, 'gpus 2\n');
    // The stand-in reads the real process environment (getenv), set before it loads.
    process.env.NVML_STANDIN_CONTROL = file;
    ctl = nvmlControl(file);
  });
  afterEach(() => {
    ctl.hang(false);
    ctl.gpus(2);
    ctl.driver('580.00.00-standin');
    ctl.unknownField(null);
    for (const gpu of [0, 1]) ctl.supportedEvents(gpu, ALL_EVENTS);
    for (const gpu of [0, 1]) {
      for (const key of ['ecc_dbe_volatile', 'retired_pending', 'remap_pending', 'remap_failure', 'recovery_action']) ctl.set(gpu, key, 0);
    }
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('identity: UUID and normalised PCI of each GPU', async () => {
    const c = collector();
    const src = createNvmlSource(options(), c);
    src.start();
    try {
      const up = await c.waitState('up');
      assert.equal(up.detail, 'NVML 580.00.00-standin (stand-in): 2 GPU(s)');
      const inv = await c.waitFor('inventory', () => c.observations.find((o) => o.evidence.kind === 'gpu-inventory'));
      assert.deepEqual(inv.evidence, {
        kind: 'gpu-inventory',
        gpus: [
          { pci: '0000:10:00.0', uuid: UUID0, index: 0 },
          { pci: '0000:11:00.0', uuid: UUID1, index: 1 },
        ],
      });
    } finally {
      await src.stop();
    }
  });

  it('an Xid event becomes xid evidence on its GPU, and a finding', async () => {
    const c = collector();
    const src = createNvmlSource(options(), c);
    src.start();
    try {
      await c.waitState('up');
      const t = Date.now();
      ctl.xid(1, 79);
      const obs = await c.waitFor('xid', () => c.observations.find((o) => o.evidence.kind === 'xid'));
      assert.deepEqual(obs.evidence, {
        kind: 'xid', gpu: { pci: '0000:11:00.0', uuid: UUID1, index: 1 }, code: 79, pid: null, processName: null, text: 'NVML Xid event 79',
      });
      assert.equal(obs.source, 'nvml');
      assert.ok(obs.at - t < 1000, `event seen ${obs.at - t} ms after injection`);
      const v = verdictFrom(c);
      assert.equal(v.status, 'False');
      assert.equal(v.reason, 'NvidiaXID79Error');
    } finally {
      await src.stop();
    }
  });

  it('counters: volatile DBE, row remap failure, recovery action', async () => {
    const c = collector();
    const src = createNvmlSource(options(), c);
    src.start();
    try {
      await c.waitState('up');
      ctl.set(0, 'ecc_dbe_volatile', 2);
      ctl.set(1, 'remap_failure', 1);
      ctl.set(1, 'recovery_action', 2);
      await c.waitFor('three faults', () => c.observations.filter((o) => o.evidence.kind !== 'gpu-inventory').length >= 3);
      await sleep(300);
      const ev = c.observations.filter((o) => o.evidence.kind !== 'gpu-inventory').map((o) => o.evidence);
      assert.deepEqual(ev, [
        { kind: 'counter', gpu: { pci: '0000:10:00.0', uuid: UUID0, index: 0 }, counter: 'ecc-dbe-volatile', value: 2 },
        { kind: 'counter', gpu: { pci: '0000:11:00.0', uuid: UUID1, index: 1 }, counter: 'row-remap-failure', value: 1 },
        {
          kind: 'recovery-action',
          gpu: { pci: '0000:11:00.0', uuid: UUID1, index: 1 },
          from: { code: 0, name: 'NVML_GPU_RECOVERY_ACTION_NONE' },
          to: { code: 2, name: 'NVML_GPU_RECOVERY_ACTION_NODE_REBOOT' },
        },
      ]);
      assert.equal(verdictFrom(c).status, 'False');
    } finally {
      await src.stop();
    }
  });

  it('a driver like R535 (no recovery-action field, fewer event types): up, the status names what is missing, the rest still counts', async () => {
    ctl.driver('535.309.01');
    ctl.unknownField(FI.GET_GPU_RECOVERY_ACTION);
    const r535Events = EVENT.SingleBitEccError | EVENT.DoubleBitEccError | EVENT.XidCriticalError;
    ctl.supportedEvents(0, r535Events);
    ctl.supportedEvents(1, r535Events & ~EVENT.DoubleBitEccError); // a GPU without ECC events
    const c = collector();
    const src = createNvmlSource(options(), c);
    src.start();
    try {
      const up = await c.waitFor('counters read', () => c.statuses.find((s) => s.state === 'up' && s.detail.includes('not available')));
      assert.equal(
        up.detail,
        'NVML 535.309.01 (stand-in): 2 GPU(s); not available: DoubleBitEccError events on GPU 1, DramRetirementFailure events (R560+), GpuRecoveryAction events (R570+), recovery action (R570+)',
      );
      ctl.set(1, 'recovery_action', 2); // the driver cannot say it: no evidence
      ctl.set(0, 'ecc_dbe_volatile', 1);
      ctl.xid(0, 79);
      await c.waitFor('dbe and xid', () => c.observations.some((o) => o.evidence.kind === 'xid') && c.observations.some((o) => o.evidence.kind === 'counter'));
      await sleep(300);
      assert.deepEqual(c.observations.map((o) => o.evidence.kind).filter((k) => k !== 'gpu-inventory').sort(), ['counter', 'xid']);
    } finally {
      await src.stop();
    }
  });

  it('fewer GPUs than expected on two reads: device-count evidence', async () => {
    const c = collector();
    const src = createNvmlSource(options({ expectedGpus: 2 }), c);
    src.start();
    try {
      await c.waitState('up');
      ctl.gpus(1);
      const obs = await c.waitFor('device-count', () => c.observations.find((o) => o.evidence.kind === 'device-count'));
      assert.deepEqual(obs.evidence, { kind: 'device-count', visible: 1, expected: 2 });
    } finally {
      await src.stop();
    }
  });

  it('a hung driver: hung status, no evidence, responsive event loop, recovers', async (t) => {
    const c = collector();
    const src = createNvmlSource(options({ hungAbandonMs: 60_000 }), c);
    src.start();
    try {
      await c.waitState('up');
      const before = c.observations.length;
      ctl.hang(true);
      const { result: hung, maxLagMs } = await maxTimerLag(async () => {
        const s = await c.waitState('hung', 3000);
        await sleep(600);
        return s;
      });
      assert.match(hung.detail, /did not return within \d+ ms/);
      // A blocked loop would lag for the whole hang (> 1 s here); the margin absorbs a busy shared CPU.
      assert.ok(maxLagMs < 300, `event loop lag during the hang: ${maxLagMs.toFixed(1)} ms`);
      t.diagnostic(`max timer lag during the NVML hang: ${maxLagMs.toFixed(1)} ms`);
      ctl.xid(0, 48); // happens while wedged
      await sleep(100);
      assert.equal(c.observations.length, before, 'nothing while hung');
      ctl.hang(false);
      await c.waitState('up', 3000);
      // The wait that timed out returns with the event once the driver recovers: not lost.
      const xid = await c.waitFor('late xid', () => c.observations.find((o) => o.evidence.kind === 'xid'));
      assert.equal(xid.evidence.kind === 'xid' && xid.evidence.code, 48);
    } finally {
      await src.stop();
    }
  });

  it('a library that does not load: down, never evidence', async () => {
    const c = collector();
    const src = createNvmlSource(options({ nvmlLibPath: path.join(dir, 'libnvidia-ml.so.1') }), c);
    src.start();
    try {
      const down = await c.waitState('down');
      assert.match(down.detail, /libnvidia-ml\.so\.1/);
      await sleep(300);
      assert.equal(c.observations.length, 0);
      assert.equal(verdictFrom(c).status, 'True');
    } finally {
      await src.stop();
    }
  });

  it("backend 'auto' falls back to NVML when no host engine answers", async () => {
    const c = collector();
    const src = createGpuSource(options({ backend: 'auto', dcgmLibPath: DCGM_LIB, callTimeoutMs: 400 }), c);
    src.start();
    try {
      await c.waitState('up', 5000, 'nvml');
      assert.equal(src.backend(), 'nvml');
      assert.equal(c.last('dcgm')?.state, 'disabled');
      await c.waitFor('inventory', () => c.observations.find((o) => o.evidence.kind === 'gpu-inventory'));
      assert.equal(c.observations.filter((o) => o.evidence.kind === 'gpu-inventory').length, 1);
    } finally {
      await src.stop();
    }
  });
});
