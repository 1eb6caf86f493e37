// Pins DCGM's ABI as the binding declares it to the numbers in
// reference/dcgm-nvml-api.md (DCGM 4.6 headers, checked against NVIDIA's
// CASSERTs), and to the stand-in library's own sizeof/offsetof. A layout slip
// in either fails here, before any call reads the wrong bytes.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import koffi from 'koffi';
import {
  ConnectV2Params,
  DCGM_GROUP_ALL_GPUS,
  DCGM_HEALTH_WATCH_ALL,
  DCGM_INT64_BLANK,
  DCGM_ST,
  DeviceAttributesV3,
  FIELD,
  FABRIC_FIELD,
  FABRIC_MANAGER_STATUS,
  FieldValueV1,
  HEALTH_SYSTEM_NAMES,
  HealthResponseV4,
  HealthResponseV5,
  HealthSetParamsV2,
  HostengineHealth,
  IncidentInfo,
  OFFSET,
  VERSION,
  VersionInfo,
  makeVersion,
} from '../../agent/sources/dcgm/abi.ts';
import { parseDcgmAddress } from '../../agent/sources/dcgm/binding.ts';
import { recoveryAction } from '../../agent/sources/gpu/recovery.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('DCGM ABI constants (reference values)', () => {
  it('struct sizes and version words', () => {
    assert.equal(koffi.sizeof(ConnectV2Params), 16);
    assert.equal(VERSION.connectV2Params, 0x02000010);
    assert.equal(koffi.sizeof(HostengineHealth), 8);
    assert.equal(VERSION.hostengineHealth, 0x01000008);
    assert.equal(koffi.sizeof(VersionInfo), 516);
    assert.equal(VERSION.versionInfo, 0x02000204);
    assert.equal(koffi.sizeof(DeviceAttributesV3), 5220);
    assert.equal(VERSION.deviceAttributes, 0x03001464);
    assert.equal(koffi.sizeof(IncidentInfo), 1044);
    assert.equal(koffi.sizeof(HealthResponseV5), 1_069_068);
    assert.equal(VERSION.healthResponseV5, 0x0510500c);
    assert.equal(koffi.sizeof(HealthResponseV4), 66_828);
    assert.equal(VERSION.healthResponseV4, 0x0401050c);
    assert.equal(koffi.sizeof(HealthSetParamsV2), 40);
    assert.equal(VERSION.healthSetParams, 0x02000028);
    assert.equal(koffi.sizeof(FieldValueV1), 4120);
    assert.equal(VERSION.fieldValueV1, 0x01001018);
    assert.equal(makeVersion(16, 2), 0x02000010);
  });

  it('offsets the decoders read', () => {
    assert.equal(OFFSET.identifiers, 3120);
    assert.equal(OFFSET.deviceName, 3380);
    assert.equal(OFFSET.pciBusId, 3636);
    assert.equal(OFFSET.serial, 3892);
    assert.equal(OFFSET.uuid, 4148);
    assert.equal(koffi.offsetof(DeviceAttributesV3, 'memoryUsage'), 5184);
    assert.equal(koffi.offsetof(DeviceAttributesV3, 'settings'), 5204);
    assert.equal(OFFSET.healthOverall, 4);
    assert.equal(OFFSET.healthIncidentCount, 8);
    assert.equal(OFFSET.healthIncidents, 12);
    assert.equal(OFFSET.incidentHealth, 4);
    assert.equal(OFFSET.incidentMsg, 8);
    assert.equal(OFFSET.incidentCode, 1032);
    assert.equal(OFFSET.incidentEntityGroup, 1036);
    assert.equal(OFFSET.incidentEntityId, 1040);
    assert.equal(koffi.offsetof(HealthSetParamsV2, 'groupId'), 8);
    assert.equal(koffi.offsetof(HealthSetParamsV2, 'systems'), 16);
    assert.equal(koffi.offsetof(HealthSetParamsV2, 'updateInterval'), 24);
    assert.equal(koffi.offsetof(HealthSetParamsV2, 'maxKeepAge'), 32);
    assert.equal(OFFSET.fvFieldId, 4);
    assert.equal(OFFSET.fvFieldType, 6);
    assert.equal(OFFSET.fvStatus, 8);
    assert.equal(OFFSET.fvTs, 16);
    assert.equal(OFFSET.fvValue, 24);
  });

  it('return codes, groups, health systems, blanks', () => {
    assert.deepEqual(
      { ...DCGM_ST },
      {
        OK: 0, BADPARAM: -1, GENERIC_ERROR: -3, NOT_SUPPORTED: -6, UNINITIALIZED: -10, TIMEOUT: -11, VER_MISMATCH: -12,
        UNKNOWN_FIELD: -13, NO_DATA: -14, STALE_DATA: -15, NOT_WATCHED: -16, GPU_IS_LOST: -18, CONNECTION_NOT_VALID: -21,
      },
    );
    assert.equal(DCGM_GROUP_ALL_GPUS, 0x7fffffff);
    assert.equal(DCGM_HEALTH_WATCH_ALL, 0xffffffff);
    assert.equal(DCGM_INT64_BLANK, 0x7ffffffffffffff0n);
    assert.deepEqual(HEALTH_SYSTEM_NAMES, {
      1: 'pcie', 2: 'nvlink', 4: 'pmu', 8: 'mcu', 16: 'mem', 32: 'sm', 64: 'inforom', 128: 'thermal', 256: 'power',
      512: 'driver', 1024: 'nvswitch-nonfatal', 2048: 'nvswitch-fatal', 4096: 'connectx',
    });
  });

  it('field ids', () => {
    assert.deepEqual(
      { ...FIELD },
      {
        XID_ERROR: 230, ECC_DBE_VOL_TOTAL: 311, PAGE_RETIRED_PENDING: 392, ROW_REMAP_FAILED: 395, ROW_REMAP_PENDING: 396,
        NVLINK_RECOVERY_ERROR_TOTAL: 439, GPU_RECOVERY_ACTION: 1523,
      },
    );
    assert.deepEqual(recoveryAction(4), { code: 4, name: 'NVML_GPU_RECOVERY_ACTION_DRAIN_AND_RESET' });
    // dcgm_fields.h DCGM_FI_DEV_FABRIC_MANAGER_STATUS / _HEALTH_MASK; dcgm_structs.h dcgmFabricManagerStatus_t.
    assert.deepEqual({ ...FABRIC_FIELD }, { MANAGER_STATUS: 170, HEALTH_MASK: 174 });
    assert.deepEqual(FABRIC_MANAGER_STATUS, {
      0: 'not-supported', 1: 'not-started', 2: 'in-progress', 3: 'success', 4: 'failure', 5: 'unrecognized', 6: 'nvml-too-old',
    });
  });
});

describe('DCGM ABI: the stand-in library agrees with the binding', () => {
  let layout: (what: string) => number;
  let marker: () => string;
  before(() => {
    execFileSync('bash', [path.join(ROOT, 'native/build.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
    const lib = koffi.load(path.join(ROOT, 'native/build/libdcgm.so.4'));
    const f = lib.func('long dcgmStandinLayout(const char *what)');
    layout = (what) => {
      const v = Number(f(what));
      assert.notEqual(v, -1, `stand-in does not report ${what}`);
      return v;
    };
    marker = lib.func('const char *dcgmStandinVersion()') as () => string;
  });

  it('says it is a stand-in', () => {
    assert.match(marker(), /stand-in.*not NVIDIA DCGM/);
  });

  it('sizeof / offsetof / version match koffi', () => {
    const idOff = (m: string): number => koffi.offsetof(DeviceAttributesV3, 'identifiers') + koffi.offsetof(koffi.introspect(DeviceAttributesV3).members!.identifiers!.type, m);
    const pairs: Array<[string, number]> = [
      ['sizeof dcgmConnectV2Params_v2', koffi.sizeof(ConnectV2Params)],
      ['offsetof dcgmConnectV2Params_v2.addressIsUnixSocket', koffi.offsetof(ConnectV2Params, 'addressIsUnixSocket')],
      ['version dcgmConnectV2Params_v2', VERSION.connectV2Params],
      ['sizeof dcgmHostengineHealth_v1', koffi.sizeof(HostengineHealth)],
      ['sizeof dcgmVersionInfo_v2', koffi.sizeof(VersionInfo)],
      ['version dcgmVersionInfo_v2', VERSION.versionInfo],
      ['sizeof dcgmDeviceAttributes_v3', koffi.sizeof(DeviceAttributesV3)],
      ['version dcgmDeviceAttributes_v3', VERSION.deviceAttributes],
      ['offsetof dcgmDeviceAttributes_v3.identifiers', OFFSET.identifiers],
      ['offsetof dcgmDeviceAttributes_v3.identifiers.deviceName', idOff('deviceName')],
      ['offsetof dcgmDeviceAttributes_v3.identifiers.pciBusId', OFFSET.pciBusId],
      ['offsetof dcgmDeviceAttributes_v3.identifiers.uuid', OFFSET.uuid],
      ['offsetof dcgmDeviceAttributes_v3.identifiers.serial', OFFSET.serial],
      ['offsetof dcgmDeviceAttributes_v3.memoryUsage', koffi.offsetof(DeviceAttributesV3, 'memoryUsage')],
      ['sizeof dcgmIncidentInfo_t', OFFSET.incidentSize],
      ['offsetof dcgmIncidentInfo_t.health', OFFSET.incidentHealth],
      ['offsetof dcgmIncidentInfo_t.error.code', OFFSET.incidentCode],
      ['offsetof dcgmIncidentInfo_t.entityInfo.entityId', OFFSET.incidentEntityId],
      ['sizeof dcgmHealthResponse_v5', koffi.sizeof(HealthResponseV5)],
      ['version dcgmHealthResponse_v5', VERSION.healthResponseV5],
      ['offsetof dcgmHealthResponse_v5.incidents', OFFSET.healthIncidents],
      ['sizeof dcgmHealthResponse_v4', koffi.sizeof(HealthResponseV4)],
      ['version dcgmHealthResponse_v4', VERSION.healthResponseV4],
      ['sizeof dcgmHealthSetParams_v2', koffi.sizeof(HealthSetParamsV2)],
      ['offsetof dcgmHealthSetParams_v2.maxKeepAge', koffi.offsetof(HealthSetParamsV2, 'maxKeepAge')],
      ['sizeof dcgmFieldValue_v1', OFFSET.fieldValueSize],
      ['version dcgmFieldValue_v1', VERSION.fieldValueV1],
      ['offsetof dcgmFieldValue_v1.status', OFFSET.fvStatus],
      ['offsetof dcgmFieldValue_v1.ts', OFFSET.fvTs],
      ['offsetof dcgmFieldValue_v1.value', OFFSET.fvValue],
    ];
    for (const [what, ours] of pairs) assert.equal(layout(what), ours, what);
  });
});

describe('DCGM addresses', () => {
  it('parses the address forms', () => {
    assert.deepEqual(parseDcgmAddress('unix:///run/nvidia-dcgm/hostengine.sock'), { target: '/run/nvidia-dcgm/hostengine.sock', unixSocket: true });
    assert.deepEqual(parseDcgmAddress('/tmp/nv-hostengine'), { target: '/tmp/nv-hostengine', unixSocket: true });
    assert.deepEqual(parseDcgmAddress('tcp://10.0.0.5:5555'), { target: '10.0.0.5:5555', unixSocket: false });
    assert.deepEqual(parseDcgmAddress('localhost:5555'), { target: 'localhost:5555', unixSocket: false });
    assert.deepEqual(parseDcgmAddress('nvidia-dcgm'), { target: 'nvidia-dcgm', unixSocket: false });
    assert.throws(() => parseDcgmAddress('unix://relative/path'), /absolute/);
    assert.throws(() => parseDcgmAddress(''), /expected/);
  });
});
