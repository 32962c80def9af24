/*
 * A fake NVML driver for otel-resmon's tests. Test-only: it is compiled by the
 * test harness (tests/common/fake_nvml.rs) against NVIDIA's own nvml.h, copied
 * once per test as `libnvidia-ml.so.1`, and loaded through nvml-wrapper's real
 * dlopen path. It is never linked into the library.
 *
 * Its values come from a control file named `fake-nvml.conf` in the same
 * directory as the loaded .so (found with dladdr), re-read when the file changes
 * (inode, size or mtime; looked at when the harness calls fake_nvml_reload, and
 * at most once a millisecond otherwise), so a test can rewrite it mid-run. Format, one
 * `key=value` per line, `#` starts a comment:
 *
 *   init_error=9                  nvmlInit_v2 returns this nvmlReturn_t
 *   init_slow_ms=5000             nvmlInit_v2 sleeps this long, holding the
 *                                 driver's lock (a driver that hangs at start:
 *                                 loading, or a GPU being reset); slow_ms does
 *                                 not apply to nvmlInit_v2
 *   slow_ms=200                   every call (but nvmlInit_v2) sleeps this long
 *                                 first, holding the driver's lock (a slow or
 *                                 overloaded driver)
 *   hang=1                        every call, nvmlInit_v2 and nvmlShutdown
 *                                 included, that begins while this is set does
 *                                 not return: it sleeps holding the driver's
 *                                 lock, so every other call waits behind it, as
 *                                 behind a wedged driver (a GPU off the bus).
 *                                 The hung call re-reads the control file every
 *                                 10 ms and returns (as if nothing happened)
 *                                 once the file no longer says hang=1, so a test
 *                                 can end a hang; unless the test does, the call
 *                                 never returns
 *   cost.<function>=<us>          <function> spends this many microseconds busy
 *                                 (CPU time, holding the driver's lock, so calls
 *                                 from two threads do not overlap), as a real
 *                                 driver does; tests/fake_nvml/h200-costs.conf
 *                                 holds an H200's measured costs
 *   cost.field.<id>=<us>          nvmlDeviceGetFieldValues spends this much
 *                                 more for each field <id> asked for (a cost
 *                                 counts from the call's start: the fake's own
 *                                 bookkeeping is part of it)
 *   driver_version=550.54.15      nvmlSystemGetDriverVersion
 *   cuda_driver_version=12040     nvmlSystemGetCudaDriverVersion_v2
 *   fail.<function>=<code>        <function> returns <code> for every device
 *   gpu.<i>.fail.<function>=<code>  ... for device <i> only
 *   gpu.<i>.lost=1                every call on device <i> returns GPU_IS_LOST
 *   gpu.<i>.<field>=<value>       name uuid pci_bus_id memory_total memory_used
 *                                 memory_reserved memory_free utilization_gpu
 *                                 utilization_memory temperature power_mw
 *                                 energy_mj mig_current mig_pending
 *                                 clock_sm clock_memory (MHz) power_limit_mw
 *                                 temperature_slowdown temperature_shutdown
 *                                 temperature_gpu_max pstate num_fans fan_speed
 *                                 clock_event_reasons (a bit mask) encoder_util
 *                                 decoder_util retired_pages_pending
 *   gpu.<i>.energy_from_power=1   the energy counter advances at power_mw from
 *                                 energy_mj on (a GPU drawing steady power)
 *   gpu.<i>.field.<id>=<value>    nvmlDeviceGetFieldValues answers field <id>
 *                                 with this unsigned long long; absent fields
 *                                 answer NOT_SUPPORTED in their own slot
 *   gpu.<i>.field.<id>.error=<code>  field <id> answers <code> in its slot
 *   gpu.<i>.xid=<code>:<n>         event sets registered for XID errors deliver
 *                                 XID <code> once for each new <n> (raise <n>
 *                                 to deliver another)
 *   gpu.<i>.events=0               nvmlDeviceRegisterEvents is NOT_SUPPORTED
 *   gpu.<i>.gpm=1                 nvmlGpmQueryDeviceSupport says supported, and
 *                                 nvmlGpmSampleGet fills samples (else NOT_SUPPORTED)
 *   gpu.<i>.gpm.<id>=<value>      nvmlGpmMetricsGet answers metric <id>
 *                                 (nvmlGpmMetricId_t) with this double between two
 *                                 samples at least 100 ms apart, 0 between closer
 *                                 ones (the driver's refresh rate: a real H200 read
 *                                 0 over 0.05 s); absent metrics answer
 *                                 NOT_SUPPORTED in their own slot
 *   gpu.<i>.process_utilization=self:77:20:500,4242:10:5:100
 *                                 nvmlDeviceGetProcessUtilization samples, each
 *                                 pid:sm:mem:age_ms; a sample's timestamp is the
 *                                 wall clock (us) when the line was read less its
 *                                 age (a negative age stamps it in the future), so
 *                                 a re-read file makes new samples; only samples
 *                                 newer than lastSeenTimeStamp are given,
 *                                 NOT_FOUND when none is
 *   gpu.<i>.process_utilization.live=1  the samples are as old as configured at
 *                                 each call (processes running all along)
 *   gpu.<i>.process_utilization.offset_ms=-3600000  every sample's timestamp is
 *                                 moved by this much (signed): the driver's clock
 *                                 as it was before a wall-clock step
 *   gpu.<i>.claim.<function>=<n>  a list call (the process lists,
 *                                 nvmlDeviceGetProcessUtilization) given room
 *                                 for fewer than <n> entries answers
 *                                 INSUFFICIENT_SIZE with <n> as the count it
 *                                 needs, whatever it holds (a driver claiming
 *                                 more entries than it has)
 *   gpu.<i>.compute_processes=self:1048576,4242:2000   pid:bytes list;
 *   gpu.<i>.graphics_processes=...  `self` is the caller's pid, bytes `na` is
 *                                 NVML_VALUE_NOT_AVAILABLE
 *
 * A field absent from the file is NOT_SUPPORTED, as on a device that lacks it.
 *
 * Compiled with -DFAKE_NVML_OMIT_SHUTDOWN, -DFAKE_NVML_OMIT_MEMORY_INFO_V2 or
 * -DFAKE_NVML_OMIT_GPM (a driver older than GPM) it
 * lacks that symbol, as an old or broken driver library would.
 * The device count is the highest configured <i> plus one.
 */
#define _GNU_SOURCE
#define NVML_NO_UNVERSIONED_FUNC_DEFS
#include <nvml.h>

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_GPUS 16
#define MAX_PROCS 16
#define MAX_FAILS 32
#define MAX_TEXT 96
#define MAX_COSTS 64
#define MAX_CLAIMS 4

enum field {
    F_MEMORY_TOTAL,
    F_MEMORY_USED,
    F_MEMORY_RESERVED,
    F_MEMORY_FREE,
    F_UTIL_GPU,
    F_UTIL_MEMORY,
    F_TEMPERATURE,
    F_POWER_MW,
    F_ENERGY_MJ,
    F_MIG_CURRENT,
    F_MIG_PENDING,
    F_CLOCK_SM,
    F_CLOCK_MEMORY,
    F_POWER_LIMIT_MW,
    F_TEMP_SLOWDOWN,
    F_TEMP_SHUTDOWN,
    F_TEMP_GPU_MAX,
    F_PSTATE,
    F_NUM_FANS,
    F_FAN_SPEED,
    F_CLOCK_EVENT_REASONS,
    F_ENCODER_UTIL,
    F_DECODER_UTIL,
    F_RETIRED_PENDING,
    F_COUNT
};

static const char *FIELD_NAMES[F_COUNT] = {
    "memory_total", "memory_used", "memory_reserved", "memory_free",
    "utilization_gpu", "utilization_memory", "temperature", "power_mw",
    "energy_mj", "mig_current", "mig_pending", "clock_sm", "clock_memory",
    "power_limit_mw", "temperature_slowdown", "temperature_shutdown",
    "temperature_gpu_max", "pstate", "num_fans", "fan_speed",
    "clock_event_reasons", "encoder_util", "decoder_util",
    "retired_pages_pending",
};

struct fail {
    int gpu; /* -1: every device */
    char function[MAX_TEXT];
    nvmlReturn_t code;
};

struct proc {
    unsigned int pid;
    unsigned long long bytes;
};

struct nvmlDevice_st {
    int index;
};

struct util_sample {
    unsigned int pid;
    unsigned int sm;
    unsigned int mem;
    unsigned long long timestamp_us;
    long long age_us;
};

struct claim {
    char function[MAX_TEXT];
    unsigned int count;
};

struct gpu {
    char name[MAX_TEXT];
    char uuid[MAX_TEXT];
    char pci_bus_id[MAX_TEXT];
    int lost;
    int has[F_COUNT];
    unsigned long long value[F_COUNT];
    struct proc compute[MAX_PROCS];
    int n_compute;
    struct proc graphics[MAX_PROCS];
    int n_graphics;
    /* nvmlDeviceGetFieldValues, by field id. */
    int energy_from_power;
    unsigned long long xid_code;
    unsigned long long xid_n;
    int no_events;
    unsigned char field_has[NVML_FI_MAX];
    unsigned long long field_value[NVML_FI_MAX];
    nvmlReturn_t field_error[NVML_FI_MAX];
    int gpm;
    unsigned char gpm_has[NVML_GPM_METRIC_MAX];
    double gpm_value[NVML_GPM_METRIC_MAX];
    struct util_sample util[MAX_PROCS];
    int n_util;
    int util_live;
    long long util_offset_us;
    struct claim claims[MAX_CLAIMS];
    int n_claims;
};

struct cost {
    char function[MAX_TEXT];
    unsigned int us;
};

struct config {
    nvmlReturn_t init_error;
    struct cost costs[MAX_COSTS];
    int n_costs;
    unsigned int field_cost_us[NVML_FI_MAX];
    unsigned int slow_ms;
    unsigned int init_slow_ms;
    int hang;
    char driver_version[MAX_TEXT];
    int cuda_driver_version;
    int has_cuda_driver_version;
    int gpu_count;
    struct gpu gpus[MAX_GPUS];
    struct fail fails[MAX_FAILS];
    int n_fails;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct config cfg;
static struct stat cfg_stat;
static int cfg_loaded;
static struct nvmlDevice_st handles[MAX_GPUS];
/* Energy a GPU with energy_from_power gained so far (mJ), and when it was last advanced. */
static double energy_gained[MAX_GPUS];
static unsigned long long energy_at_ns[MAX_GPUS];

static unsigned long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (unsigned long long)t.tv_sec * 1000000000ull + (unsigned long long)t.tv_nsec;
}

/* When the call being served began (after the lock was taken). */
static unsigned long long call_started_ns;

/* Busy until `us` microseconds after the call began: the real driver's time is the caller's
 * CPU time, and the fake's own bookkeeping counts towards it. */
static void spend(unsigned long long us) {
    if (us == 0) return;
    unsigned long long until = call_started_ns + us * 1000ull;
    while (now_ns() < until) {
    }
}

static unsigned int cost_of(const char *function) {
    for (int k = 0; k < cfg.n_costs; k++) {
        if (strcmp(cfg.costs[k].function, function) == 0) return cfg.costs[k].us;
    }
    return 0;
}

/* Advances the energy counters of GPUs drawing steady power, at the power they draw now.
 * Call with `lock` held, before the config changes and before reading a counter. */
static void advance_energy(void) {
    unsigned long long now = now_ns();
    for (int i = 0; i < MAX_GPUS; i++) {
        if (energy_at_ns[i] != 0 && i < cfg.gpu_count && cfg.gpus[i].energy_from_power) {
            energy_gained[i] += (double)cfg.gpus[i].value[F_POWER_MW] * (double)(now - energy_at_ns[i]) / 1e9;
        }
        energy_at_ns[i] = now;
    }
}

static void copy_text(char *dst, const char *src) {
    snprintf(dst, MAX_TEXT, "%s", src);
}

static void parse_procs(const char *value, struct proc *procs, int *count) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", value);
    *count = 0;
    for (char *save = NULL, *item = strtok_r(buf, ",", &save); item && *count < MAX_PROCS;
         item = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(item, ':');
        if (!colon) continue;
        *colon = '\0';
        struct proc *p = &procs[(*count)++];
        p->pid = strcmp(item, "self") == 0 ? (unsigned int)getpid() : (unsigned int)strtoul(item, NULL, 10);
        p->bytes = strcmp(colon + 1, "na") == 0 ? (unsigned long long)NVML_VALUE_NOT_AVAILABLE : strtoull(colon + 1, NULL, 10);
    }
}

static unsigned long long wall_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (unsigned long long)t.tv_sec * 1000000ull + (unsigned long long)t.tv_nsec / 1000ull;
}

static void parse_util(const char *value, struct util_sample *samples, int *count) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", value);
    *count = 0;
    unsigned long long now = wall_us();
    for (char *save = NULL, *item = strtok_r(buf, ",", &save); item && *count < MAX_PROCS;
         item = strtok_r(NULL, ",", &save)) {
        char *parts[4] = {item, NULL, NULL, NULL};
        for (int k = 1; k < 4; k++) {
            char *colon = parts[k - 1] ? strchr(parts[k - 1], ':') : NULL;
            if (!colon) break;
            *colon = '\0';
            parts[k] = colon + 1;
        }
        if (!parts[3]) continue;
        struct util_sample *u = &samples[(*count)++];
        u->pid = strcmp(parts[0], "self") == 0 ? (unsigned int)getpid() : (unsigned int)strtoul(parts[0], NULL, 10);
        u->sm = (unsigned int)strtoul(parts[1], NULL, 10);
        u->mem = (unsigned int)strtoul(parts[2], NULL, 10);
        u->age_us = strtoll(parts[3], NULL, 10) * 1000ll;
        u->timestamp_us = now - (unsigned long long)u->age_us;
    }
}

static void parse_line(struct config *c, char *key, char *value) {
    if (strcmp(key, "init_error") == 0) {
        c->init_error = (nvmlReturn_t)atoi(value);
    } else if (strncmp(key, "cost.field.", 11) == 0) {
        long id = strtol(key + 11, NULL, 10);
        if (id >= 0 && id < NVML_FI_MAX) c->field_cost_us[id] = (unsigned int)strtoul(value, NULL, 10);
    } else if (strncmp(key, "cost.", 5) == 0 && c->n_costs < MAX_COSTS) {
        struct cost *k = &c->costs[c->n_costs++];
        copy_text(k->function, key + 5);
        k->us = (unsigned int)strtoul(value, NULL, 10);
    } else if (strcmp(key, "slow_ms") == 0) {
        c->slow_ms = (unsigned int)strtoul(value, NULL, 10);
    } else if (strcmp(key, "init_slow_ms") == 0) {
        c->init_slow_ms = (unsigned int)strtoul(value, NULL, 10);
    } else if (strcmp(key, "hang") == 0) {
        c->hang = atoi(value);
    } else if (strcmp(key, "driver_version") == 0) {
        copy_text(c->driver_version, value);
    } else if (strcmp(key, "cuda_driver_version") == 0) {
        c->cuda_driver_version = atoi(value);
        c->has_cuda_driver_version = 1;
    } else if (strncmp(key, "fail.", 5) == 0 && c->n_fails < MAX_FAILS) {
        struct fail *f = &c->fails[c->n_fails++];
        f->gpu = -1;
        copy_text(f->function, key + 5);
        f->code = (nvmlReturn_t)atoi(value);
    } else if (strncmp(key, "gpu.", 4) == 0) {
        char *rest = NULL;
        long i = strtol(key + 4, &rest, 10);
        if (i < 0 || i >= MAX_GPUS || !rest || *rest != '.') return;
        const char *field = rest + 1;
        struct gpu *g = &c->gpus[i];
        if (i + 1 > c->gpu_count) c->gpu_count = (int)i + 1;
        if (strcmp(field, "name") == 0) copy_text(g->name, value);
        else if (strcmp(field, "uuid") == 0) copy_text(g->uuid, value);
        else if (strcmp(field, "pci_bus_id") == 0) copy_text(g->pci_bus_id, value);
        else if (strcmp(field, "lost") == 0) g->lost = atoi(value);
        else if (strcmp(field, "energy_from_power") == 0) g->energy_from_power = atoi(value);
        else if (strcmp(field, "compute_processes") == 0) parse_procs(value, g->compute, &g->n_compute);
        else if (strcmp(field, "graphics_processes") == 0) parse_procs(value, g->graphics, &g->n_graphics);
        else if (strcmp(field, "process_utilization") == 0) parse_util(value, g->util, &g->n_util);
        else if (strcmp(field, "process_utilization.live") == 0) g->util_live = atoi(value);
        else if (strcmp(field, "process_utilization.offset_ms") == 0) g->util_offset_us = strtoll(value, NULL, 10) * 1000ll;
        else if (strncmp(field, "claim.", 6) == 0 && g->n_claims < MAX_CLAIMS) {
            struct claim *k = &g->claims[g->n_claims++];
            copy_text(k->function, field + 6);
            k->count = (unsigned int)strtoul(value, NULL, 10);
        }
        else if (strcmp(field, "gpm") == 0) g->gpm = atoi(value);
        else if (strncmp(field, "gpm.", 4) == 0) {
            long id = strtol(field + 4, NULL, 10);
            if (id <= 0 || id >= NVML_GPM_METRIC_MAX) return;
            g->gpm_has[id] = 1;
            g->gpm_value[id] = strtod(value, NULL);
        }
        else if (strcmp(field, "xid") == 0) {
            char *colon = strchr(value, ':');
            g->xid_code = strtoull(value, NULL, 10);
            g->xid_n = colon ? strtoull(colon + 1, NULL, 10) : 1;
        } else if (strcmp(field, "events") == 0) {
            g->no_events = atoi(value) == 0;
        } else if (strncmp(field, "field.", 6) == 0) {
            char *after = NULL;
            long id = strtol(field + 6, &after, 10);
            if (id < 0 || id >= NVML_FI_MAX) return;
            if (after && strcmp(after, ".error") == 0) g->field_error[id] = (nvmlReturn_t)atoi(value);
            else if (after && *after == '\0') {
                g->field_has[id] = 1;
                g->field_value[id] = strtoull(value, NULL, 10);
            }
        } else if (strncmp(field, "fail.", 5) == 0 && c->n_fails < MAX_FAILS) {
            struct fail *f = &c->fails[c->n_fails++];
            f->gpu = (int)i;
            copy_text(f->function, field + 5);
            f->code = (nvmlReturn_t)atoi(value);
        } else {
            for (int k = 0; k < F_COUNT; k++) {
                if (strcmp(field, FIELD_NAMES[k]) == 0) {
                    g->has[k] = 1;
                    g->value[k] = strtoull(value, NULL, 10);
                }
            }
        }
    }
}

static void config_path(char *out, size_t len) {
    Dl_info info;
    /* SAFETY of the cast: dladdr only uses the address to find the object. */
    if (dladdr((void *)&config_path, &info) && info.dli_fname) {
        snprintf(out, len, "%s", info.dli_fname);
        char *slash = strrchr(out, '/');
        if (slash) {
            snprintf(slash + 1, len - (size_t)(slash + 1 - out), "fake-nvml.conf");
            return;
        }
    }
    snprintf(out, len, "fake-nvml.conf");
}

/* The harness asks for a re-read after it rewrites the file (fake_nvml_reload); otherwise
 * the file is looked at no more than once a millisecond, so that a process the harness does
 * not share (an example run as a program) still sees a change within a millisecond, while a
 * call costs what the cost table says and not a `stat` more. */
static int reload_requested = 1;
static unsigned long long checked_at_ns;

void fake_nvml_reload(void) {
    __atomic_store_n(&reload_requested, 1, __ATOMIC_SEQ_CST);
}

/* Counts a call of nvmlInit_v2 in the file `init-calls` beside the control file, one
 * byte per call: a failed init unloads the library (and its statics), so the count lives
 * on disk, for the harness's tests of re-opening. */
static void count_init(void) {
    char path[PATH_MAX];
    config_path(path, sizeof path);
    char *slash = strrchr(path, '/');
    size_t dir = slash ? (size_t)(slash + 1 - path) : 0;
    snprintf(path + dir, sizeof path - dir, "init-calls");
    FILE *f = fopen(path, "a");
    if (f) {
        fputc('.', f);
        fclose(f);
    }
}

/* Re-reads the control file when it changed. Call with `lock` held. */
static void refresh_config(void) {
    char path[PATH_MAX];
    struct stat st;
    unsigned long long now = now_ns();
    int asked = __atomic_exchange_n(&reload_requested, 0, __ATOMIC_SEQ_CST);
    if (cfg_loaded && !asked && now - checked_at_ns < 1000000ull) return;
    checked_at_ns = now;
    config_path(path, sizeof path);
    if (stat(path, &st) != 0) {
        memset(&cfg, 0, sizeof cfg);
        cfg.init_error = NVML_ERROR_LIBRARY_NOT_FOUND;
        cfg_loaded = 0;
        return;
    }
    if (cfg_loaded && st.st_ino == cfg_stat.st_ino && st.st_size == cfg_stat.st_size &&
        st.st_mtim.tv_sec == cfg_stat.st_mtim.tv_sec && st.st_mtim.tv_nsec == cfg_stat.st_mtim.tv_nsec) {
        return;
    }
    FILE *f = fopen(path, "r");
    if (!f) return;
    struct config next;
    memset(&next, 0, sizeof next);
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        line[strcspn(line, "\r\n")] = '\0';
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = '\0';
        char *key = line, *value = eq + 1;
        while (*key == ' ') key++;
        for (char *end = key + strlen(key); end > key && end[-1] == ' '; end--) end[-1] = '\0';
        while (*value == ' ') value++;
        for (char *end = value + strlen(value); end > value && end[-1] == ' '; end--) end[-1] = '\0';
        parse_line(&next, key, value);
    }
    fclose(f);
    advance_energy();
    cfg = next;
    cfg_stat = st;
    cfg_loaded = 1;
}

static nvmlReturn_t injected(int gpu, const char *function) {
    for (int k = 0; k < cfg.n_fails; k++) {
        if (cfg.fails[k].gpu == gpu && strcmp(cfg.fails[k].function, function) == 0) return cfg.fails[k].code;
    }
    for (int k = 0; k < cfg.n_fails; k++) {
        if (cfg.fails[k].gpu == -1 && strcmp(cfg.fails[k].function, function) == 0) return cfg.fails[k].code;
    }
    return NVML_SUCCESS;
}

static void maybe_slow(void) {
    if (cfg.slow_ms > 0) usleep(cfg.slow_ms * 1000u);
}

/* hang=1: stays here, holding `lock`, while the control file says so. Call with `lock` held,
 * after refresh_config. When it hung, the call's cost counts from its end. */
static void maybe_hang(void) {
    if (!cfg.hang) return;
    while (cfg.hang) {
        usleep(10 * 1000);
        fake_nvml_reload();
        refresh_config();
    }
    call_started_ns = now_ns();
}

/* Takes the lock, refreshes the config and checks injected failures. On
 * NVML_SUCCESS the lock stays held and *out points at the device. */
static nvmlReturn_t enter(nvmlDevice_t device, const char *function, struct gpu **out) {
    pthread_mutex_lock(&lock);
    call_started_ns = now_ns();
    refresh_config();
    maybe_hang();
    maybe_slow();
    spend(cost_of(function));
    if (device == NULL || device < handles || device >= handles + MAX_GPUS || device->index >= cfg.gpu_count) {
        pthread_mutex_unlock(&lock);
        return NVML_ERROR_INVALID_ARGUMENT;
    }
    struct gpu *g = &cfg.gpus[device->index];
    nvmlReturn_t rc = g->lost ? NVML_ERROR_GPU_IS_LOST : injected(device->index, function);
    if (rc != NVML_SUCCESS) {
        pthread_mutex_unlock(&lock);
        return rc;
    }
    *out = g;
    return NVML_SUCCESS;
}

static nvmlReturn_t leave(nvmlReturn_t rc) {
    pthread_mutex_unlock(&lock);
    return rc;
}

static nvmlReturn_t copy_string(const char *src, char *dst, unsigned int length) {
    if (!dst) return NVML_ERROR_INVALID_ARGUMENT;
    if (strlen(src) + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(dst, src, strlen(src) + 1);
    return NVML_SUCCESS;
}

static nvmlReturn_t global_call(const char *function) {
    pthread_mutex_lock(&lock);
    call_started_ns = now_ns();
    refresh_config();
    maybe_hang();
    maybe_slow();
    spend(cost_of(function));
    return injected(-1, function);
}

nvmlReturn_t DECLDIR nvmlInit_v2(void) {
    count_init();
    pthread_mutex_lock(&lock);
    refresh_config();
    maybe_hang();
    if (cfg.init_slow_ms > 0) usleep(cfg.init_slow_ms * 1000u);
    nvmlReturn_t rc = cfg.init_error;
    for (int i = 0; i < MAX_GPUS; i++) handles[i].index = i;
    return leave(rc);
}

#ifndef FAKE_NVML_OMIT_SHUTDOWN
nvmlReturn_t DECLDIR nvmlShutdown(void) {
    nvmlReturn_t rc = global_call("nvmlShutdown");
    return leave(rc);
}
#endif

nvmlReturn_t DECLDIR nvmlSystemGetDriverVersion(char *version, unsigned int length) {
    nvmlReturn_t rc = global_call("nvmlSystemGetDriverVersion");
    if (rc == NVML_SUCCESS) {
        rc = cfg.driver_version[0] ? copy_string(cfg.driver_version, version, length) : NVML_ERROR_NOT_SUPPORTED;
    }
    return leave(rc);
}

nvmlReturn_t DECLDIR nvmlSystemGetCudaDriverVersion_v2(int *cudaDriverVersion) {
    nvmlReturn_t rc = global_call("nvmlSystemGetCudaDriverVersion_v2");
    if (rc == NVML_SUCCESS) {
        if (!cfg.has_cuda_driver_version) rc = NVML_ERROR_NOT_SUPPORTED;
        else *cudaDriverVersion = cfg.cuda_driver_version;
    }
    return leave(rc);
}

nvmlReturn_t DECLDIR nvmlDeviceGetCount_v2(unsigned int *deviceCount) {
    nvmlReturn_t rc = global_call("nvmlDeviceGetCount_v2");
    if (rc == NVML_SUCCESS) *deviceCount = (unsigned int)cfg.gpu_count;
    return leave(rc);
}

nvmlReturn_t DECLDIR nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
    nvmlReturn_t rc = global_call("nvmlDeviceGetHandleByIndex_v2");
    if (rc == NVML_SUCCESS) {
        if (index >= (unsigned int)cfg.gpu_count) rc = NVML_ERROR_INVALID_ARGUMENT;
        else if (cfg.gpus[index].lost) rc = NVML_ERROR_GPU_IS_LOST;
        else *device = &handles[index];
    }
    return leave(rc);
}

nvmlReturn_t DECLDIR nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device) {
    nvmlReturn_t rc = global_call("nvmlDeviceGetHandleByUUID");
    if (rc == NVML_SUCCESS) {
        rc = NVML_ERROR_NOT_FOUND;
        for (int i = 0; i < cfg.gpu_count; i++) {
            if (strcmp(cfg.gpus[i].uuid, uuid) == 0) {
                rc = cfg.gpus[i].lost ? NVML_ERROR_GPU_IS_LOST : NVML_SUCCESS;
                *device = &handles[i];
                break;
            }
        }
    }
    return leave(rc);
}

nvmlReturn_t DECLDIR nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length) {
    struct gpu *g;
    nvmlReturn_t rc = enter(device, "nvmlDeviceGetName", &g);
    if (rc != NVML_SUCCESS) return rc;
    return leave(g->name[0] ? copy_string(g->name, name, length) : NVML_ERROR_NOT_SUPPORTED);
}

nvmlReturn_t DECLDIR nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length) {
    struct gpu *g;
    nvmlReturn_t rc = enter(device, "nvmlDeviceGetUUID", &g);
    if (rc != NVML_SUCCESS) return rc;
    return leave(g->uuid[0] ? copy_string(g->uuid, uuid, length) : NVML_ERROR_NOT_SUPPORTED);
}

nvmlReturn_t DECLDIR nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci) {
    struct gpu *g;
    nvmlReturn_t rc = enter(device, "nvmlDeviceGetPciInfo_v3", &g);
    if (rc != NVML_SUCCESS) return rc;
    if (!g->pci_bus_id[0]) return leave(NVML_ERROR_NOT_SUPPORTED);
    memset(pci, 0, sizeof *pci);
    snprintf(pci->busId, sizeof pci->busId, "%.31s", g->pci_bus_id);
    snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "%.15s", g->pci_bus_id);
    unsigned int domain = 0, bus = 0, dev = 0;
    sscanf(g->pci_bus_id, "%x:%x:%x", &domain, &bus, &dev);
    pci->domain = domain;
    pci->bus = bus;
    pci->device = dev;
    pci->pciDeviceId = 0x233010de; /* H100 SXM, NVIDIA vendor id */
    return leave(NVML_SUCCESS);
}

#ifndef FAKE_NVML_OMIT_MEMORY_INFO_V2
nvmlReturn_t DECLDIR nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory) {
    struct gpu *g;
    nvmlReturn_t rc = enter(device, "nvmlDeviceGetMemoryInfo_v2", &g);
    if (rc != NVML_SUCCESS) return rc;
    /* The caller must say which struct it passes, exactly as the real driver checks. */
    if (memory->version != nvmlMemory_v2) return leave(NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
    if (!g->has[F_MEMORY_TOTAL] || !g->has[F_MEMORY_USED]) return leave(NVML_ERROR_NOT_SUPPORTED);
    memory->total = g->value[F_MEMORY_TOTAL];
    memory->used = g->value[F_MEMORY_USED];
    memory->reserved = g->has[F_MEMORY_RESERVED] ? g->value[F_MEMORY_RESERVED] : 0;
    memory->free = g->has[F_MEMORY_FREE] ? g->value[F_MEMORY_FREE]
                                         : memory->total - memory->used - memory->reserved;
    return leave(NVML_SUCCESS);
}
#endif

nvmlReturn_t DECLDIR nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *utilization) {
    struct gpu *g;
    nvmlReturn_t rc = enter(device, "nvmlDeviceGetUtilizationRates", &g);
    if (rc != NVML_SUCCESS) return rc;
    if (!g->has[F_UTIL_GPU] || !g->has[F_UTIL_MEMORY]) return leave(NVML_ERROR_NOT_SUPPORTED);
    utilization->gpu = (unsigned int)g->value[F_UTIL_GPU];
    utilization->memory = (unsigned int)g->value[F_UTIL_MEMORY];
    return leave(NVML_SUCCESS);
}

nvmlReturn_t DECLDIR nvmlDeviceGetTemperature(nvmlDevice_t device, nvmlTemperatureSensors_t sensorType,
                                              unsigned int *temp) {
    struct gpu *g;
    nvmlReturn_t rc = enter(device, "nvmlDeviceGetTemperature", &g);
    if (rc != NVML_SUCCESS) return rc;
    if (sensorType != NVML_TEMPERATURE_GPU) return leave(NVML_ERROR_INVALID_ARGUMENT);
    if (!g->has[F_TEMPERATURE]) return leave(NVML_ERROR_NOT_SUPPORTED);
    *temp = (unsigned int)g->value[F_TEMPERATURE];
    return leave(NVML_SUCCESS);
}

nvmlReturn_t DECLDIR nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *power) {
    struct gpu *g;
    nvmlReturn_t rc = enter(device, "nvmlDeviceGetPowerUsage", &g);
    if (rc != NVML_SUCCESS) return rc;
    if (!g->has[F_POWER_MW]) return leave(NVML_ERROR_NOT_SUPPORTED);
    *power = (unsigned int)g->value[F_POWER_MW];
    return leave(NVML_SUCCESS);
}

nvmlReturn_t DECLDIR nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, unsigned long long *energy) {
    struct gpu *g;
    nvmlReturn_t rc = enter(device, "nvmlDeviceGetTotalEnergyConsumption", &g);
    if (rc != NVML_SUCCESS) return rc;
    if (!g->has[F_ENERGY_MJ]) return leave(NVML_ERROR_NOT_SUPPORTED);
    advance_energy();
    *energy = g->value[F_ENERGY_MJ] + (unsigned long long)energy_gained[device->index];
    return leave(NVML_SUCCESS);
}

nvmlReturn_t DECLDIR nvmlDeviceGetMigMode(nvmlDevice_t device, unsigned int *currentMode, unsigned int *pendingMode) {
    struct gpu *g;
    nvmlReturn_t rc = enter(device, "nvmlDeviceGetMigMode", &g);
    if (rc != NVML_SUCCESS) return rc;
    if (!g->has[F_MIG_CURRENT]) return leave(NVML_ERROR_NOT_SUPPORTED);
    *currentMode = (unsigned int)g->value[F_MIG_CURRENT];
    *pendingMode = (unsigned int)(g->has[F_MIG_PENDING] ? g->value[F_MIG_PENDING] : g->value[F_MIG_CURRENT]);
    return leave(NVML_SUCCESS);
}

/* The count a driver lying about a list's length claims for <function> (0: none). */
static unsigned int claimed(const struct gpu *g, const char *function) {
    for (int k = 0; k < g->n_claims; k++) {
        if (strcmp(g->claims[k].function, function) == 0) return g->claims[k].count;
    }
    return 0;
}

/* The _v3 process lists: a call with a count too small (the count-0 probe)
 * answers INSUFFICIENT_SIZE with the count needed, as the driver does. */
static nvmlReturn_t fill_processes(const struct proc *procs, int n, unsigned int claim, unsigned int *infoCount,
                                   nvmlProcessInfo_t *infos) {
    if (!infoCount) return NVML_ERROR_INVALID_ARGUMENT;
    if (*infoCount < claim) {
        *infoCount = claim;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    if (*infoCount < (unsigned int)n) {
        *infoCount = (unsigned int)n;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    for (int k = 0; k < n; k++) {
        infos[k].pid = procs[k].pid;
        infos[k].usedGpuMemory = procs[k].bytes;
        infos[k].gpuInstanceId = 0xFFFFFFFF;
        infos[k].computeInstanceId = 0xFFFFFFFF;
    }
    *infoCount = (unsigned int)n;
    return NVML_SUCCESS;
}

nvmlReturn_t DECLDIR nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount,
                                                             nvmlProcessInfo_t *infos) {
    struct gpu *g;
    nvmlReturn_t rc = enter(device, "nvmlDeviceGetComputeRunningProcesses_v3", &g);
    if (rc != NVML_SUCCESS) return rc;
    return leave(fill_processes(g->compute, g->n_compute, claimed(g, "nvmlDeviceGetComputeRunningProcesses_v3"),
                                infoCount, infos));
}

nvmlReturn_t DECLDIR nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount,
                                                              nvmlProcessInfo_t *infos) {
    struct gpu *g;
    nvmlReturn_t rc = enter(device, "nvmlDeviceGetGraphicsRunningProcesses_v3", &g);
    if (rc != NVML_SUCCESS) return rc;
    return leave(fill_processes(g->graphics, g->n_graphics, claimed(g, "nvmlDeviceGetGraphicsRunningProcesses_v3"),
                                infoCount, infos));
}

/* Issue 18: clocks, limits, thresholds, state, fans, clock-event reasons,
 * encoder and decoder, retired pages, field values. */

/* One unsigned figure of device `g`, or NOT_SUPPORTED when the file lacks it. */
static nvmlReturn_t figure(struct gpu *g, enum field f, unsigned long long *out) {
    if (!g->has[f]) return NVML_ERROR_NOT_SUPPORTED;
    *out = g->value[f];
    return NVML_SUCCESS;
}

nvmlReturn_t DECLDIR nvmlDeviceGetClockInfo(nvmlDevice_t device, nvmlClockType_t type, unsigned int *clock) {
    struct gpu *g;
    nvmlReturn_t rc = enter(device, "nvmlDeviceGetClockInfo", &g);
    if (rc != NVML_SUCCESS) return rc;
    unsigned long long v = 0;
    if (type == NVML_CLOCK_SM) rc = figure(g, F_CLOCK_SM, &v);
    else if (type == NVML_CLOCK_MEM) rc = figure(g, F_CLOCK_MEMORY, &v);
    else rc = NVML_ERROR_NOT_SUPPORTED;
    if (rc == NVML_SUCCESS) *clock = (unsigned int)v;
    return leave(rc);
}

nvmlReturn_t DECLDIR nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t device, unsigned int *limit) {
    struct gpu *g;
    nvmlReturn_t rc = enter(device, "nvmlDeviceGetEnforcedPowerLimit", &g);
    if (rc != NVML_SUCCESS) return rc;
    unsigned long long v = 0;
    rc = figure(g, F_POWER_LIMIT_MW, &v);
    if (rc == NVML_SUCCESS) *limit = (unsigned int)v;
    return leave(rc);
}

nvmlReturn_t DECLDIR nvmlDeviceGetTemperatureThreshold(nvmlDevice_t device, nvmlTemperatureThresholds_t type,
                                                       unsigned int *temp) {
    struct gpu *g;
    nvmlReturn_t rc = enter(device, "nvmlDeviceGetTemperatureThreshold", &g);
    if (rc != NVML_SUCCESS) return rc;
    unsigned long long v = 0;
    if (type == NVML_TEMPERATURE_THRESHOLD_SLOWDOWN) rc = figure(g, F_TEMP_SLOWDOWN, &v);
    else if (type == NVML_TEMPERATURE_THRESHOLD_SHUTDOWN) rc = figure(g, F_TEMP_SHUTDOWN, &v);
    else if (type == NVML_TEMPERATURE_THRESHOLD_GPU_MAX) rc = figure(g, F_TEMP_GPU_MAX, &v);
    else rc = NVML_ERROR_NOT_SUPPORTED;
    if (rc == NVML_SUCCESS) *temp = (unsigned int)v;
    return leave(rc);
}

nvmlReturn_t DECLDIR nvmlDeviceGetPerformanceState(nvmlDevice_t device, nvmlPstates_t *state) {
    struct gpu *g;
    nvmlReturn_t rc = enter(device, "nvmlDeviceGetPerformanceState", &g);
    if (rc != NVML_SUCCESS) return rc;
    unsigned long long v = 0;
    rc = figure(g, F_PSTATE, &v);
    if (rc == NVML_SUCCESS) *state = (nvmlPstates_t)v;
    return leave(rc);
}

nvmlReturn_t DECLDIR nvmlDeviceGetNumFans(nvmlDevice_t device, unsigned int *fans) {
    struct gpu *g;
    nvmlReturn_t rc = enter(device, "nvmlDeviceGetNumFans", &g);
    if (rc != NVML_SUCCESS) return rc;
    unsigned long long v = 0;
    rc = figure(g, F_NUM_FANS, &v);
    if (rc == NVML_SUCCESS) *fans = (unsigned int)v;
    return leave(rc);
}

nvmlReturn_t DECLDIR nvmlDeviceGetFanSpeed_v2(nvmlDevice_t device, unsigned int fan, unsigned int *speed) {
    struct gpu *g;
    nvmlReturn_t rc = enter(device, "nvmlDeviceGetFanSpeed_v2", &g);
    if (rc != NVML_SUCCESS) return rc;
    if (!g->has[F_NUM_FANS] || fan >= g->value[F_NUM_FANS]) return leave(NVML_ERROR_INVALID_ARGUMENT);
    unsigned long long v = 0;
    rc = figure(g, F_FAN_SPEED, &v);
    if (rc == NVML_SUCCESS) *speed = (unsigned int)v;
    return leave(rc);
}

nvmlReturn_t DECLDIR nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t device, unsigned long long *reasons) {
    struct gpu *g;
    nvmlReturn_t rc = enter(device, "nvmlDeviceGetCurrentClocksThrottleReasons", &g);
    if (rc != NVML_SUCCESS) return rc;
    return leave(figure(g, F_CLOCK_EVENT_REASONS, reasons));
}

static nvmlReturn_t codec(const char *function, enum field f, nvmlDevice_t device, unsigned int *utilization,
                          unsigned int *period) {
    struct gpu *g;
    nvmlReturn_t rc = enter(device, function, &g);
    if (rc != NVML_SUCCESS) return rc;
    unsigned long long v = 0;
    rc = figure(g, f, &v);
    if (rc == NVML_SUCCESS) {
        *utilization = (unsigned int)v;
        *period = 167000;
    }
    return leave(rc);
}

nvmlReturn_t DECLDIR nvmlDeviceGetEncoderUtilization(nvmlDevice_t device, unsigned int *utilization,
                                                     unsigned int *samplingPeriodUs) {
    return codec("nvmlDeviceGetEncoderUtilization", F_ENCODER_UTIL, device, utilization, samplingPeriodUs);
}

nvmlReturn_t DECLDIR nvmlDeviceGetDecoderUtilization(nvmlDevice_t device, unsigned int *utilization,
                                                     unsigned int *samplingPeriodUs) {
    return codec("nvmlDeviceGetDecoderUtilization", F_DECODER_UTIL, device, utilization, samplingPeriodUs);
}

nvmlReturn_t DECLDIR nvmlDeviceGetRetiredPagesPendingStatus(nvmlDevice_t device, nvmlEnableState_t *pending) {
    struct gpu *g;
    nvmlReturn_t rc = enter(device, "nvmlDeviceGetRetiredPagesPendingStatus", &g);
    if (rc != NVML_SUCCESS) return rc;
    unsigned long long v = 0;
    rc = figure(g, F_RETIRED_PENDING, &v);
    if (rc == NVML_SUCCESS) *pending = v ? NVML_FEATURE_ENABLED : NVML_FEATURE_DISABLED;
    return leave(rc);
}

/* Every requested field gets its own answer, as the driver gives: a value, or
 * the field's error (NOT_SUPPORTED when the file does not name it). */
nvmlReturn_t DECLDIR nvmlDeviceGetFieldValues(nvmlDevice_t device, int valuesCount, nvmlFieldValue_t *values) {
    struct gpu *g;
    nvmlReturn_t rc = enter(device, "nvmlDeviceGetFieldValues", &g);
    if (rc != NVML_SUCCESS) return rc;
    if (valuesCount <= 0 || !values) return leave(NVML_ERROR_INVALID_ARGUMENT);
    /* The call's own cost, then each field's. */
    unsigned long long field_cost = cost_of("nvmlDeviceGetFieldValues");
    for (int k = 0; k < valuesCount; k++) {
        if (values[k].fieldId < NVML_FI_MAX) field_cost += cfg.field_cost_us[values[k].fieldId];
    }
    spend(field_cost);
    for (int k = 0; k < valuesCount; k++) {
        nvmlFieldValue_t *v = &values[k];
        unsigned int id = v->fieldId;
        v->timestamp = 0;
        v->latencyUsec = 1;
        if (id >= NVML_FI_MAX) {
            v->nvmlReturn = NVML_ERROR_INVALID_ARGUMENT;
        } else if (g->field_error[id] != NVML_SUCCESS) {
            v->nvmlReturn = g->field_error[id];
        } else if (!g->field_has[id]) {
            v->nvmlReturn = NVML_ERROR_NOT_SUPPORTED;
        } else {
            v->nvmlReturn = NVML_SUCCESS;
            v->valueType = NVML_VALUE_TYPE_UNSIGNED_LONG_LONG;
            v->value.ullVal = g->field_value[id];
        }
    }
    return leave(NVML_SUCCESS);
}

/* Event sets: XID errors from the control file, each new <n> delivered once per
 * registered set. The wait polls the file without holding the lock while it
 * sleeps, so the other calls go on. */
struct nvmlEventSet_st {
    int used;
    int registered[MAX_GPUS];
    unsigned long long delivered[MAX_GPUS];
};

static struct nvmlEventSet_st event_sets[8];

nvmlReturn_t DECLDIR nvmlEventSetCreate(nvmlEventSet_t *set) {
    nvmlReturn_t rc = global_call("nvmlEventSetCreate");
    if (rc != NVML_SUCCESS) return leave(rc);
    for (int k = 0; k < 8; k++) {
        if (!event_sets[k].used) {
            memset(&event_sets[k], 0, sizeof event_sets[k]);
            event_sets[k].used = 1;
            *set = &event_sets[k];
            return leave(NVML_SUCCESS);
        }
    }
    return leave(NVML_ERROR_INSUFFICIENT_RESOURCES);
}

nvmlReturn_t DECLDIR nvmlDeviceRegisterEvents(nvmlDevice_t device, unsigned long long eventTypes, nvmlEventSet_t set) {
    struct gpu *g;
    nvmlReturn_t rc = enter(device, "nvmlDeviceRegisterEvents", &g);
    if (rc != NVML_SUCCESS) return rc;
    if (!set || !(eventTypes & nvmlEventTypeXidCriticalError)) return leave(NVML_ERROR_INVALID_ARGUMENT);
    if (g->no_events) return leave(NVML_ERROR_NOT_SUPPORTED);
    set->registered[device->index] = 1;
    /* Only XIDs raised after the registration are delivered. */
    set->delivered[device->index] = g->xid_n;
    return leave(NVML_SUCCESS);
}

nvmlReturn_t DECLDIR nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms) {
    for (unsigned int waited = 0;; waited += 10) {
        pthread_mutex_lock(&lock);
        refresh_config();
        maybe_hang();
        nvmlReturn_t rc = injected(-1, "nvmlEventSetWait_v2");
        if (rc != NVML_SUCCESS) return leave(rc);
        for (int i = 0; i < cfg.gpu_count; i++) {
            struct gpu *g = &cfg.gpus[i];
            if (set->registered[i] && g->xid_n > set->delivered[i]) {
                set->delivered[i] = g->xid_n;
                data->device = &handles[i];
                data->eventType = nvmlEventTypeXidCriticalError;
                data->eventData = g->xid_code;
                data->gpuInstanceId = 0xFFFFFFFF;
                data->computeInstanceId = 0xFFFFFFFF;
                return leave(NVML_SUCCESS);
            }
        }
        pthread_mutex_unlock(&lock);
        if (waited >= timeoutms) return NVML_ERROR_TIMEOUT;
        usleep(10 * 1000);
    }
}

nvmlReturn_t DECLDIR nvmlEventSetFree(nvmlEventSet_t set) {
    pthread_mutex_lock(&lock);
    refresh_config();
    maybe_hang();
    if (set) set->used = 0;
    return leave(NVML_SUCCESS);
}

/* Per-process utilization: the configured samples newer than lastSeenTimeStamp, NOT_FOUND
 * when there is none (as the driver answers while no process ran), the count protocol of
 * the other list calls otherwise. */
nvmlReturn_t DECLDIR nvmlDeviceGetProcessUtilization(nvmlDevice_t device, nvmlProcessUtilizationSample_t *utilization,
                                                     unsigned int *processSamplesCount,
                                                     unsigned long long lastSeenTimeStamp) {
    struct gpu *g;
    nvmlReturn_t rc = enter(device, "nvmlDeviceGetProcessUtilization", &g);
    if (rc != NVML_SUCCESS) return rc;
    if (!processSamplesCount) return leave(NVML_ERROR_INVALID_ARGUMENT);
    if (g->util_live) {
        /* A process running all along: its samples are as old as configured at each call. */
        unsigned long long now = wall_us();
        for (int k = 0; k < g->n_util; k++) g->util[k].timestamp_us = now - (unsigned long long)g->util[k].age_us;
    }
    /* Each sample's timestamp as the driver gives it (moved by the configured offset). */
    unsigned long long stamp[MAX_PROCS];
    for (int k = 0; k < g->n_util; k++) stamp[k] = g->util[k].timestamp_us + (unsigned long long)g->util_offset_us;
    unsigned int n = 0;
    for (int k = 0; k < g->n_util; k++) {
        if (stamp[k] > lastSeenTimeStamp) n++;
    }
    if (n == 0) return leave(NVML_ERROR_NOT_FOUND);
    unsigned int claim = claimed(g, "nvmlDeviceGetProcessUtilization");
    if (claim > n) n = claim;
    if (!utilization || *processSamplesCount < n) {
        *processSamplesCount = n;
        return leave(NVML_ERROR_INSUFFICIENT_SIZE);
    }
    unsigned int out = 0;
    for (int k = 0; k < g->n_util; k++) {
        const struct util_sample *u = &g->util[k];
        if (stamp[k] <= lastSeenTimeStamp) continue;
        utilization[out].pid = u->pid;
        utilization[out].timeStamp = stamp[k];
        utilization[out].smUtil = u->sm;
        utilization[out].memUtil = u->mem;
        utilization[out].encUtil = 0;
        utilization[out].decUtil = 0;
        out++;
    }
    *processSamplesCount = out;
    return leave(NVML_SUCCESS);
}

#ifndef FAKE_NVML_OMIT_GPM
/* GPM: samples from a pool, each remembering its device and when it was taken; metrics
 * between two samples of one device from the configured values. */
struct nvmlGpmSample_st {
    int used;
    int device;
    unsigned long long at_ns;
};

#define MAX_GPM_SAMPLES 64
static struct nvmlGpmSample_st gpm_samples[MAX_GPM_SAMPLES];

nvmlReturn_t DECLDIR nvmlGpmQueryDeviceSupport(nvmlDevice_t device, nvmlGpmSupport_t *gpmSupport) {
    struct gpu *g;
    nvmlReturn_t rc = enter(device, "nvmlGpmQueryDeviceSupport", &g);
    if (rc != NVML_SUCCESS) return rc;
    if (!gpmSupport) return leave(NVML_ERROR_INVALID_ARGUMENT);
    if (gpmSupport->version != NVML_GPM_SUPPORT_VERSION) return leave(NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
    gpmSupport->isSupportedDevice = g->gpm ? 1 : 0;
    return leave(NVML_SUCCESS);
}

nvmlReturn_t DECLDIR nvmlGpmSampleAlloc(nvmlGpmSample_t *gpmSample) {
    nvmlReturn_t rc = global_call("nvmlGpmSampleAlloc");
    if (rc != NVML_SUCCESS) return leave(rc);
    if (!gpmSample) return leave(NVML_ERROR_INVALID_ARGUMENT);
    for (int k = 0; k < MAX_GPM_SAMPLES; k++) {
        if (!gpm_samples[k].used) {
            gpm_samples[k].used = 1;
            gpm_samples[k].device = -1;
            gpm_samples[k].at_ns = 0;
            *gpmSample = &gpm_samples[k];
            return leave(NVML_SUCCESS);
        }
    }
    return leave(NVML_ERROR_MEMORY);
}

nvmlReturn_t DECLDIR nvmlGpmSampleFree(nvmlGpmSample_t gpmSample) {
    pthread_mutex_lock(&lock);
    refresh_config();
    maybe_hang();
    if (!gpmSample || gpmSample < gpm_samples || gpmSample >= gpm_samples + MAX_GPM_SAMPLES || !gpmSample->used) {
        return leave(NVML_ERROR_INVALID_ARGUMENT);
    }
    gpmSample->used = 0;
    return leave(NVML_SUCCESS);
}

nvmlReturn_t DECLDIR nvmlGpmSampleGet(nvmlDevice_t device, nvmlGpmSample_t gpmSample) {
    struct gpu *g;
    nvmlReturn_t rc = enter(device, "nvmlGpmSampleGet", &g);
    if (rc != NVML_SUCCESS) return rc;
    if (!gpmSample || !gpmSample->used) return leave(NVML_ERROR_INVALID_ARGUMENT);
    if (!g->gpm) return leave(NVML_ERROR_NOT_SUPPORTED);
    gpmSample->device = device->index;
    gpmSample->at_ns = now_ns();
    return leave(NVML_SUCCESS);
}

nvmlReturn_t DECLDIR nvmlGpmMetricsGet(nvmlGpmMetricsGet_t *metricsGet) {
    nvmlReturn_t rc = global_call("nvmlGpmMetricsGet");
    if (rc != NVML_SUCCESS) return leave(rc);
    if (!metricsGet) return leave(NVML_ERROR_INVALID_ARGUMENT);
    if (metricsGet->version != NVML_GPM_METRICS_GET_VERSION) return leave(NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
    nvmlGpmSample_t a = metricsGet->sample1, b = metricsGet->sample2;
    if (!a || !b || !a->used || !b->used || a->device < 0 || a->device != b->device || b->at_ns <= a->at_ns ||
        a->device >= cfg.gpu_count || metricsGet->numMetrics > NVML_GPM_METRIC_MAX) {
        return leave(NVML_ERROR_INVALID_ARGUMENT);
    }
    const struct gpu *g = &cfg.gpus[a->device];
    int refreshed = b->at_ns - a->at_ns >= 100ull * 1000000ull;
    for (unsigned int k = 0; k < metricsGet->numMetrics; k++) {
        nvmlGpmMetric_t *m = &metricsGet->metrics[k];
        m->metricInfo.shortName = NULL;
        m->metricInfo.longName = NULL;
        m->metricInfo.unit = NULL;
        if (m->metricId == 0 || m->metricId >= NVML_GPM_METRIC_MAX || !g->gpm_has[m->metricId]) {
            m->nvmlReturn = NVML_ERROR_NOT_SUPPORTED;
            m->value = 0.0;
            continue;
        }
        m->nvmlReturn = NVML_SUCCESS;
        m->value = refreshed ? g->gpm_value[m->metricId] : 0.0;
    }
    return leave(NVML_SUCCESS);
}
#endif /* FAKE_NVML_OMIT_GPM */
