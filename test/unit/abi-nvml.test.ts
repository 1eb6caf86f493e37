// Pins NVML's ABI as the binding declares it to reference/dcgm-nvml-api.md
// (nvml.h, API 13). The probe in test/integration/nvml-abi-probe.test.ts checks
// the same declarations against NVIDIA's own nvml.h and the stand-in's header.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import koffi from 'koffi';
import { EVENT, EventData, FI, FieldValue, NVML, OFFSET, PciInfo, STANDIN_MARKER, VALUE_TYPE, WANTED_EVENTS } from '../../agent/sources/nvml/abi.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('NVML ABI constants (reference values)', () => {
  it('struct sizes and offsets', () => {
    assert.equal(koffi.sizeof(PciInfo), 68);
    assert.equal(koffi.offsetof(PciInfo, 'domain'), 16);
    assert.equal(koffi.offsetof(PciInfo, 'bus'), 20);
    assert.equal(koffi.offsetof(PciInfo, 'device'), 24);
    assert.equal(OFFSET.pciBusId, 36);
    assert.equal(koffi.sizeof(EventData), 32);
    assert.equal(OFFSET.evDevice, 0);
    assert.equal(OFFSET.evType, 8);
    assert.equal(OFFSET.evData, 16);
    assert.equal(koffi.offsetof(EventData, 'gpuInstanceId'), 24);
    assert.equal(koffi.offsetof(EventData, 'computeInstanceId'), 28);
    assert.equal(OFFSET.fvSize, 40);
    assert.equal(koffi.offsetof(FieldValue, 'timestamp'), 8);
    assert.equal(koffi.offsetof(FieldValue, 'latencyUsec'), 16);
    assert.equal(OFFSET.fvValueType, 24);
    assert.equal(OFFSET.fvReturn, 28);
    assert.equal(OFFSET.fvValue, 32);
  });

  it('return codes, event bits, field ids, value types', () => {
    assert.equal(NVML.SUCCESS, 0);
    assert.equal(NVML.ERROR_NOT_SUPPORTED, 3);
    assert.equal(NVML.ERROR_TIMEOUT, 10);
    assert.equal(NVML.ERROR_GPU_IS_LOST, 15);
    assert.equal(NVML.ERROR_UNKNOWN, 999);
    assert.equal(EVENT.XidCriticalError, 0x8);
    assert.equal(EVENT.DoubleBitEccError, 0x2);
    assert.equal(EVENT.GpuRecoveryAction, 0x8000);
    assert.equal(WANTED_EVENTS, 0x8 | 0x2 | 0x800 | 0x8000);
    assert.deepEqual({ ...FI }, { ECC_DBE_VOL_TOTAL: 4, RETIRED_PENDING: 31, REMAPPED_PENDING: 144, GET_GPU_RECOVERY_ACTION: 230 });
    assert.equal(VALUE_TYPE.UNSIGNED_INT, 1);
    assert.equal(VALUE_TYPE.UNSIGNED_LONG_LONG, 3);
  });
});

describe('NVML stand-in library', () => {
  it('says it is a stand-in', () => {
    execFileSync('bash', [path.join(ROOT, 'native/build.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
    const lib = koffi.load(path.join(ROOT, 'native/build/libnvidia-ml.so.1'));
    const marker = lib.func(STANDIN_MARKER) as () => string;
    assert.match(marker(), /stand-in.*not NVIDIA NVML/);
  });
});
