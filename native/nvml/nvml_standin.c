/*
 * STAND-IN libnvidia-ml.so.1 for tests and demos on machines without NVIDIA GPUs.
 *
 * Exports the versioned NVML symbols gpu-health-agent binds (nvmlInit_v2,
 * nvmlDeviceGetPciInfo_v3, nvmlEventSetWait_v2, ...) with NVML's struct layouts,
 * as declared in nvml_standin.h. It is not NVIDIA's library:
 * `nvmlStandinVersion()` says so, and the real one lacks it.
 *
 * Faults are injected through an append-only control file named by the env var
 * NVML_STANDIN_CONTROL (scripts/standin/nvml.ts writes it). Each line is a
 * command, applied in order the next time any NVML call runs:
 *   gpus N                     number of GPUs (default 1)
 *   set GPU KEY VALUE          counters: ecc_dbe_volatile ecc_sbe_volatile retired_sbe retired_dbe
 *                              retired_pending remap_corr remap_unc remap_pending remap_failure
 *                              recovery_action lost
 *   xid GPU CODE               an nvmlEventTypeXidCriticalError event with eventData = CODE
 *   event GPU TYPE DATA        any event type (decimal mask) with its data
 *   hang 1|0                   every call blocks while hang is 1, as a wedged driver would
 *   driver VERSION             the version nvmlSystemGetDriverVersion reports (default 580.00.00-standin)
 *   supported GPU TYPES        the event types (decimal mask) a GPU supports, as an older driver
 *                              or a smaller GPU offers fewer
 *   nofield FIELD              a field id the driver does not know: nvmlDeviceGetFieldValues answers
 *                              it with NVML_ERROR_NOT_SUPPORTED (what a real older driver answers
 *                              is unverified; the binding treats every per-field error alike);
 *                              `nofield clear` knows every field again
 * Like the real driver, an event set only records events that happen after
 * nvmlDeviceRegisterEvents.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nvml_standin.h"

#define EXPORT __attribute__((visibility("default")))

#define MAX_GPUS 64
#define QUEUE_LEN 256
#define MAX_SETS 16
#define MAX_UNKNOWN_FIELDS 16

#define EV_ALL                                                                                                  \
    (nvmlEventTypeSingleBitEccError | nvmlEventTypeDoubleBitEccError | nvmlEventTypeXidCriticalError |        \
     nvmlEventTypeDramRetirementEvent | nvmlEventTypeDramRetirementFailure | nvmlEventTypeGpuRecoveryAction)

struct nvmlDevice_st {
    unsigned int index;
};

typedef struct {
    unsigned long long ecc_dbe_volatile, ecc_sbe_volatile;
    unsigned int retired_sbe, retired_dbe, retired_pending;
    unsigned int remap_corr, remap_unc, remap_pending, remap_failure;
    unsigned int recovery_action;
    unsigned int lost;
    unsigned long long unsupported_events; /* of EV_ALL */
} gpu_state;

typedef struct {
    nvmlEventData_t ev;
} queued_event;

struct nvmlEventSet_st {
    int used;
    unsigned long long mask[MAX_GPUS];
    queued_event q[QUEUE_LEN];
    unsigned int head, tail; /* tail - head = queued */
};
typedef struct nvmlEventSet_st event_set;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_init_count = 0;
static unsigned int g_gpus = 1;
static int g_hang = 0;
static gpu_state g_state[MAX_GPUS];
static struct nvmlDevice_st g_devices[MAX_GPUS];
static event_set g_sets[MAX_SETS];
static long g_offset = 0; /* bytes of the control file already applied */
static char g_partial[512];
static char g_driver[NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE] = "580.00.00-standin";
static unsigned int g_unknown_fields[MAX_UNKNOWN_FIELDS];
static unsigned int g_n_unknown_fields = 0;

EXPORT const char *nvmlStandinVersion(void) {
    return "gpu-health-agent NVML stand-in 1 (not NVIDIA NVML)";
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static long long mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000LL + ts.tv_nsec / 1000000LL;
}

static void set_counter(unsigned int gpu, const char *key, unsigned long long v) {
    if (gpu >= MAX_GPUS) return;
    gpu_state *s = &g_state[gpu];
    if (strcmp(key, "ecc_dbe_volatile") == 0) s->ecc_dbe_volatile = v;
    else if (strcmp(key, "ecc_sbe_volatile") == 0) s->ecc_sbe_volatile = v;
    else if (strcmp(key, "retired_sbe") == 0) s->retired_sbe = (unsigned int)v;
    else if (strcmp(key, "retired_dbe") == 0) s->retired_dbe = (unsigned int)v;
    else if (strcmp(key, "retired_pending") == 0) s->retired_pending = (unsigned int)v;
    else if (strcmp(key, "remap_corr") == 0) s->remap_corr = (unsigned int)v;
    else if (strcmp(key, "remap_unc") == 0) s->remap_unc = (unsigned int)v;
    else if (strcmp(key, "remap_pending") == 0) s->remap_pending = (unsigned int)v;
    else if (strcmp(key, "remap_failure") == 0) s->remap_failure = (unsigned int)v;
    else if (strcmp(key, "recovery_action") == 0) s->recovery_action = (unsigned int)v;
    else if (strcmp(key, "lost") == 0) s->lost = (unsigned int)v;
}

static void post_event(unsigned int gpu, unsigned long long type, unsigned long long data) {
    if (gpu >= g_gpus) return;
    for (int i = 0; i < MAX_SETS; i++) {
        event_set *s = &g_sets[i];
        if (!s->used || (s->mask[gpu] & type) == 0) continue;
        if (s->tail - s->head >= QUEUE_LEN) s->head++; /* drop the oldest, as a bounded driver queue would */
        nvmlEventData_t *e = &s->q[s->tail % QUEUE_LEN].ev;
        e->device = &g_devices[gpu];
        e->eventType = type;
        e->eventData = data;
        e->gpuInstanceId = 0xFFFFFFFFu;
        e->computeInstanceId = 0xFFFFFFFFu;
        s->tail++;
    }
}

static void apply_line(char *line) {
    char cmd[32], key[64];
    unsigned int gpu;
    unsigned long long a, b;
    if (sscanf(line, "gpus %u", &gpu) == 1) g_gpus = gpu > MAX_GPUS ? MAX_GPUS : gpu;
    else if (sscanf(line, "set %u %63s %llu", &gpu, key, &a) == 3) set_counter(gpu, key, a);
    else if (sscanf(line, "xid %u %llu", &gpu, &a) == 2) post_event(gpu, nvmlEventTypeXidCriticalError, a);
    else if (sscanf(line, "event %u %llu %llu", &gpu, &a, &b) == 3) post_event(gpu, a, b);
    else if (sscanf(line, "hang %u", &gpu) == 1) g_hang = gpu != 0;
    else if (sscanf(line, "driver %63s", key) == 1) snprintf(g_driver, sizeof(g_driver), "%s", key);
    else if (sscanf(line, "supported %u %llu", &gpu, &a) == 2) {
        if (gpu < MAX_GPUS) g_state[gpu].unsupported_events = EV_ALL & ~a;
    } else if (strcmp(line, "nofield clear") == 0) g_n_unknown_fields = 0;
    else if (sscanf(line, "nofield %u", &gpu) == 1) {
        if (g_n_unknown_fields < MAX_UNKNOWN_FIELDS) g_unknown_fields[g_n_unknown_fields++] = gpu;
    }
    else if (sscanf(line, "%31s", cmd) == 1) fprintf(stderr, "nvml stand-in: ignored control line: %s\n", line);
}

/* Applies control lines appended since the last call. Caller holds g_lock. */
static void catch_up(void) {
    const char *path = getenv("NVML_STANDIN_CONTROL");
    if (path == NULL || *path == '\0') return;
    struct stat st;
    if (stat(path, &st) != 0 || st.st_size <= g_offset) return;
    FILE *f = fopen(path, "r");
    if (f == NULL) return;
    if (fseek(f, g_offset, SEEK_SET) == 0) {
        char chunk[512];
        size_t n;
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
            for (size_t i = 0; i < n; i++) {
                size_t pl = strlen(g_partial);
                if (chunk[i] == '\n') {
                    apply_line(g_partial);
                    g_partial[0] = '\0';
                } else if (pl + 1 < sizeof(g_partial)) {
                    g_partial[pl] = chunk[i];
                    g_partial[pl + 1] = '\0';
                }
            }
            g_offset += (long)n;
        }
    }
    fclose(f);
}

/* Every entry point starts here: applies control lines and blocks while hung. */
static nvmlReturn_t enter(void) {
    pthread_mutex_lock(&g_lock);
    catch_up();
    while (g_hang) {
        pthread_mutex_unlock(&g_lock);
        sleep_ms(20);
        pthread_mutex_lock(&g_lock);
        catch_up();
    }
    nvmlReturn_t rc = g_init_count > 0 ? NVML_SUCCESS : NVML_ERROR_UNINITIALIZED;
    pthread_mutex_unlock(&g_lock);
    return rc;
}

static nvmlReturn_t device_index(nvmlDevice_t d, unsigned int *index) {
    if (d == NULL || d < &g_devices[0] || d >= &g_devices[MAX_GPUS]) return NVML_ERROR_INVALID_ARGUMENT;
    if (d->index >= g_gpus) return NVML_ERROR_NOT_FOUND;
    if (g_state[d->index].lost) return NVML_ERROR_GPU_IS_LOST;
    *index = d->index;
    return NVML_SUCCESS;
}

#define ENTER_DEVICE(dev, idx)                                \
    unsigned int idx;                                         \
    do {                                                      \
        nvmlReturn_t rc_ = enter();                           \
        if (rc_ != NVML_SUCCESS) return rc_;                  \
        pthread_mutex_lock(&g_lock);                          \
        rc_ = device_index(dev, &idx);                        \
        pthread_mutex_unlock(&g_lock);                        \
        if (rc_ != NVML_SUCCESS) return rc_;                  \
    } while (0)

/* ------------------------------------------------------------------ lifecycle */

EXPORT nvmlReturn_t nvmlInitWithFlags(unsigned int flags) {
    (void)flags;
    pthread_mutex_lock(&g_lock);
    if (g_init_count == 0) {
        for (unsigned int i = 0; i < MAX_GPUS; i++) g_devices[i].index = i;
    }
    g_init_count++;
    pthread_mutex_unlock(&g_lock);
    return enter();
}

EXPORT nvmlReturn_t nvmlInit_v2(void) { return nvmlInitWithFlags(0); }

EXPORT nvmlReturn_t nvmlShutdown(void) {
    pthread_mutex_lock(&g_lock);
    nvmlReturn_t rc = g_init_count > 0 ? NVML_SUCCESS : NVML_ERROR_UNINITIALIZED;
    if (g_init_count > 0) g_init_count--;
    pthread_mutex_unlock(&g_lock);
    return rc;
}

EXPORT const char *nvmlErrorString(nvmlReturn_t r) {
    switch (r) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_TIMEOUT: return "Timeout";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    default: return "Unknown Error";
    }
}

EXPORT nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length) {
    nvmlReturn_t rc = enter();
    if (rc != NVML_SUCCESS) return rc;
    if (version == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    if (length < 12) return NVML_ERROR_INSUFFICIENT_SIZE;
    pthread_mutex_lock(&g_lock);
    snprintf(version, length, "%s", g_driver);
    pthread_mutex_unlock(&g_lock);
    return NVML_SUCCESS;
}

/* ------------------------------------------------------------------ identity */

EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count) {
    nvmlReturn_t rc = enter();
    if (rc != NVML_SUCCESS) return rc;
    if (count == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    pthread_mutex_lock(&g_lock);
    *count = g_gpus;
    pthread_mutex_unlock(&g_lock);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
    nvmlReturn_t rc = enter();
    if (rc != NVML_SUCCESS) return rc;
    if (device == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    pthread_mutex_lock(&g_lock);
    rc = index < g_gpus ? NVML_SUCCESS : NVML_ERROR_INVALID_ARGUMENT;
    if (rc == NVML_SUCCESS) *device = &g_devices[index];
    pthread_mutex_unlock(&g_lock);
    return rc;
}

static void uuid_of(unsigned int i, char *out, size_t cap) {
    snprintf(out, cap, "GPU-5a5a5a5a-0000-4000-8000-%012x", 0x5000u + i);
}

EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length) {
    ENTER_DEVICE(device, i);
    if (uuid == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    if (length < 41) return NVML_ERROR_INSUFFICIENT_SIZE;
    uuid_of(i, uuid, length);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device) {
    nvmlReturn_t rc = enter();
    if (rc != NVML_SUCCESS) return rc;
    if (uuid == NULL || device == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    for (unsigned int i = 0; i < g_gpus; i++) {
        char u[96];
        uuid_of(i, u, sizeof(u));
        if (strcmp(u, uuid) == 0) {
            *device = &g_devices[i];
            return NVML_SUCCESS;
        }
    }
    return NVML_ERROR_NOT_FOUND;
}

EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length) {
    ENTER_DEVICE(device, i);
    (void)i;
    if (name == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    if (length < 32) return NVML_ERROR_INSUFFICIENT_SIZE;
    snprintf(name, length, "NVIDIA Stand-in GPU (not real)");
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int *index) {
    ENTER_DEVICE(device, i);
    if (index == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    *index = i;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci) {
    ENTER_DEVICE(device, i);
    if (pci == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    memset(pci, 0, sizeof(*pci));
    pci->domain = 0;
    pci->bus = 0x10 + i;
    pci->device = 0;
    pci->pciDeviceId = 0x233010de;
    pci->pciSubSystemId = 0x16c110de;
    snprintf(pci->busIdLegacy, sizeof(pci->busIdLegacy), "%04X:%02X:%02X.0", pci->domain, pci->bus, pci->device);
    snprintf(pci->busId, sizeof(pci->busId), "%08X:%02X:%02X.0", pci->domain, pci->bus, pci->device);
    return NVML_SUCCESS;
}

/* ------------------------------------------------------------------ events */

EXPORT nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *set) {
    nvmlReturn_t rc = enter();
    if (rc != NVML_SUCCESS) return rc;
    if (set == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    pthread_mutex_lock(&g_lock);
    rc = NVML_ERROR_UNKNOWN;
    for (int i = 0; i < MAX_SETS; i++) {
        if (!g_sets[i].used) {
            memset(&g_sets[i], 0, sizeof(g_sets[i]));
            g_sets[i].used = 1;
            *set = &g_sets[i];
            rc = NVML_SUCCESS;
            break;
        }
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

EXPORT nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set) {
    if (set == NULL || set < &g_sets[0] || set >= &g_sets[MAX_SETS]) return NVML_ERROR_INVALID_ARGUMENT;
    pthread_mutex_lock(&g_lock);
    set->used = 0;
    pthread_mutex_unlock(&g_lock);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetSupportedEventTypes(nvmlDevice_t device, unsigned long long *types) {
    ENTER_DEVICE(device, i);
    if (types == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    pthread_mutex_lock(&g_lock);
    *types = EV_ALL & ~g_state[i].unsupported_events;
    pthread_mutex_unlock(&g_lock);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t device, unsigned long long types, nvmlEventSet_t set) {
    ENTER_DEVICE(device, i);
    if (set == NULL || set < &g_sets[0] || set >= &g_sets[MAX_SETS] || !set->used) return NVML_ERROR_INVALID_ARGUMENT;
    pthread_mutex_lock(&g_lock);
    unsigned long long supported = EV_ALL & ~g_state[i].unsupported_events;
    if ((types & supported) != 0) set->mask[i] |= types & supported;
    pthread_mutex_unlock(&g_lock);
    if ((types & supported) == 0) return NVML_ERROR_NOT_SUPPORTED;
    return NVML_SUCCESS;
}

/* Blocks up to timeoutms for one event; polls the control file every 10 ms. */
EXPORT nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms) {
    nvmlReturn_t rc = enter();
    if (rc != NVML_SUCCESS) return rc;
    if (set == NULL || set < &g_sets[0] || set >= &g_sets[MAX_SETS] || data == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    long long deadline = mono_ms() + timeoutms;
    for (;;) {
        pthread_mutex_lock(&g_lock);
        catch_up();
        if (set->used && set->tail != set->head) {
            *data = set->q[set->head % QUEUE_LEN].ev;
            set->head++;
            pthread_mutex_unlock(&g_lock);
            return NVML_SUCCESS;
        }
        int hang = g_hang;
        pthread_mutex_unlock(&g_lock);
        if (!hang && mono_ms() >= deadline) return NVML_ERROR_TIMEOUT;
        sleep_ms(10);
    }
}

/* ------------------------------------------------------------------ counters */

EXPORT nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t device, nvmlMemoryErrorType_t errorType,
                                                nvmlEccCounterType_t counterType, unsigned long long *count) {
    ENTER_DEVICE(device, i);
    if (count == NULL || (errorType != 0 && errorType != 1) || (counterType != 0 && counterType != 1))
        return NVML_ERROR_INVALID_ARGUMENT;
    pthread_mutex_lock(&g_lock);
    /* The stand-in keeps only volatile counts; aggregate reports the same. */
    *count = errorType == 1 ? g_state[i].ecc_dbe_volatile : g_state[i].ecc_sbe_volatile;
    pthread_mutex_unlock(&g_lock);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetRetiredPages_v2(nvmlDevice_t device, nvmlPageRetirementCause_t cause, unsigned int *pageCount,
                                                 unsigned long long *addresses, unsigned long long *timestamps) {
    ENTER_DEVICE(device, i);
    if (pageCount == NULL || (cause != 0 && cause != 1)) return NVML_ERROR_INVALID_ARGUMENT;
    pthread_mutex_lock(&g_lock);
    unsigned int have = cause == 1 ? g_state[i].retired_dbe : g_state[i].retired_sbe;
    pthread_mutex_unlock(&g_lock);
    unsigned int room = *pageCount;
    *pageCount = have;
    if (room == 0 && addresses == NULL) return NVML_SUCCESS;
    if (room < have) return NVML_ERROR_INSUFFICIENT_SIZE;
    for (unsigned int k = 0; k < have; k++) {
        if (addresses != NULL) addresses[k] = 0x1000ULL * (k + 1);
        if (timestamps != NULL) timestamps[k] = 1700000000ULL + k;
    }
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetRetiredPages(nvmlDevice_t device, nvmlPageRetirementCause_t cause, unsigned int *pageCount,
                                              unsigned long long *addresses) {
    return nvmlDeviceGetRetiredPages_v2(device, cause, pageCount, addresses, NULL);
}

EXPORT nvmlReturn_t nvmlDeviceGetRetiredPagesPendingStatus(nvmlDevice_t device, nvmlEnableState_t *isPending) {
    ENTER_DEVICE(device, i);
    if (isPending == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    pthread_mutex_lock(&g_lock);
    *isPending = g_state[i].retired_pending ? NVML_FEATURE_ENABLED : NVML_FEATURE_DISABLED;
    pthread_mutex_unlock(&g_lock);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetRemappedRows(nvmlDevice_t device, unsigned int *corrRows, unsigned int *uncRows,
                                              unsigned int *isPending, unsigned int *failureOccurred) {
    ENTER_DEVICE(device, i);
    if (corrRows == NULL || uncRows == NULL || isPending == NULL || failureOccurred == NULL)
        return NVML_ERROR_INVALID_ARGUMENT;
    pthread_mutex_lock(&g_lock);
    *corrRows = g_state[i].remap_corr;
    *uncRows = g_state[i].remap_unc;
    *isPending = g_state[i].remap_pending;
    *failureOccurred = g_state[i].remap_failure;
    pthread_mutex_unlock(&g_lock);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetFieldValues(nvmlDevice_t device, int valuesCount, nvmlFieldValue_t *values) {
    ENTER_DEVICE(device, i);
    if (values == NULL || valuesCount <= 0) return NVML_ERROR_INVALID_ARGUMENT;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    pthread_mutex_lock(&g_lock);
    gpu_state *s = &g_state[i];
    for (int k = 0; k < valuesCount; k++) {
        nvmlFieldValue_t *v = &values[k];
        v->timestamp = (long long)now.tv_sec * 1000000LL + now.tv_nsec / 1000;
        v->latencyUsec = 0;
        v->nvmlReturn = NVML_SUCCESS;
        v->valueType = NVML_VALUE_TYPE_UNSIGNED_LONG_LONG;
        int unknown = 0;
        for (unsigned int u = 0; u < g_n_unknown_fields; u++) unknown |= g_unknown_fields[u] == v->fieldId;
        if (unknown) {
            v->nvmlReturn = NVML_ERROR_NOT_SUPPORTED;
            v->value.ullVal = 0;
            continue;
        }
        switch (v->fieldId) {
        case NVML_FI_DEV_ECC_SBE_VOL_TOTAL: v->value.ullVal = s->ecc_sbe_volatile; break;
        case NVML_FI_DEV_ECC_DBE_VOL_TOTAL: v->value.ullVal = s->ecc_dbe_volatile; break;
        case NVML_FI_DEV_RETIRED_SBE: v->value.ullVal = s->retired_sbe; break;
        case NVML_FI_DEV_RETIRED_DBE: v->value.ullVal = s->retired_dbe; break;
        case NVML_FI_DEV_RETIRED_PENDING: v->value.ullVal = s->retired_pending; break;
        case NVML_FI_DEV_REMAPPED_COR: v->value.ullVal = s->remap_corr; break;
        case NVML_FI_DEV_REMAPPED_UNC: v->value.ullVal = s->remap_unc; break;
        case NVML_FI_DEV_REMAPPED_PENDING: v->value.ullVal = s->remap_pending; break;
        case NVML_FI_DEV_GET_GPU_RECOVERY_ACTION:
            v->valueType = NVML_VALUE_TYPE_UNSIGNED_INT;
            v->value.ullVal = 0;
            v->value.uiVal = s->recovery_action;
            break;
        default: v->nvmlReturn = NVML_ERROR_NOT_SUPPORTED; v->value.ullVal = 0;
        }
    }
    pthread_mutex_unlock(&g_lock);
    return NVML_SUCCESS;
}
