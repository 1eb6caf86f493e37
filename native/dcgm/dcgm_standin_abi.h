/*
 * STAND-IN for NVIDIA DCGM: the C types of libdcgm.so.4 that the agent's koffi
 * binding touches, laid out as DCGM 4 lays them out (sizes, offsets and version
 * words are pinned by _Static_assert below and by test/unit/abi-dcgm.test.ts).
 * Written for this project from the documented layout; this is not NVIDIA's
 * header and the library built from it is a test double, not DCGM.
 */
#ifndef DCGM_STANDIN_ABI_H
#define DCGM_STANDIN_ABI_H

#include <stddef.h>
#include <stdint.h>

typedef int dcgmReturn_t;
typedef uintptr_t dcgmHandle_t;
typedef uintptr_t dcgmGpuGrp_t;
typedef uintptr_t dcgmFieldGrp_t;

#define DCGM_ST_OK 0
#define DCGM_ST_BADPARAM (-1)
#define DCGM_ST_GENERIC_ERROR (-3)
#define DCGM_ST_MEMORY (-4)
#define DCGM_ST_NOT_SUPPORTED (-6)
#define DCGM_ST_INIT_ERROR (-7)
#define DCGM_ST_UNINITIALIZED (-10)
#define DCGM_ST_TIMEOUT (-11)
#define DCGM_ST_VER_MISMATCH (-12)
#define DCGM_ST_UNKNOWN_FIELD (-13)
#define DCGM_ST_NO_DATA (-14)
#define DCGM_ST_NOT_WATCHED (-16)
#define DCGM_ST_GPU_IS_LOST (-18)
#define DCGM_ST_CONNECTION_NOT_VALID (-21)
#define DCGM_ST_MAX_LIMIT (-24)
#define DCGM_ST_INSUFFICIENT_SIZE (-31)

#define DCGM_MAX_NUM_DEVICES 32
#define DCGM_MAX_STR_LENGTH 256
#define DCGM_MAX_BLOB_LENGTH 4096
#define DCGM_HEALTH_WATCH_MAX_INCIDENTS_V2 1024
#define DCGM_HEALTH_WATCH_MAX_INCIDENTS_V1 64
#define DCGM_GROUP_ALL_GPUS 0x7fffffffU

/* Low 24 bits: struct size; high 8 bits: struct version. */
#define STANDIN_MAKE_VERSION(type, ver) ((unsigned int)(sizeof(type) | ((unsigned long)(ver) << 24U)))

typedef struct {
    unsigned int version;
    unsigned int persistAfterDisconnect;
    unsigned int timeoutMs;
    unsigned int addressIsUnixSocket;
} dcgmConnectV2Params_v2;
#define dcgmConnectV2Params_version2 STANDIN_MAKE_VERSION(dcgmConnectV2Params_v2, 2)
#define dcgmConnectV2Params_version1 0x01000008U

typedef struct {
    unsigned int version;
    unsigned int persistAfterDisconnect;
    unsigned int timeoutMs;
} dcgmConnectV3Params_v1;
#define dcgmConnectV3Params_version1 STANDIN_MAKE_VERSION(dcgmConnectV3Params_v1, 1)

typedef struct {
    unsigned int version;
    unsigned int overallHealth;
} dcgmHostengineHealth_v1;
#define dcgmHostengineHealth_version1 STANDIN_MAKE_VERSION(dcgmHostengineHealth_v1, 1)

typedef struct {
    unsigned int version;
    char rawBuildInfoString[512];
} dcgmVersionInfo_v2;
#define dcgmVersionInfo_version2 STANDIN_MAKE_VERSION(dcgmVersionInfo_v2, 2)

/* --- device attributes v3 --- */
typedef struct {
    unsigned int version;
    unsigned int memClock;
    unsigned int smClock;
} standin_clockSet_v1;

typedef struct {
    unsigned int version;
    unsigned int count;
    standin_clockSet_v1 clockSet[256];
} standin_clockSets_v1;

typedef struct {
    unsigned int version;
    unsigned int slowdownTemp;
    unsigned int shutdownTemp;
} standin_thermal_v1;

typedef struct {
    unsigned int version;
    unsigned int curPowerLimit;
    unsigned int defaultPowerLimit;
    unsigned int enforcedPowerLimit;
    unsigned int minPowerLimit;
    unsigned int maxPowerLimit;
} standin_powerLimits_v1;

typedef struct {
    unsigned int version;
    char brandName[DCGM_MAX_STR_LENGTH];
    char deviceName[DCGM_MAX_STR_LENGTH];
    char pciBusId[DCGM_MAX_STR_LENGTH];
    char serial[DCGM_MAX_STR_LENGTH];
    char uuid[DCGM_MAX_STR_LENGTH];
    char vbios[DCGM_MAX_STR_LENGTH];
    char inforomImageVersion[DCGM_MAX_STR_LENGTH];
    unsigned int pciDeviceId;
    unsigned int pciSubSystemId;
    char driverVersion[DCGM_MAX_STR_LENGTH];
    unsigned int virtualizationMode;
} standin_identifiers_v1;

typedef struct {
    unsigned int version;
    unsigned int bar1Total;
    unsigned int fbTotal;
    unsigned int fbUsed;
    unsigned int fbFree;
} standin_memoryUsage_v1;

typedef struct {
    unsigned int version;
    unsigned int persistenceModeEnabled;
    unsigned int migModeEnabled;
    unsigned int confidentialComputeMode;
} standin_settings_v2;

typedef struct {
    unsigned int version;
    standin_clockSets_v1 clockSets;
    standin_thermal_v1 thermalSettings;
    standin_powerLimits_v1 powerLimits;
    standin_identifiers_v1 identifiers;
    standin_memoryUsage_v1 memoryUsage;
    standin_settings_v2 settings;
} dcgmDeviceAttributes_v3;
#define dcgmDeviceAttributes_version3 STANDIN_MAKE_VERSION(dcgmDeviceAttributes_v3, 3)

/* --- health --- */
typedef struct {
    char msg[1024];
    unsigned int code;
} standin_diagErrorDetail;

typedef struct {
    unsigned int entityGroupId;
    unsigned int entityId;
} dcgmGroupEntityPair_t;

typedef struct {
    unsigned int system;
    unsigned int health;
    standin_diagErrorDetail error;
    dcgmGroupEntityPair_t entityInfo;
} dcgmIncidentInfo_t;

typedef struct {
    unsigned int version;
    unsigned int overallHealth;
    unsigned int incidentCount;
    dcgmIncidentInfo_t incidents[DCGM_HEALTH_WATCH_MAX_INCIDENTS_V2];
} dcgmHealthResponse_v5;
#define dcgmHealthResponse_version5 STANDIN_MAKE_VERSION(dcgmHealthResponse_v5, 5)

/* DCGM 3.x layout: same header, 64 incidents. Accepted only by a major-3 build. */
typedef struct {
    unsigned int version;
    unsigned int overallHealth;
    unsigned int incidentCount;
    dcgmIncidentInfo_t incidents[DCGM_HEALTH_WATCH_MAX_INCIDENTS_V1];
} dcgmHealthResponse_v4;
#define dcgmHealthResponse_version4 STANDIN_MAKE_VERSION(dcgmHealthResponse_v4, 4)

typedef struct {
    unsigned int version;
    dcgmGpuGrp_t groupId;
    unsigned int systems;
    long long updateInterval;
    double maxKeepAge;
} dcgmHealthSetParams_v2;
#define dcgmHealthSetParams_version2 STANDIN_MAKE_VERSION(dcgmHealthSetParams_v2, 2)

/* --- field values --- */
typedef union {
    int64_t i64;
    double dbl;
    char str[DCGM_MAX_STR_LENGTH];
    char blob[DCGM_MAX_BLOB_LENGTH];
} standin_fieldValueUnion;

typedef struct {
    unsigned int version;
    unsigned short fieldId;
    unsigned short fieldType;
    int status;
    int64_t ts;
    standin_fieldValueUnion value;
} dcgmFieldValue_v1;
#define dcgmFieldValue_version1 STANDIN_MAKE_VERSION(dcgmFieldValue_v1, 1)
#define dcgmInjectFieldValue_version1 dcgmFieldValue_version1

#define DCGM_FT_DOUBLE 'd'
#define DCGM_FT_INT64 'i'
#define DCGM_FT_STRING 's'
#define DCGM_INT64_BLANK 0x7ffffffffffffff0LL

/* Layout pins: a mistake here fails the compile, before any test runs. */
_Static_assert(sizeof(dcgmConnectV2Params_v2) == 16, "connect v2 params");
_Static_assert(dcgmConnectV2Params_version2 == 0x02000010U, "connect v2 version");
_Static_assert(sizeof(dcgmDeviceAttributes_v3) == 5220, "device attributes v3");
_Static_assert(dcgmDeviceAttributes_version3 == 0x03001464U, "device attributes version");
_Static_assert(offsetof(dcgmDeviceAttributes_v3, identifiers) == 3120, "identifiers offset");
_Static_assert(offsetof(dcgmDeviceAttributes_v3, identifiers.uuid) == 4148, "uuid offset");
_Static_assert(offsetof(dcgmDeviceAttributes_v3, identifiers.pciBusId) == 3636, "pci offset");
_Static_assert(sizeof(dcgmIncidentInfo_t) == 1044, "incident size");
_Static_assert(sizeof(dcgmHealthResponse_v5) == 1069068, "health response v5");
_Static_assert(dcgmHealthResponse_version5 == 0x0510500CU, "health response v5 version");
_Static_assert(sizeof(dcgmHealthResponse_v4) == 66828, "health response v4");
_Static_assert(dcgmHealthResponse_version4 == 0x0401050CU, "health response v4 version");
_Static_assert(sizeof(dcgmHealthSetParams_v2) == 40, "health set params v2");
_Static_assert(dcgmHealthSetParams_version2 == 0x02000028U, "health set params version");
_Static_assert(sizeof(dcgmFieldValue_v1) == 4120, "field value v1");
_Static_assert(dcgmFieldValue_version1 == 0x01001018U, "field value v1 version");
_Static_assert(dcgmVersionInfo_version2 == 0x02000204U, "version info v2");

#endif
