/*
 * STAND-IN libdcgm.so.4 for tests and demos on machines without NVIDIA GPUs.
 *
 * It exports the subset of DCGM 4's C API that gpu-health-agent binds with koffi,
 * with DCGM 4's struct layouts and version words (see dcgm_standin_abi.h), and
 * forwards every call over a real socket (unix or TCP) to a stand-in host engine
 * (scripts/standin/dcgm-engine.ts) using a private line protocol. It is not DCGM:
 * `dcgmStandinVersion()` says so, and real DCGM has no such symbol.
 *
 * Wire protocol (private to the stand-in): one request line "VERB arg ...\n",
 * one reply line "RC tok ...\n"; string tokens are percent-encoded. A reply that
 * does not parse closes the connection and the call returns CONNECTION_NOT_VALID,
 * as a desynchronised real client would.
 */
#define _GNU_SOURCE
#include "dcgm_standin_abi.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define MAX_CONNECTIONS 64

#ifndef STANDIN_DCGM_MAJOR
#define STANDIN_DCGM_MAJOR 4
#endif

typedef struct {
    int used;
    int fd; /* -1 once the connection is known broken */
    pthread_mutex_t lock;
    char *buf; /* reply line being read */
    size_t cap;
    size_t len;
} connection;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_initialized = 0;
static connection g_conns[MAX_CONNECTIONS];

#define STR2(x) #x
#define STR(x) STR2(x)

/* Marker that real DCGM lacks: lets tests and the device check tell the stand-in apart. */
EXPORT const char *dcgmStandinVersion(void) {
    return "gpu-health-agent DCGM stand-in 1 (not NVIDIA DCGM), API major " STR(STANDIN_DCGM_MAJOR);
}

/* ------------------------------------------------------------------ helpers */

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000LL + ts.tv_nsec / 1000000LL;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes %XX in place into dst (at most cap-1 bytes, always NUL-terminated). */
static int pct_decode(const char *src, char *dst, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; src[i] != '\0'; i++) {
        char c = src[i];
        if (c == '%') {
            int hi = hexval(src[i + 1]);
            int lo = hi < 0 ? -1 : hexval(src[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (o + 1 < cap) dst[o++] = c;
    }
    dst[o] = '\0';
    return 0;
}

/* Appends src percent-encoded (spaces, %, control bytes, non-ASCII). */
static void pct_encode(char *dst, size_t cap, const char *src) {
    size_t o = strlen(dst);
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; src[i] != '\0' && o + 4 < cap; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c <= 0x20 || c >= 0x7f || c == '%') {
            dst[o++] = '%';
            dst[o++] = hex[c >> 4];
            dst[o++] = hex[c & 15];
        } else {
            dst[o++] = (char)c;
        }
    }
    dst[o] = '\0';
}

static connection *conn_of(dcgmHandle_t handle) {
    if (handle == 0 || handle > MAX_CONNECTIONS) return NULL;
    connection *c = &g_conns[handle - 1];
    return c->used ? c : NULL;
}

static void conn_break(connection *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
}

/* Splits a reply line into tokens in place. */
static int tokenize(char *line, char **tok, int max) {
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, " ", &save); t != NULL && n < max; t = strtok_r(NULL, " ", &save)) tok[n++] = t;
    return n;
}

static int parse_ll(const char *s, long long *out) {
    if (s == NULL || *s == '\0') return -1;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0') return -1;
    *out = v;
    return 0;
}

/*
 * Sends one request and reads one reply line into c->buf. Blocks as long as the
 * engine does not answer: a hung engine hangs the caller, as with real DCGM, and
 * the agent's worker timeout is what bounds it. Returns DCGM_ST_OK or an error.
 */
static dcgmReturn_t exchange(connection *c, const char *request) {
    if (c->fd < 0) return DCGM_ST_CONNECTION_NOT_VALID;
    size_t n = strlen(request);
    for (size_t off = 0; off < n;) {
        ssize_t w = send(c->fd, request + off, n - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            conn_break(c);
            return DCGM_ST_CONNECTION_NOT_VALID;
        }
        off += (size_t)w;
    }
    c->len = 0;
    for (;;) {
        if (c->len + 4096 + 1 > c->cap) {
            size_t cap = c->cap == 0 ? 65536 : c->cap * 2;
            if (cap > (64u << 20)) { /* a reply this long is garbage */
                conn_break(c);
                return DCGM_ST_CONNECTION_NOT_VALID;
            }
            char *nb = realloc(c->buf, cap);
            if (nb == NULL) return DCGM_ST_MEMORY;
            c->buf = nb;
            c->cap = cap;
        }
        ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            conn_break(c);
            return DCGM_ST_CONNECTION_NOT_VALID;
        }
        char *nl = memchr(c->buf + c->len, '\n', (size_t)r);
        c->len += (size_t)r;
        if (nl != NULL) {
            if ((size_t)(nl - c->buf) != c->len - 1) { /* one request, one line: more is desync */
                conn_break(c);
                return DCGM_ST_CONNECTION_NOT_VALID;
            }
            *nl = '\0';
            return DCGM_ST_OK;
        }
    }
}

/*
 * Runs one request; on success tok[0] is the engine's return code (already
 * checked to be an integer) and *ntok the number of tokens. A malformed reply
 * breaks the connection.
 */
static dcgmReturn_t call(dcgmHandle_t handle, char **tok, int max, int *ntok, const char *fmt, ...) {
    char req[8192];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(req, sizeof(req) - 1, fmt, ap);
    va_end(ap);
    if (len < 0 || len >= (int)sizeof(req) - 1) return DCGM_ST_BADPARAM;
    req[len] = '\n';
    req[len + 1] = '\0';

    pthread_mutex_lock(&g_lock);
    int init = g_initialized;
    connection *c = conn_of(handle);
    pthread_mutex_unlock(&g_lock);
    if (!init) return DCGM_ST_UNINITIALIZED;
    if (c == NULL) return DCGM_ST_BADPARAM;

    pthread_mutex_lock(&c->lock);
    dcgmReturn_t rc = exchange(c, req);
    if (rc == DCGM_ST_OK) {
        *ntok = tokenize(c->buf, tok, max);
        long long engineRc;
        if (*ntok < 1 || parse_ll(tok[0], &engineRc) != 0 || engineRc > 0 || engineRc < -100) {
            conn_break(c);
            rc = DCGM_ST_CONNECTION_NOT_VALID;
        } else {
            rc = (dcgmReturn_t)engineRc;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

/* Reply tokens live in the connection buffer until the next call on it: callers copy them out at once. */
#define MAX_TOKENS (8 + DCGM_HEALTH_WATCH_MAX_INCIDENTS_V2 * 6 + 5 * 128)

static dcgmReturn_t garbage(dcgmHandle_t handle) {
    pthread_mutex_lock(&g_lock);
    connection *c = conn_of(handle);
    if (c != NULL) conn_break(c);
    pthread_mutex_unlock(&g_lock);
    return DCGM_ST_CONNECTION_NOT_VALID;
}

/* ------------------------------------------------------------------ lifecycle */

EXPORT dcgmReturn_t dcgmInit(void) {
    pthread_mutex_lock(&g_lock);
    g_initialized = 1;
    pthread_mutex_unlock(&g_lock);
    return DCGM_ST_OK;
}

EXPORT dcgmReturn_t dcgmShutdown(void) {
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < MAX_CONNECTIONS; i++) {
        if (!g_conns[i].used) continue;
        conn_break(&g_conns[i]);
        free(g_conns[i].buf);
        pthread_mutex_destroy(&g_conns[i].lock);
        memset(&g_conns[i], 0, sizeof(g_conns[i]));
    }
    g_initialized = 0;
    pthread_mutex_unlock(&g_lock);
    return DCGM_ST_OK;
}

static int try_connect_unix(const char *path) {
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path)) return -2;
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int try_connect_tcp(const char *hostport) {
    char host[256];
    const char *port = "5555";
    if (strlen(hostport) >= sizeof(host)) return -2;
    strcpy(host, hostport);
    char *h = host;
    if (h[0] == '[') { /* [v6]:port */
        char *close_br = strchr(h, ']');
        if (close_br == NULL) return -2;
        *close_br = '\0';
        if (close_br[1] == ':') port = close_br + 2;
        h++;
    } else {
        char *colon = strrchr(h, ':');
        if (colon != NULL && strchr(h, ':') == colon) {
            *colon = '\0';
            port = colon + 1;
        }
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(h, port, &hints, &res) != 0) return -2;
    int fd = -1;
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

static dcgmReturn_t connect_common(const char *address, int isUnix, unsigned int timeoutMs, unsigned int persist,
                                   dcgmHandle_t *pHandle) {
    if (address == NULL || pHandle == NULL) return DCGM_ST_BADPARAM;
    pthread_mutex_lock(&g_lock);
    int init = g_initialized;
    pthread_mutex_unlock(&g_lock);
    if (!init) return DCGM_ST_UNINITIALIZED;

    /* Like the real client: retry every 50 ms until the timeout (0 = 5000 ms). */
    long long deadline = now_ms() + (timeoutMs == 0 ? 5000 : timeoutMs);
    int fd;
    for (;;) {
        fd = isUnix ? try_connect_unix(address) : try_connect_tcp(address);
        if (fd == -2) return DCGM_ST_BADPARAM;
        if (fd >= 0 || now_ms() >= deadline) break;
        sleep_ms(50);
    }
    if (fd < 0) return DCGM_ST_CONNECTION_NOT_VALID;

    pthread_mutex_lock(&g_lock);
    int slot = -1;
    for (int i = 0; i < MAX_CONNECTIONS; i++) {
        if (!g_conns[i].used) {
            slot = i;
            break;
        }
    }
    if (slot < 0) {
        pthread_mutex_unlock(&g_lock);
        close(fd);
        return DCGM_ST_MAX_LIMIT;
    }
    connection *c = &g_conns[slot];
    memset(c, 0, sizeof(*c));
    c->used = 1;
    c->fd = fd;
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_unlock(&g_lock);

    dcgmHandle_t handle = (dcgmHandle_t)(slot + 1);
    char *tok[4];
    int n = 0;
    dcgmReturn_t rc = call(handle, tok, 4, &n, "HELLO %u", persist);
    if (rc != DCGM_ST_OK) {
        pthread_mutex_lock(&g_lock);
        conn_break(c);
        free(c->buf);
        pthread_mutex_destroy(&c->lock);
        memset(c, 0, sizeof(*c));
        pthread_mutex_unlock(&g_lock);
        return rc == DCGM_ST_CONNECTION_NOT_VALID || rc == DCGM_ST_OK ? DCGM_ST_CONNECTION_NOT_VALID : rc;
    }
    *pHandle = handle;
    return DCGM_ST_OK;
}

EXPORT dcgmReturn_t dcgmConnect_v2(const char *ipAddress, dcgmConnectV2Params_v2 *params, dcgmHandle_t *pHandle) {
    if (params == NULL) return DCGM_ST_BADPARAM;
    unsigned int isUnix = 0, timeoutMs = 0;
    if (params->version == dcgmConnectV2Params_version2) {
        isUnix = params->addressIsUnixSocket;
        timeoutMs = params->timeoutMs;
    } else if (params->version != dcgmConnectV2Params_version1) {
        return DCGM_ST_VER_MISMATCH;
    }
    return connect_common(ipAddress, isUnix != 0, timeoutMs, params->persistAfterDisconnect, pHandle);
}

EXPORT dcgmReturn_t dcgmConnect(const char *ipAddress, dcgmHandle_t *pHandle) {
    return connect_common(ipAddress, 0, 0, 0, pHandle);
}

EXPORT dcgmReturn_t dcgmConnect_v3(const char *uri, dcgmConnectV3Params_v1 *params, dcgmHandle_t *pHandle) {
    if (params == NULL || uri == NULL) return DCGM_ST_BADPARAM;
    if (params->version != dcgmConnectV3Params_version1) return DCGM_ST_VER_MISMATCH;
    if (strncasecmp(uri, "unix://", 7) == 0)
        return connect_common(uri + 7, 1, params->timeoutMs, params->persistAfterDisconnect, pHandle);
    if (strncasecmp(uri, "tcp://", 6) == 0)
        return connect_common(uri + 6, 0, params->timeoutMs, params->persistAfterDisconnect, pHandle);
    return DCGM_ST_BADPARAM;
}

EXPORT dcgmReturn_t dcgmDisconnect(dcgmHandle_t handle) {
    pthread_mutex_lock(&g_lock);
    connection *c = conn_of(handle);
    if (c == NULL) {
        pthread_mutex_unlock(&g_lock);
        return DCGM_ST_BADPARAM;
    }
    pthread_mutex_unlock(&g_lock);
    /* Wait for an in-flight call on this handle (same thread model as the real client). */
    pthread_mutex_lock(&c->lock);
    pthread_mutex_lock(&g_lock);
    conn_break(c);
    free(c->buf);
    c->buf = NULL;
    c->used = 0;
    pthread_mutex_unlock(&g_lock);
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_destroy(&c->lock);
    return DCGM_ST_OK;
}

EXPORT dcgmReturn_t dcgmHostengineIsHealthy(dcgmHandle_t handle, dcgmHostengineHealth_v1 *out) {
    if (out == NULL) return DCGM_ST_BADPARAM;
    if (out->version != dcgmHostengineHealth_version1) return DCGM_ST_VER_MISMATCH;
    char *tok[4];
    int n = 0;
    long long v;
    dcgmReturn_t rc = call(handle, tok, 4, &n, "ISHEALTHY");
    if (rc != DCGM_ST_OK) return rc;
    if (n < 2 || parse_ll(tok[1], &v) != 0) return garbage(handle);
    out->overallHealth = (unsigned int)v;
    return DCGM_ST_OK;
}

EXPORT dcgmReturn_t dcgmVersionInfo(dcgmVersionInfo_v2 *out) {
    if (out == NULL) return DCGM_ST_BADPARAM;
    if (out->version != dcgmVersionInfo_version2) return DCGM_ST_VER_MISMATCH;
    snprintf(out->rawBuildInfoString, sizeof(out->rawBuildInfoString),
             "version:%d.6.0;arch:standin;buildtype:Standin;commit:standin;", STANDIN_DCGM_MAJOR);
    return DCGM_ST_OK;
}

EXPORT const char *errorString(dcgmReturn_t result) {
    switch (result) {
    case DCGM_ST_OK: return "Success";
    case DCGM_ST_BADPARAM: return "Bad parameter passed to function";
    case DCGM_ST_GENERIC_ERROR: return "Generic unspecified error";
    case DCGM_ST_MEMORY: return "Out of memory error";
    case DCGM_ST_NOT_SUPPORTED: return "Feature not supported";
    case DCGM_ST_UNINITIALIZED: return "Cannot perform operation in uninitialized state";
    case DCGM_ST_TIMEOUT: return "Timeout";
    case DCGM_ST_VER_MISMATCH: return "API version mismatch";
    case DCGM_ST_UNKNOWN_FIELD: return "Unknown field identifier";
    case DCGM_ST_NO_DATA: return "No data is available";
    case DCGM_ST_NOT_WATCHED: return "Field is not being updated";
    case DCGM_ST_GPU_IS_LOST: return "GPU is lost";
    case DCGM_ST_CONNECTION_NOT_VALID: return "The connection to the host engine is not valid any longer";
    case DCGM_ST_MAX_LIMIT: return "Max limit reached for the object";
    case DCGM_ST_INSUFFICIENT_SIZE: return "Insufficient size";
    default: return NULL;
    }
}

/* ------------------------------------------------------------------ discovery */

EXPORT dcgmReturn_t dcgmGetAllSupportedDevices(dcgmHandle_t handle, unsigned int gpuIdList[DCGM_MAX_NUM_DEVICES],
                                               int *count) {
    if (gpuIdList == NULL || count == NULL) return DCGM_ST_BADPARAM;
    char *tok[DCGM_MAX_NUM_DEVICES + 4];
    int n = 0;
    long long v;
    dcgmReturn_t rc = call(handle, tok, DCGM_MAX_NUM_DEVICES + 4, &n, "GPUS");
    if (rc != DCGM_ST_OK) return rc;
    if (n < 2 || parse_ll(tok[1], &v) != 0 || v < 0 || v > DCGM_MAX_NUM_DEVICES || n != 2 + v) return garbage(handle);
    for (int i = 0; i < v; i++) {
        long long id;
        if (parse_ll(tok[2 + i], &id) != 0) return garbage(handle);
        gpuIdList[i] = (unsigned int)id;
    }
    *count = (int)v;
    return DCGM_ST_OK;
}

EXPORT dcgmReturn_t dcgmGetAllDevices(dcgmHandle_t handle, unsigned int gpuIdList[DCGM_MAX_NUM_DEVICES], int *count) {
    return dcgmGetAllSupportedDevices(handle, gpuIdList, count);
}

EXPORT dcgmReturn_t dcgmGetDeviceAttributes(dcgmHandle_t handle, unsigned int gpuId, dcgmDeviceAttributes_v3 *attr) {
    if (attr == NULL) return DCGM_ST_BADPARAM;
    if (attr->version != dcgmDeviceAttributes_version3) return DCGM_ST_VER_MISMATCH;
    char *tok[10];
    int n = 0;
    dcgmReturn_t rc = call(handle, tok, 10, &n, "ATTR %u", gpuId);
    if (rc != DCGM_ST_OK) return rc;
    if (n != 8) return garbage(handle);
    standin_identifiers_v1 *id = &attr->identifiers;
    id->version = 1;
    if (pct_decode(tok[1], id->brandName, sizeof(id->brandName)) != 0 ||
        pct_decode(tok[2], id->deviceName, sizeof(id->deviceName)) != 0 ||
        pct_decode(tok[3], id->pciBusId, sizeof(id->pciBusId)) != 0 ||
        pct_decode(tok[4], id->serial, sizeof(id->serial)) != 0 ||
        pct_decode(tok[5], id->uuid, sizeof(id->uuid)) != 0 ||
        pct_decode(tok[6], id->vbios, sizeof(id->vbios)) != 0 ||
        pct_decode(tok[7], id->driverVersion, sizeof(id->driverVersion)) != 0)
        return garbage(handle);
    strcpy(id->inforomImageVersion, "<<<NOT_SUPPORTED>>>");
    id->pciDeviceId = 0x233010de;
    id->pciSubSystemId = 0x16c110de;
    return DCGM_ST_OK;
}

/* ------------------------------------------------------------------ groups */

EXPORT dcgmReturn_t dcgmGroupCreate(dcgmHandle_t handle, int type, const char *groupName, dcgmGpuGrp_t *pGroup) {
    if (groupName == NULL || pGroup == NULL) return DCGM_ST_BADPARAM;
    char name[512] = "";
    pct_encode(name, sizeof(name), groupName);
    char *tok[4];
    int n = 0;
    long long v;
    dcgmReturn_t rc = call(handle, tok, 4, &n, "GROUPCREATE %d %s", type, name[0] ? name : "%00");
    if (rc != DCGM_ST_OK) return rc;
    if (n != 2 || parse_ll(tok[1], &v) != 0) return garbage(handle);
    *pGroup = (dcgmGpuGrp_t)v;
    return DCGM_ST_OK;
}

EXPORT dcgmReturn_t dcgmGroupAddDevice(dcgmHandle_t handle, dcgmGpuGrp_t group, unsigned int gpuId) {
    char *tok[2];
    int n = 0;
    return call(handle, tok, 2, &n, "GROUPADD %lu %u", (unsigned long)group, gpuId);
}

EXPORT dcgmReturn_t dcgmGroupDestroy(dcgmHandle_t handle, dcgmGpuGrp_t group) {
    char *tok[2];
    int n = 0;
    return call(handle, tok, 2, &n, "GROUPDESTROY %lu", (unsigned long)group);
}

/* ------------------------------------------------------------------ health */

EXPORT dcgmReturn_t dcgmHealthSet(dcgmHandle_t handle, dcgmGpuGrp_t group, unsigned int systems) {
    char *tok[2];
    int n = 0;
    return call(handle, tok, 2, &n, "HEALTHSET %lu %u", (unsigned long)group, systems);
}

EXPORT dcgmReturn_t dcgmHealthSet_v2(dcgmHandle_t handle, dcgmHealthSetParams_v2 *params) {
    if (params == NULL) return DCGM_ST_BADPARAM;
    if (params->version != dcgmHealthSetParams_version2) return DCGM_ST_VER_MISMATCH;
    return dcgmHealthSet(handle, params->groupId, params->systems);
}

EXPORT dcgmReturn_t dcgmHealthGet(dcgmHandle_t handle, dcgmGpuGrp_t group, unsigned int *systems) {
    if (systems == NULL) return DCGM_ST_BADPARAM;
    char *tok[4];
    int n = 0;
    long long v;
    dcgmReturn_t rc = call(handle, tok, 4, &n, "HEALTHGET %lu", (unsigned long)group);
    if (rc != DCGM_ST_OK) return rc;
    if (n != 2 || parse_ll(tok[1], &v) != 0) return garbage(handle);
    *systems = (unsigned int)v;
    return DCGM_ST_OK;
}

/*
 * The response's header is shared by v4 (3.x) and v5 (4.x); only the incident
 * capacity differs. A 4.x build accepts only v5, a 3.x build only v4.
 */
EXPORT dcgmReturn_t dcgmHealthCheck(dcgmHandle_t handle, dcgmGpuGrp_t group, dcgmHealthResponse_v5 *resp) {
    if (resp == NULL) return DCGM_ST_BADPARAM;
    unsigned int capacity;
    if (STANDIN_DCGM_MAJOR >= 4 && resp->version == dcgmHealthResponse_version5)
        capacity = DCGM_HEALTH_WATCH_MAX_INCIDENTS_V2;
    else if (STANDIN_DCGM_MAJOR < 4 && resp->version == dcgmHealthResponse_version4)
        capacity = DCGM_HEALTH_WATCH_MAX_INCIDENTS_V1;
    else
        return DCGM_ST_VER_MISMATCH;

    static __thread char *tok[MAX_TOKENS];
    int n = 0;
    dcgmReturn_t rc = call(handle, tok, MAX_TOKENS, &n, "HEALTHCHECK %lu %u", (unsigned long)group, capacity);
    if (rc != DCGM_ST_OK) return rc;
    long long overall, count;
    if (n < 3 || parse_ll(tok[1], &overall) != 0 || parse_ll(tok[2], &count) != 0 || count < 0) return garbage(handle);
    /* The engine's count is passed through as reported; only what fits is copied. */
    long long sent = (n - 3) / 6;
    if ((n - 3) % 6 != 0) return garbage(handle);
    resp->overallHealth = (unsigned int)overall;
    resp->incidentCount = (unsigned int)count;
    for (long long i = 0; i < sent && i < capacity; i++) {
        char **t = &tok[3 + i * 6];
        long long sys, health, code, eg, eid;
        dcgmIncidentInfo_t *inc = &resp->incidents[i];
        if (parse_ll(t[0], &sys) != 0 || parse_ll(t[1], &health) != 0 || parse_ll(t[2], &code) != 0 ||
            parse_ll(t[3], &eg) != 0 || parse_ll(t[4], &eid) != 0 ||
            pct_decode(t[5], inc->error.msg, sizeof(inc->error.msg)) != 0)
            return garbage(handle);
        inc->system = (unsigned int)sys;
        inc->health = (unsigned int)health;
        inc->error.code = (unsigned int)code;
        inc->entityInfo.entityGroupId = (unsigned int)eg;
        inc->entityInfo.entityId = (unsigned int)eid;
    }
    return DCGM_ST_OK;
}

/* ------------------------------------------------------------------ fields */

EXPORT dcgmReturn_t dcgmFieldGroupCreate(dcgmHandle_t handle, int numFieldIds, const unsigned short *fieldIds,
                                         const char *name, dcgmFieldGrp_t *pGroup) {
    if (numFieldIds < 1 || numFieldIds > 128 || fieldIds == NULL || name == NULL || pGroup == NULL)
        return DCGM_ST_BADPARAM;
    char req[4096] = "";
    char enc[768] = "";
    pct_encode(enc, sizeof(enc), name);
    int off = snprintf(req, sizeof(req), "FGCREATE %s %d", enc[0] ? enc : "%00", numFieldIds);
    for (int i = 0; i < numFieldIds; i++) off += snprintf(req + off, sizeof(req) - (size_t)off, " %u", fieldIds[i]);
    char *tok[4];
    int n = 0;
    long long v;
    dcgmReturn_t rc = call(handle, tok, 4, &n, "%s", req);
    if (rc != DCGM_ST_OK) return rc;
    if (n != 2 || parse_ll(tok[1], &v) != 0) return garbage(handle);
    *pGroup = (dcgmFieldGrp_t)v;
    return DCGM_ST_OK;
}

EXPORT dcgmReturn_t dcgmFieldGroupDestroy(dcgmHandle_t handle, dcgmFieldGrp_t group) {
    char *tok[2];
    int n = 0;
    return call(handle, tok, 2, &n, "FGDESTROY %lu", (unsigned long)group);
}

EXPORT dcgmReturn_t dcgmWatchFields(dcgmHandle_t handle, dcgmGpuGrp_t group, dcgmFieldGrp_t fieldGroup,
                                    long long updateFreq, double maxKeepAge, int maxKeepSamples) {
    char *tok[2];
    int n = 0;
    return call(handle, tok, 2, &n, "WATCH %lu %lu %lld %g %d", (unsigned long)group, (unsigned long)fieldGroup,
                updateFreq, maxKeepAge, maxKeepSamples);
}

EXPORT dcgmReturn_t dcgmUnwatchFields(dcgmHandle_t handle, dcgmGpuGrp_t group, dcgmFieldGrp_t fieldGroup) {
    char *tok[2];
    int n = 0;
    return call(handle, tok, 2, &n, "UNWATCH %lu %lu", (unsigned long)group, (unsigned long)fieldGroup);
}

EXPORT dcgmReturn_t dcgmUpdateAllFields(dcgmHandle_t handle, int waitForUpdate) {
    char *tok[2];
    int n = 0;
    return call(handle, tok, 2, &n, "UPDATEALL %d", waitForUpdate);
}

EXPORT dcgmReturn_t dcgmGetLatestValuesForFields(dcgmHandle_t handle, int gpuId, unsigned short fields[],
                                                 unsigned int count, dcgmFieldValue_v1 values[]) {
    if (fields == NULL || values == NULL || count == 0 || count > 128) return DCGM_ST_BADPARAM;
    char req[2048];
    int off = snprintf(req, sizeof(req), "LATEST %d %u", gpuId, count);
    for (unsigned int i = 0; i < count; i++) off += snprintf(req + off, sizeof(req) - (size_t)off, " %u", fields[i]);
    static __thread char *tok[8 + 5 * 128];
    int n = 0;
    dcgmReturn_t rc = call(handle, tok, 8 + 5 * 128, &n, "%s", req);
    if (rc != DCGM_ST_OK) return rc;
    if (n != 1 + 5 * (int)count) return garbage(handle);
    for (unsigned int i = 0; i < count; i++) {
        char **t = &tok[1 + i * 5];
        dcgmFieldValue_v1 *v = &values[i];
        long long fid, status, ts;
        if (parse_ll(t[0], &fid) != 0 || strlen(t[1]) != 1 || parse_ll(t[2], &status) != 0 || parse_ll(t[3], &ts) != 0)
            return garbage(handle);
        memset(v, 0, offsetof(dcgmFieldValue_v1, value) + sizeof(v->value.str));
        v->version = dcgmFieldValue_version1;
        v->fieldId = (unsigned short)fid;
        v->fieldType = (unsigned short)t[1][0];
        v->status = (int)status;
        v->ts = ts;
        if (v->fieldType == DCGM_FT_INT64) {
            long long x;
            if (parse_ll(t[4], &x) != 0) return garbage(handle);
            v->value.i64 = x;
        } else if (v->fieldType == DCGM_FT_DOUBLE) {
            v->value.dbl = strtod(t[4], NULL);
        } else if (pct_decode(t[4], v->value.str, sizeof(v->value.str)) != 0) {
            return garbage(handle);
        }
    }
    return DCGM_ST_OK;
}

/* Test API (dcgm_test_apis.h): what `dcgmi test --inject` calls. */
EXPORT dcgmReturn_t dcgmInjectFieldValue(dcgmHandle_t handle, unsigned int gpuId, dcgmFieldValue_v1 *value) {
    if (value == NULL) return DCGM_ST_BADPARAM;
    if (value->version != dcgmInjectFieldValue_version1) return DCGM_ST_VER_MISMATCH;
    char val[1024] = "";
    if (value->fieldType == DCGM_FT_INT64)
        snprintf(val, sizeof(val), "%lld", (long long)value->value.i64);
    else if (value->fieldType == DCGM_FT_DOUBLE)
        snprintf(val, sizeof(val), "%.17g", value->value.dbl);
    else if (value->fieldType == DCGM_FT_STRING)
        pct_encode(val, sizeof(val), value->value.str);
    else
        return DCGM_ST_BADPARAM;
    char *tok[2];
    int n = 0;
    return call(handle, tok, 2, &n, "INJECT %u %u %c %lld %s", gpuId, value->fieldId, (char)value->fieldType,
                (long long)value->ts, val[0] ? val : "%00");
}

/* ------------------------------------------------------------------ layout report for the ABI test */

#define LAYOUT(key, expr) \
    if (strcmp(what, key) == 0) return (long)(expr)

EXPORT long dcgmStandinLayout(const char *what) {
    if (what == NULL) return -1;
    LAYOUT("sizeof dcgmConnectV2Params_v2", sizeof(dcgmConnectV2Params_v2));
    LAYOUT("offsetof dcgmConnectV2Params_v2.addressIsUnixSocket", offsetof(dcgmConnectV2Params_v2, addressIsUnixSocket));
    LAYOUT("version dcgmConnectV2Params_v2", dcgmConnectV2Params_version2);
    LAYOUT("sizeof dcgmHostengineHealth_v1", sizeof(dcgmHostengineHealth_v1));
    LAYOUT("sizeof dcgmVersionInfo_v2", sizeof(dcgmVersionInfo_v2));
    LAYOUT("version dcgmVersionInfo_v2", dcgmVersionInfo_version2);
    LAYOUT("sizeof dcgmDeviceAttributes_v3", sizeof(dcgmDeviceAttributes_v3));
    LAYOUT("version dcgmDeviceAttributes_v3", dcgmDeviceAttributes_version3);
    LAYOUT("offsetof dcgmDeviceAttributes_v3.identifiers", offsetof(dcgmDeviceAttributes_v3, identifiers));
    LAYOUT("offsetof dcgmDeviceAttributes_v3.identifiers.deviceName",
           offsetof(dcgmDeviceAttributes_v3, identifiers.deviceName));
    LAYOUT("offsetof dcgmDeviceAttributes_v3.identifiers.pciBusId",
           offsetof(dcgmDeviceAttributes_v3, identifiers.pciBusId));
    LAYOUT("offsetof dcgmDeviceAttributes_v3.identifiers.uuid", offsetof(dcgmDeviceAttributes_v3, identifiers.uuid));
    LAYOUT("offsetof dcgmDeviceAttributes_v3.identifiers.serial",
           offsetof(dcgmDeviceAttributes_v3, identifiers.serial));
    LAYOUT("offsetof dcgmDeviceAttributes_v3.memoryUsage", offsetof(dcgmDeviceAttributes_v3, memoryUsage));
    LAYOUT("sizeof dcgmIncidentInfo_t", sizeof(dcgmIncidentInfo_t));
    LAYOUT("offsetof dcgmIncidentInfo_t.health", offsetof(dcgmIncidentInfo_t, health));
    LAYOUT("offsetof dcgmIncidentInfo_t.error.code", offsetof(dcgmIncidentInfo_t, error.code));
    LAYOUT("offsetof dcgmIncidentInfo_t.entityInfo.entityId", offsetof(dcgmIncidentInfo_t, entityInfo.entityId));
    LAYOUT("sizeof dcgmHealthResponse_v5", sizeof(dcgmHealthResponse_v5));
    LAYOUT("version dcgmHealthResponse_v5", dcgmHealthResponse_version5);
    LAYOUT("offsetof dcgmHealthResponse_v5.incidents", offsetof(dcgmHealthResponse_v5, incidents));
    LAYOUT("sizeof dcgmHealthResponse_v4", sizeof(dcgmHealthResponse_v4));
    LAYOUT("version dcgmHealthResponse_v4", dcgmHealthResponse_version4);
    LAYOUT("sizeof dcgmHealthSetParams_v2", sizeof(dcgmHealthSetParams_v2));
    LAYOUT("offsetof dcgmHealthSetParams_v2.maxKeepAge", offsetof(dcgmHealthSetParams_v2, maxKeepAge));
    LAYOUT("sizeof dcgmFieldValue_v1", sizeof(dcgmFieldValue_v1));
    LAYOUT("version dcgmFieldValue_v1", dcgmFieldValue_version1);
    LAYOUT("offsetof dcgmFieldValue_v1.status", offsetof(dcgmFieldValue_v1, status));
    LAYOUT("offsetof dcgmFieldValue_v1.ts", offsetof(dcgmFieldValue_v1, ts));
    LAYOUT("offsetof dcgmFieldValue_v1.value", offsetof(dcgmFieldValue_v1, value));
    return -1;
}
