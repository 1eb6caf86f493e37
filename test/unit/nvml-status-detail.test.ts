// The NVML source's status detail: which readings the driver or GPU lacks, with
// the release that added each (abi.ts NEWER_THAN_R535), and per-GPU errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EVENT, WANTED_EVENTS } from '../../agent/sources/nvml/abi.ts';
import { nvmlStatusDetail } from '../../agent/sources/nvml/status-detail.ts';
import type { CountersResult, NvmlCounters, NvmlGpu, OpenResult } from '../../agent/sources/nvml/worker.ts';

const gpu = (index: number, events = WANTED_EVENTS): NvmlGpu => ({ index, uuid: `GPU-${index}`, pciBusId: `00000000:1${index}:00.0`, name: 'x', events });
const counters = (index: number, extra: Partial<NvmlCounters> = {}): NvmlCounters => ({
  index, eccDbeVolatile: 0, retiredPagesDbe: 0, retiredPagesPending: 0, remapPending: 0, remapFailure: 0, recoveryAction: 0, error: null, ...extra,
});
const open = (gpus: NvmlGpu[], driverVersion = '580.65.06'): OpenResult => ({ driverVersion, standin: null, gpus });
const read = (gpus: NvmlCounters[]): CountersResult => ({ count: gpus.length, gpus });

test('every reading offered: driver and GPU count only', () => {
  assert.equal(nvmlStatusDetail(open([gpu(0), gpu(1)]), read([counters(0), counters(1)])), 'NVML 580.65.06: 2 GPU(s)');
  assert.equal(nvmlStatusDetail({ ...open([gpu(0)]), standin: 'x' }, null), 'NVML 580.65.06 (stand-in): 1 GPU(s)');
});

test('an R535 driver: the recovery-action field and the newer events are named with the release that has them', () => {
  const r535 = WANTED_EVENTS & ~(EVENT.DramRetirementFailure | EVENT.GpuRecoveryAction);
  const o = open([gpu(0, r535), gpu(1, r535)], '535.309.01');
  assert.equal(
    nvmlStatusDetail(o, read([counters(0, { recoveryAction: null }), counters(1, { recoveryAction: null })])),
    'NVML 535.309.01: 2 GPU(s); not available: DramRetirementFailure events (R560+), GpuRecoveryAction events (R570+), recovery action (R570+)',
  );
  // Before the first counter read only the event gaps are known.
  assert.equal(nvmlStatusDetail(o, null), 'NVML 535.309.01: 2 GPU(s); not available: DramRetirementFailure events (R560+), GpuRecoveryAction events (R570+)');
});

test('a reading one GPU lacks names that GPU; a GPU whose read failed shows its error, not gaps', () => {
  const detail = nvmlStatusDetail(
    open([gpu(0), gpu(1), gpu(2)]),
    read([counters(0), counters(1, { eccDbeVolatile: null, remapPending: null }), { ...counters(2), eccDbeVolatile: null, error: 'nvmlDeviceGetRemappedRows: NVML_ERROR_GPU_IS_LOST (15): GPU is lost' }]),
  );
  assert.equal(detail, 'NVML 580.65.06: 3 GPU(s); GPU 2: nvmlDeviceGetRemappedRows: NVML_ERROR_GPU_IS_LOST (15): GPU is lost; not available: volatile ECC counts on GPU 1, row remapping on GPU 1');
});
