// The NVML binding and source against NVIDIA's own libnvidia-ml.so.1 (driver 535,
// Debian's libnvidia-ml1; scripts/nvidia-artifacts.sh fetches it). There is no GPU
// and no kernel driver here, so NVIDIA's library loads, resolves every function and
// answers nvmlInit_v2 with NVML_ERROR_DRIVER_NOT_LOADED: what a GPU node whose
// driver is missing or broken shows. The source must say so, in NVIDIA's words,
// and never turn it into evidence.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import koffi from 'koffi';
import { FUNCTIONS, NVML, NVML_NAMES, STANDIN_MARKER } from '../../agent/sources/nvml/abi.ts';
import { NvmlBinding, NvmlError } from '../../agent/sources/nvml/binding.ts';
import { createNvmlSource } from '../../agent/sources/nvml/source.ts';
import { createGpuSource } from '../../agent/sources/backend/index.ts';
import type { GpuSourceOptions } from '../../agent/sources/gpu/types.ts';
import { emptyHealth, updateSource, verdictOf } from '../../agent/health/index.ts';
import { collector, DCGM_LIB, sleep, tempDir } from './dcgm-harness.ts';
import { DRIVER_NOT_LOADED, nvidiaArtifacts, type NvidiaArtifacts } from '../helpers/nvidia-artifacts.ts';

describe("NVIDIA's libnvidia-ml.so.1 (driver 535) through the binding", () => {
  let a: NvidiaArtifacts;
  let options: (extra?: Partial<GpuSourceOptions>) => GpuSourceOptions;
  before(() => {
    a = nvidiaArtifacts();
    const dir = tempDir('gha-nvr-');
    options = (extra = {}) => ({
      backend: 'nvml', dcgmAddress: `unix://${dir}/no-hostengine.sock`, dcgmLibPath: DCGM_LIB, nvmlLibPath: a.lib,
      intervalMs: 100, callTimeoutMs: 2000, reconnectMinMs: 100, reconnectMaxMs: 200, ...extra,
    });
  });

  it('exports every function the binding declares, and not the stand-in marker', (t) => {
    t.diagnostic(a.libFrom);
    const lib = koffi.load(a.lib);
    const missing = Object.values(FUNCTIONS).filter((proto) => {
      try {
        lib.func(proto);
        return false;
      } catch {
        return true;
      }
    });
    assert.deepEqual(missing, [], 'functions NVIDIA\'s library does not export');
    assert.throws(() => lib.func(STANDIN_MARKER), /nvmlStandinVersion/);
    const b = new NvmlBinding(a.lib);
    assert.equal(b.standin, null, 'NVIDIA\'s library is not the stand-in');
  });

  it('nvmlInit_v2 without a kernel driver: NVML_ERROR_DRIVER_NOT_LOADED, in NVIDIA\'s words', () => {
    const b = new NvmlBinding(a.lib);
    assert.throws(() => b.init(), (e: unknown) => {
      assert.ok(e instanceof NvmlError);
      assert.equal(e.code, NVML.ERROR_DRIVER_NOT_LOADED);
      assert.equal(e.message, DRIVER_NOT_LOADED);
      return true;
    });
  });

  it('nvmlErrorString knows every return code the binding names (a wrong number reads "Unknown Error")', () => {
    const lib = koffi.load(a.lib);
    const errorString = lib.func(FUNCTIONS.errorString) as (code: number) => string;
    const unknown = Object.entries(NVML)
      .filter(([k, code]) => k !== 'ERROR_UNKNOWN' && errorString(code) === errorString(NVML.ERROR_UNKNOWN))
      .map(([, code]) => NVML_NAMES[code]);
    assert.deepEqual(unknown, []);
    assert.equal(errorString(NVML.ERROR_UNKNOWN), 'Unknown Error');
  });

  it('the NVML source: down with NVIDIA\'s error, never evidence; the verdict stays True', async () => {
    const c = collector();
    const src = createNvmlSource(options(), c);
    src.start();
    try {
      const down = await c.waitState('down');
      assert.equal(down.detail, `${a.lib}: ${DRIVER_NOT_LOADED}`);
      await sleep(500); // past several reconnect attempts
      assert.equal(c.observations.length, 0);
      const now = Date.now();
      let state = updateSource(emptyHealth('boot-test'), { source: 'kmsg', state: 'up', since: now, detail: '', caughtUp: true }, now).state;
      state = updateSource(state, down, now).state;
      assert.equal(verdictOf(state, now).status, 'True');
    } finally {
      await src.stop();
    }
  });

  it("backend 'auto' without a host engine: NVML down with NVIDIA's error (not just \"did not load\"), DCGM disabled", async () => {
    const c = collector();
    const src = createGpuSource(options({ backend: 'auto' }), c);
    src.start();
    try {
      const down = await c.waitState('down', 5000, 'nvml');
      assert.equal(down.detail, `${a.lib}: ${DRIVER_NOT_LOADED}`);
      assert.equal(src.backend(), 'nvml');
      assert.match(c.last('dcgm')?.detail ?? '', /^gpu backend auto: no DCGM host engine at unix:\/\//);
      assert.equal(c.last('dcgm')?.state, 'disabled');
      assert.equal(c.observations.length, 0);
    } finally {
      await src.stop();
    }
  });
});
