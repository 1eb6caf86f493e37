// The binding's NVML ABI (agent/sources/nvml/abi.ts) against NVIDIA's own nvml.h:
// a C probe generated from the binding's declarations is compiled against the
// header and prints every size, alignment, offset and constant; each must equal
// koffi's / the binding's, and every prototype must be the header's. The same
// probe runs against R535's header (minus what R535 lacks, which must then be
// absent there) and against the stand-in's header.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NEWER_THAN_R535 } from '../../agent/sources/nvml/abi.ts';
import { differences, functionTypes, lacks, probeChecks } from '../helpers/nvml-abi-probe.ts';
import { nvidiaArtifacts, type NvidiaArtifacts } from '../helpers/nvidia-artifacts.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const STANDIN_HEADER = path.join(ROOT, 'native/nvml/nvml_standin.h');
const newer = new Set(NEWER_THAN_R535.flatMap((e) => e.names));

describe('NVML ABI probe', () => {
  let a: NvidiaArtifacts;
  before(() => {
    a = nvidiaArtifacts();
  });

  it('covers every struct member, constant and function the binding declares', () => {
    const checks = probeChecks();
    for (const name of ['offsetof nvmlFieldValue_t.value', 'sizeof nvmlPciInfo_t', 'alignof nvmlFieldValue_t', 'NVML_FI_DEV_GET_GPU_RECOVERY_ACTION', 'nvmlEventTypeXidCriticalError', 'NVML_ERROR_DRIVER_NOT_LOADED', 'NVML_DEVICE_UUID_V2_BUFFER_SIZE', 'NVML_GPU_RECOVERY_ACTION_DRAIN_AND_RESET']) {
      assert.ok(checks.some((c) => c.name === name), `the probe checks ${name}`);
    }
    assert.ok(functionTypes().some((f) => f.name === 'nvmlEventSetWait_v2' && f.pointerType === 'nvmlReturn_t (*)(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms)'));
  });

  it("agrees with NVIDIA's nvml.h (today's API)", (t) => {
    t.diagnostic(`${a.headerFrom}: ${probeChecks().length} values, ${functionTypes().length} prototypes`);
    assert.deepEqual(differences(a.header, `nvml.h (${a.headerFrom})`), []);
  });

  it("agrees with R535's nvml.h, except what R535 lacks, which it really lacks", (t) => {
    t.diagnostic(`${a.headerR535From}; left out: ${[...newer].join(', ')}`);
    assert.deepEqual(differences(a.headerR535, `nvml.h (${a.headerR535From})`, newer), []);
    const present = [...newer].filter((name) => !lacks(a.headerR535, name));
    assert.deepEqual(present, [], 'listed in NEWER_THAN_R535 but declared by R535');
  });

  it("the stand-in's header agrees with the binding", () => {
    assert.deepEqual(differences(STANDIN_HEADER, 'the stand-in (native/nvml/nvml_standin.h)'), []);
  });
});
