// The DCGM source through the real koffi binding, the stand-in libdcgm.so.4 and
// a stand-in host engine on a real unix socket. Faults are injected the way
// `dcgmi test --inject` injects them; failures of the engine itself must only
// ever change the source's status.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createDcgmSource } from '../../agent/sources/dcgm/source.ts';
import { createGpuSource } from '../../agent/sources/backend/index.ts';
import type { GpuSourceOptions } from '../../agent/sources/gpu/types.ts';
import type { Observation } from '../../agent/model/evidence.ts';
import { emptyHealth, observe, updateSource, verdictOf } from '../../agent/health/index.ts';
import { loadDefaults } from '../../agent/rules/load.ts';
import { addIncident, engineState, injectField, setGarbage, setHang, setVisibleGpus } from '../../scripts/standin/dcgm-control.ts';
import { gpuPciBusId, gpuUuid } from '../../scripts/standin/dcgm-engine.ts';
import { buildNative, collector, DCGM3_LIB, DCGM_LIB, maxTimerLag, sleep, standinCli, startEngine, tempDir } from './dcgm-harness.ts';
import type { Collector, Engine } from './dcgm-harness.ts';

const rules = loadDefaults();
const PCI1 = '0000:11:00.0';

function options(socket: string, extra: Partial<GpuSourceOptions> = {}): GpuSourceOptions {
  return {
    backend: 'dcgm',
    dcgmAddress: `unix://${socket}`,
    dcgmLibPath: DCGM_LIB,
    intervalMs: 100,
    callTimeoutMs: 400,
    reconnectMinMs: 100,
    reconnectMaxMs: 300,
    ...extra,
  };
}

/** Health state fed with a kernel log that is up plus everything the collector saw. */
function verdictFrom(c: Collector, extra: Observation[] = []) {
  const now = Date.now();
  let state = updateSource(emptyHealth('boot-test'), { source: 'kmsg', state: 'up', since: now, detail: '', caughtUp: true }, now).state;
  const last = c.last('dcgm');
  if (last) state = updateSource(state, last, now).state;
  for (const o of [...c.observations, ...extra].sort((a, b) => a.at - b.at)) state = observe(state, o, rules, o.at).state;
  return { state, verdict: verdictOf(state, now) };
}

const faults = (c: Collector) => c.observations.filter((o) => o.evidence.kind !== 'gpu-inventory');

describe('DCGM source against the stand-in host engine', () => {
  let dir: string;
  let socket: string;
  let engine: Engine;

  before(async () => {
    buildNative();
    dir = tempDir('gha-dcgm-');
    socket = path.join(dir, 'he.sock');
    engine = await startEngine(socket, 2);
  });
  after(async () => {
    await engine.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('enumerates GPUs with UUID and normalised PCI bus id', async () => {
    const c = collector();
    const src = createDcgmSource(options(socket), c);
    src.start();
    try {
      const up = await c.waitState('up');
      assert.equal(up.caughtUp, true);
      const inv = await c.waitFor('inventory', () => c.observations.find((o) => o.evidence.kind === 'gpu-inventory'));
      assert.equal(inv.source, 'dcgm');
      assert.deepEqual(inv.evidence, {
        kind: 'gpu-inventory',
        gpus: [
          { pci: '0000:10:00.0', uuid: gpuUuid(0), index: 0 },
          { pci: PCI1, uuid: gpuUuid(1), index: 1 },
        ],
      });
      assert.equal(gpuPciBusId(1), '00000000:11:00.0', 'the engine reports DCGM-style ids; the source normalises them');
      const st = await engineState(socket);
      assert.equal(st.healthSystems, 0xffffffff, 'health watches set on all systems');
      // The NVSwitch fabric fields (170, 174) in a field group of their own.
      assert.deepEqual(st.watched, [170, 174, 230, 311, 392, 395, 396, 439, 1523]);
    } finally {
      await src.stop();
    }
  });

  it('an injected double-bit ECC error becomes counter evidence and condition False NvidiaDoubleBitError', async () => {
    const c = collector();
    const src = createDcgmSource(options(socket), c);
    src.start();
    try {
      await c.waitState('up');
      await injectField(socket, 0, 311, 1); // DCGM_FI_DEV_ECC_DBE_VOL_TOTAL
      const obs = await c.waitFor('ecc counter', () => c.observations.find((o) => o.evidence.kind === 'counter'));
      assert.deepEqual(obs.evidence, {
        kind: 'counter',
        gpu: { pci: '0000:10:00.0', uuid: gpuUuid(0), index: 0 },
        counter: 'ecc-dbe-volatile',
        value: 1,
      });
      await sleep(300); // more probes: the same value is not reported again
      assert.equal(c.observations.filter((o) => o.evidence.kind === 'counter').length, 1);
      const { verdict } = verdictFrom(c);
      assert.equal(verdict.status, 'False');
      assert.equal(verdict.reason, 'NvidiaDoubleBitError');
    } finally {
      await src.stop();
      await injectField(socket, 0, 311, 0);
    }
  });

  it('Xid 79 injected with the CLI: xid evidence on the right PCI, counted once with the kernel log record', async () => {
    const c = collector();
    const src = createDcgmSource(options(socket), c);
    src.start();
    try {
      await c.waitState('up');
      standinCli(['inject', '--socket', socket, '--gpu', '1', '--field', '230', '--value', '79']);
      const obs = await c.waitFor('xid', () => c.observations.find((o) => o.evidence.kind === 'xid'));
      assert.equal(obs.evidence.kind, 'xid');
      assert.equal(obs.evidence.code, 79);
      assert.deepEqual(obs.evidence.gpu, { pci: PCI1, uuid: gpuUuid(1), index: 1 });
      assert.ok(Math.abs(obs.at - Date.now()) < 5000, 'at is the sample time');
      await sleep(300);
      // DCGM also reports Xid 79 as a sticky health incident with system 0xFFFFFFFF: dropped.
      assert.deepEqual(faults(c).map((o) => o.evidence.kind), ['xid']);
      // The kernel log saw the same fault.
      const kmsg: Observation = {
        evidence: { kind: 'xid', gpu: { pci: PCI1 }, code: 79, pid: null, processName: null, text: `NVRM: Xid (PCI:${PCI1}): 79, GPU has fallen off the bus.` },
        source: 'kmsg',
        at: obs.at + 300,
        drill: false,
      };
      const { state, verdict } = verdictFrom(c, [kmsg]);
      assert.equal(verdict.status, 'False');
      assert.equal(verdict.reason, 'NvidiaXID79Error');
      const gpus = [...state.gpus.values()].filter((g) => g.findings.size > 0);
      assert.equal(gpus.length, 1, 'one GPU has findings');
      const findings = [...gpus[0]!.findings.values()];
      assert.equal(findings.length, 1, 'one finding');
      assert.equal(findings[0]!.count, 1, 'counted once');
      assert.deepEqual([...findings[0]!.sources].sort(), ['dcgm', 'kmsg']);
    } finally {
      await src.stop();
    }
  });

  it('health incidents: FAIL and WARN become dcgm-health evidence once each', async () => {
    const c = collector();
    const src = createDcgmSource(options(socket), c);
    src.start();
    try {
      await c.waitState('up');
      await addIncident(socket, { gpu: 1, system: 'nvlink', result: 'fail', code: 14, message: 'NVLink link 3 is down' });
      await addIncident(socket, { gpu: 0, system: 'pcie', result: 'warn', code: 3, message: 'PCIe replay rate high' });
      await c.waitFor('two incidents', () => c.observations.filter((o) => o.evidence.kind === 'dcgm-health').length >= 2);
      await sleep(300);
      const inc = c.observations.filter((o) => o.evidence.kind === 'dcgm-health').map((o) => o.evidence);
      assert.deepEqual(inc, [
        { kind: 'dcgm-health', gpu: { pci: PCI1, uuid: gpuUuid(1), index: 1 }, system: 'nvlink', result: 'fail', code: 14, message: 'NVLink link 3 is down' },
        { kind: 'dcgm-health', gpu: { pci: '0000:10:00.0', uuid: gpuUuid(0), index: 0 }, system: 'pcie', result: 'warn', code: 3, message: 'PCIe replay rate high' },
      ]);
    } finally {
      await src.stop();
      standinCli(['clear', '--socket', socket]);
    }
  });

  it('fewer GPUs than expected on two probes: device-count evidence, NvidiaDeviceCountMismatch', async () => {
    const c = collector();
    const src = createDcgmSource(options(socket, { expectedGpus: () => 2 }), c);
    src.start();
    try {
      await c.waitState('up');
      await sleep(250);
      assert.equal(faults(c).length, 0, 'two of two: nothing to report');
      await setVisibleGpus(socket, 1);
      const obs = await c.waitFor('device-count', () => c.observations.find((o) => o.evidence.kind === 'device-count'));
      assert.deepEqual(obs.evidence, { kind: 'device-count', visible: 1, expected: 2 });
      await sleep(300);
      assert.equal(c.observations.filter((o) => o.evidence.kind === 'device-count').length, 1);
      // Fatal only when the PCI bus agrees a GPU is gone; with both still on it, a warning.
      const bus = (gpus: string[]): Observation => ({
        evidence: { kind: 'bus-scan', gpus, switches: [], ports: [], aerCounters: [], expectedGpus: null }, source: 'sysfs', at: 0, drill: false,
      });
      assert.equal(verdictFrom(c, [bus(['0000:3b:00.0'])]).verdict.reason, 'NvidiaDeviceCountMismatch');
      const unconfirmed = verdictFrom(c, [bus(['0000:3b:00.0', '0000:86:00.0'])]);
      assert.equal(unconfirmed.verdict.status, 'True');
      assert.ok([...unconfirmed.state.gpus.values()].some((g) => [...g.findings.values()].some((f) => f.entry.reason === 'NvidiaDeviceCountMismatchWarning')));
      // The count back clears it: level evidence, not a latch until the next reboot.
      await setVisibleGpus(socket, 2);
      await c.waitFor('count back', () => c.observations.filter((o) => o.evidence.kind === 'device-count').length === 2 || undefined);
      assert.equal(verdictFrom(c, [bus(['0000:3b:00.0'])]).verdict.status, 'True');
    } finally {
      await src.stop();
      await setVisibleGpus(socket, 2);
    }
  });

  it('hang: the call times out, the source is hung, nothing piles up, the event loop stays responsive', async (t) => {
    const c = collector();
    const src = createDcgmSource(options(socket, { hungAbandonMs: 60_000 }), c);
    src.start();
    try {
      await c.waitState('up');
      const before = c.observations.length;
      await setHang(socket, true);
      const { result: hung, maxLagMs } = await maxTimerLag(async () => {
        const s = await c.waitState('hung', 3000);
        await sleep(600); // several intervals while hung
        return s;
      });
      assert.match(hung.detail, /did not return within 400 ms/);
      // A blocked loop would lag for the whole hang (> 1 s here); the margin absorbs a busy shared CPU.
      assert.ok(maxLagMs < 300, `event loop lag during the hang: ${maxLagMs.toFixed(1)} ms`);
      t.diagnostic(`max timer lag during the DCGM hang: ${maxLagMs.toFixed(1)} ms`);
      const st = await engineState(socket);
      assert.equal(st.parked, 1, 'exactly one DCGM call outstanding: none stacked behind the hung one');
      assert.equal(c.observations.length, before, 'no evidence from a hung engine');
      assert.equal(verdictFrom(c).verdict.status, 'True');
      await setHang(socket, false);
      await c.waitState('up', 3000);
    } finally {
      await setHang(socket, false);
      await src.stop();
    }
  });

  it('a call stuck past hungAbandonMs: its thread is abandoned once, never stacked; recovers after', async () => {
    const c = collector();
    const src = createDcgmSource(options(socket, { hungAbandonMs: 300 }), c);
    src.start();
    try {
      await c.waitState('up');
      await setHang(socket, true);
      await c.waitFor('second stuck call', () => c.statuses.find((s) => /earlier call is still stuck/.test(s.detail)), 5000);
      await sleep(700);
      const st = await engineState(socket);
      assert.ok(Number(st.parked) <= 2, `at most the abandoned call and one more outstanding, got ${String(st.parked)}`);
      assert.equal(c.last('dcgm')?.state, 'hung');
      await setHang(socket, false);
      await c.waitState('up', 5000);
    } finally {
      await setHang(socket, false);
      await src.stop();
    }
  });

  it('garbage from the engine: down, never evidence; recovers when it answers properly', async () => {
    const c = collector();
    const src = createDcgmSource(options(socket), c);
    src.start();
    try {
      await c.waitState('up');
      const before = c.observations.length;
      await setGarbage(socket, 'values');
      const down1 = await c.waitState('down');
      assert.match(down1.detail, /incidentCount 99999 > 1024/);
      await setGarbage(socket, 'off');
      await c.waitState('up');
      await setGarbage(socket, 'bytes');
      const down2 = await c.waitState('down');
      assert.match(down2.detail, /DCGM_ST_CONNECTION_NOT_VALID/);
      await sleep(200);
      assert.equal(c.observations.length, before);
      assert.equal(verdictFrom(c).verdict.status, 'True');
      await setGarbage(socket, 'off');
      await c.waitState('up');
    } finally {
      await setGarbage(socket, 'off');
      await src.stop();
    }
  });

  it("backend 'auto' takes DCGM when the host engine answers", async () => {
    const c = collector();
    const src = createGpuSource({ ...options(socket), backend: 'auto' }, c);
    src.start();
    try {
      await c.waitState('up', 5000, 'dcgm');
      assert.equal(src.backend(), 'dcgm');
      assert.equal(c.last('nvml')?.state, 'disabled');
    } finally {
      await src.stop();
    }
  });

  it('a DCGM 3 library gets the v4 health response and still reports incidents', async () => {
    const c = collector();
    const src = createDcgmSource(options(socket, { dcgmLibPath: DCGM3_LIB }), c);
    src.start();
    try {
      const up = await c.waitFor('connected', () => c.statuses.find((s) => /DCGM 3/.test(s.detail)));
      assert.match(up.detail, /DCGM 3, stand-in/);
      await addIncident(socket, { gpu: 0, system: 'mem', result: 'fail', code: 4, message: 'volatile DBE' });
      const obs = await c.waitFor('incident', () => c.observations.find((o) => o.evidence.kind === 'dcgm-health'));
      assert.equal(obs.evidence.kind === 'dcgm-health' && obs.evidence.code, 4);
    } finally {
      await src.stop();
      standinCli(['clear', '--socket', socket]);
    }
  });
});

describe('DCGM source against a host engine that does not know the fabric fields (an older DCGM)', () => {
  it('watches everything else, says so in its status, and still reports faults', async () => {
    buildNative();
    const dir = tempDir('gha-dcgm-');
    const socket = path.join(dir, 'he.sock');
    const engine = await startEngine(socket, 1, ['--without-fields', '170,174']);
    const c = collector();
    const src = createDcgmSource(options(socket), c);
    src.start();
    try {
      const up = await c.waitState('up');
      assert.match(up.detail, /fabric fields not watched: dcgmFieldGroupCreate: DCGM_ST_UNKNOWN_FIELD/);
      assert.deepEqual((await engineState(socket)).watched, [230, 311, 392, 395, 396, 439, 1523]);
      await injectField(socket, 0, 311, 1);
      await c.waitFor('ecc counter', () => c.observations.find((o) => o.evidence.kind === 'counter'));
    } finally {
      await src.stop();
      await engine.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('DCGM source when the host engine goes away', () => {
  it('absent socket: down with the DCGM error, no evidence; up when the engine appears; down and back on restart', async () => {
    buildNative();
    const dir = tempDir('gha-dcgm-');
    const socket = path.join(dir, 'he.sock');
    const c = collector();
    const src = createDcgmSource(options(socket), c);
    src.start();
    let engine: Engine | null = null;
    try {
      const down = await c.waitState('down');
      assert.match(down.detail, /dcgmConnect_v2: DCGM_ST_CONNECTION_NOT_VALID \(-21\)/);
      assert.equal(c.observations.length, 0);
      assert.equal(verdictFrom(c).verdict.status, 'True', 'an unreachable host engine never makes the node False');

      engine = await startEngine(socket, 2);
      await c.waitState('up', 5000);
      await injectField(socket, 0, 311, 3);
      await c.waitFor('counter', () => c.observations.find((o) => o.evidence.kind === 'counter'));
      const seen = c.observations.length;

      await engine.stop();
      assert.equal(fs.existsSync(socket), false, 'socket removed');
      const lost = await c.waitState('down');
      assert.match(lost.detail, /CONNECTION_NOT_VALID/);
      await sleep(400);
      assert.equal(c.observations.length, seen, 'no evidence while down');
      const { verdict } = verdictFrom(c);
      assert.equal(verdict.reason, 'NvidiaDoubleBitError', 'the earlier hardware finding stays; the outage adds nothing');
      assert.match(verdict.message, /Sources down: .*unreachable/);

      engine = await startEngine(socket, 2);
      await c.waitState('up', 5000);
      await sleep(300);
      assert.equal(c.observations.length, seen, 'a restarted engine with the same GPUs adds no evidence');
    } finally {
      await src.stop();
      await engine?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('connects over TCP host:port too', async () => {
    buildNative();
    const dir = tempDir('gha-dcgm-');
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (probe.address() as net.AddressInfo).port;
        probe.close(() => resolve(p));
      });
    });
    const engine = await startEngine(path.join(dir, 'he.sock'), 1, ['--port', String(port)]);
    const c = collector();
    const src = createDcgmSource({ ...options('unused'), dcgmAddress: `127.0.0.1:${port}` }, c);
    src.start();
    try {
      await c.waitState('up');
      const inv = await c.waitFor('inventory', () => c.observations.find((o) => o.evidence.kind === 'gpu-inventory'));
      assert.equal(inv.evidence.kind === 'gpu-inventory' && inv.evidence.gpus.length, 1);
    } finally {
      await src.stop();
      await engine.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
