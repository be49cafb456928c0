/* The vDSO, as Linux provides it (vdso/vdso.c, vkernel/vdso.cpp).
 *
 *   vdso_test              the facts below; prints only what is the same on
 *                          the host and in the vkernel (no times)
 *   vdso_test few          the same with 20 times fewer calls in the loops
 *                          (for a vDSO that makes the syscall every time)
 *   vdso_test loop N       N clock_gettime calls through libc (for the
 *                          --stats test: they must not exit)
 *   vdso_test sysloop N    N clock_gettime syscalls (its control)
 *
 * Facts: AT_SYSINFO_EHDR points at an x86-64 ELF shared object with both
 * hash tables and the version LINUX_2.6, exporting the __vdso_ functions
 * and their unprefixed aliases (found through DT_HASH and DT_GNU_HASH, and
 * called directly); /proc/self/maps names [vdso] (at AT_SYSINFO_EHDR) and
 * [vvar]; every clock read through libc agrees with the syscall within
 * 1 ms (a tick more for the _COARSE ones); clock_getres agrees; time() and
 * CLOCK_MONOTONIC never go back; gettimeofday agrees with CLOCK_REALTIME and
 * fills a timezone with zeros; a bad clock id is EINVAL; threads see time
 * ordered across CPUs; a fork child and an exec'd image have a working
 * vDSO; [vvar] cannot be made writable; munmap removes both.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CLOCK_TAI
#define CLOCK_TAI 11
#endif

#define MS 1000000LL

static int64_t ns_of(const struct timespec* t) { return (int64_t)t->tv_sec * 1000000000LL + t->tv_nsec; }

static int64_t sys_clock(clockid_t c) {
    struct timespec t;
    if (syscall(SYS_clock_gettime, c, &t) != 0) return -1;
    return ns_of(&t);
}

static int64_t libc_clock(clockid_t c) {
    struct timespec t;
    if (clock_gettime(c, &t) != 0) return -1;
    return ns_of(&t);
}

/* ---- the image -------------------------------------------------------- */

struct image {
    const Elf64_Ehdr* eh;
    uintptr_t base; /* load bias */
    const Elf64_Sym* syms;
    const char* strs;
    const uint32_t* hash;     /* DT_HASH */
    const uint32_t* gnu_hash; /* DT_GNU_HASH */
    const uint16_t* versym;
    const Elf64_Verdef* verdef;
};

static int open_image(uintptr_t at, struct image* im) {
    memset(im, 0, sizeof *im);
    im->eh = (const Elf64_Ehdr*)at;
    const Elf64_Ehdr* eh = im->eh;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
        eh->e_type != ET_DYN || eh->e_machine != EM_X86_64)
        return -1;
    const Elf64_Phdr* ph = (const Elf64_Phdr*)(at + eh->e_phoff);
    const Elf64_Dyn* dyn = NULL;
    int loads = 0;
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type == PT_LOAD && loads++ == 0) im->base = at + ph[i].p_offset - ph[i].p_vaddr;
        if (ph[i].p_type == PT_DYNAMIC) dyn = (const Elf64_Dyn*)(at + ph[i].p_offset);
    }
    if (!loads || !dyn) return -2;
    for (; dyn->d_tag != DT_NULL; dyn++) {
        const void* p = (const void*)(im->base + dyn->d_un.d_ptr);
        switch (dyn->d_tag) {
        case DT_SYMTAB: im->syms = p; break;
        case DT_STRTAB: im->strs = p; break;
        case DT_HASH: im->hash = p; break;
        case DT_GNU_HASH: im->gnu_hash = p; break;
        case DT_VERSYM: im->versym = p; break;
        case DT_VERDEF: im->verdef = p; break;
        }
    }
    return im->syms && im->strs ? 0 : -3;
}

/* The name of version index `ndx`, from the version definitions. */
static const char* version_name(const struct image* im, unsigned ndx) {
    const Elf64_Verdef* d = im->verdef;
    while (d) {
        if ((d->vd_ndx & 0x7fff) == ndx) {
            const Elf64_Verdaux* a = (const Elf64_Verdaux*)((const char*)d + d->vd_aux);
            return im->strs + a->vda_name;
        }
        if (!d->vd_next) break;
        d = (const Elf64_Verdef*)((const char*)d + d->vd_next);
    }
    return NULL;
}

/* Looks `name` up through DT_HASH (walking every symbol, as musl does). */
static const Elf64_Sym* find_sysv(const struct image* im, const char* name, unsigned* index) {
    if (!im->hash) return NULL;
    const uint32_t nchain = im->hash[1];
    for (uint32_t i = 1; i < nchain; i++) {
        const Elf64_Sym* s = &im->syms[i];
        if (s->st_shndx != SHN_UNDEF && strcmp(im->strs + s->st_name, name) == 0) {
            *index = i;
            return s;
        }
    }
    return NULL;
}

/* Looks `name` up through DT_GNU_HASH (its buckets and chains, as glibc does). */
static const Elf64_Sym* find_gnu(const struct image* im, const char* name) {
    const uint32_t* h = im->gnu_hash;
    if (!h) return NULL;
    uint32_t hash = 5381;
    for (const unsigned char* c = (const unsigned char*)name; *c; c++) hash = hash * 33 + *c;
    const uint32_t nbuckets = h[0], symoffset = h[1], bloom_size = h[2], bloom_shift = h[3];
    const uint64_t* bloom = (const uint64_t*)(h + 4);
    const uint64_t word = bloom[(hash / 64) % bloom_size];
    const uint64_t mask = (1ULL << (hash % 64)) | (1ULL << ((hash >> bloom_shift) % 64));
    if ((word & mask) != mask) return NULL;
    const uint32_t* buckets = (const uint32_t*)(bloom + bloom_size);
    const uint32_t* chain = buckets + nbuckets;
    uint32_t i = buckets[hash % nbuckets];
    if (i < symoffset) return NULL;
    for (;; i++) {
        const uint32_t h2 = chain[i - symoffset];
        if ((h2 | 1) == (hash | 1) && strcmp(im->strs + im->syms[i].st_name, name) == 0)
            return &im->syms[i];
        if (h2 & 1) return NULL;
    }
}

static const char* const kNames[] = {
    "__vdso_clock_gettime", "__vdso_gettimeofday", "__vdso_time", "__vdso_clock_getres",
    "clock_gettime",        "gettimeofday",        "time",        "clock_getres",
};

typedef int (*cgt_fn)(clockid_t, struct timespec*);

static cgt_fn check_image(uintptr_t at) {
    struct image im;
    int r = open_image(at, &im);
    if (r != 0) {
        printf("vdso ELF: not an x86-64 ET_DYN with symbols (%d)\n", r);
        return NULL;
    }
    printf("vdso ELF: x86-64 ET_DYN, DT_HASH %s, DT_GNU_HASH %s, DT_VERSYM %s, DT_VERDEF %s\n",
           im.hash ? "yes" : "no", im.gnu_hash ? "yes" : "no", im.versym ? "yes" : "no",
           im.verdef ? "yes" : "no");
    cgt_fn cgt = NULL;
    for (size_t k = 0; k < sizeof kNames / sizeof kNames[0]; k++) {
        unsigned idx = 0;
        const Elf64_Sym* s = find_sysv(&im, kNames[k], &idx);
        const Elf64_Sym* g = find_gnu(&im, kNames[k]);
        const char* ver = s && im.versym ? version_name(&im, im.versym[idx] & 0x7fff) : NULL;
        printf("%s: DT_HASH %s, DT_GNU_HASH %s, %s, version %s\n", kNames[k], s ? "found" : "missing",
               g && g == s ? "found" : "missing",
               s && ELF64_ST_TYPE(s->st_info) == STT_FUNC ? "function" : "not a function",
               ver ? ver : "none");
        if (k == 0 && s) cgt = (cgt_fn)(im.base + s->st_value);
    }
    return cgt;
}

/* ---- /proc/self/maps ---------------------------------------------------- */

struct mapping {
    uintptr_t start, end;
    char perms[5];
    int found;
};

static void find_mapping(const char* name, struct mapping* m) {
    memset(m, 0, sizeof *m);
    FILE* f = fopen("/proc/self/maps", "r");
    if (!f) return;
    char line[512];
    const size_t nlen = strlen(name);
    while (fgets(line, sizeof line, f)) {
        size_t len = strlen(line);
        while (len && (line[len - 1] == '\n' || line[len - 1] == ' ')) line[--len] = 0;
        if (len <= nlen || strcmp(line + len - nlen, name) != 0 || line[len - nlen - 1] != ' ') continue;
        unsigned long s, e;
        if (sscanf(line, "%lx-%lx %4s", &s, &e, m->perms) == 3) {
            m->start = s;
            m->end = e;
            m->found++;
        }
    }
    fclose(f);
}

/* ---- clocks --------------------------------------------------------------- */

struct clock_case {
    clockid_t id;
    const char* name;
    int coarse;
    int monotonic;
};

static const struct clock_case kClocks[] = {
    {CLOCK_REALTIME, "CLOCK_REALTIME", 0, 0},
    {CLOCK_MONOTONIC, "CLOCK_MONOTONIC", 0, 1},
    {CLOCK_MONOTONIC_RAW, "CLOCK_MONOTONIC_RAW", 0, 1},
    {CLOCK_BOOTTIME, "CLOCK_BOOTTIME", 0, 1},
    {CLOCK_TAI, "CLOCK_TAI", 0, 0},
    {CLOCK_REALTIME_COARSE, "CLOCK_REALTIME_COARSE", 1, 0},
    {CLOCK_MONOTONIC_COARSE, "CLOCK_MONOTONIC_COARSE", 1, 1},
};

/* Whether libc's reading of `c` brackets the syscall's, within 1 ms (and a
 * tick for the coarse clocks, which may be a tick apart even on Linux),
 * over a few rounds that straddle the vkernel's parameter updates. */
static int clock_agrees(const struct clock_case* c) {
    struct timespec res;
    int64_t tol = MS;
    if (c->coarse && clock_getres(c->id, &res) == 0) tol += ns_of(&res);
    for (int round = 0; round < 20; round++) {
        const int64_t a = libc_clock(c->id);
        const int64_t s = sys_clock(c->id);
        const int64_t b = libc_clock(c->id);
        if (a < 0 || s < 0 || b < 0) return 0;
        if (s < a - tol || s > b + tol) return 0;
        if (c->monotonic && b < a) return 0;
        if (round % 5 == 4) usleep(2000);
    }
    return 1;
}

static int getres_agrees(const struct clock_case* c) {
    struct timespec l, s;
    if (clock_getres(c->id, &l) != 0 || syscall(SYS_clock_getres, c->id, &s) != 0) return 0;
    return l.tv_sec == s.tv_sec && l.tv_nsec == s.tv_nsec && clock_getres(c->id, NULL) == 0;
}

static int time_monotonic(int calls) {
    time_t last = time(NULL);
    for (int i = 0; i < calls; i++) {
        time_t t2, t = time(&t2);
        if (t < last || t2 != t) return 0;
        last = t;
    }
    const int64_t real = libc_clock(CLOCK_REALTIME) / 1000000000LL;
    return last <= real && real - last <= 1;
}

static int monotonic_calls(int calls) {
    int64_t last = libc_clock(CLOCK_MONOTONIC);
    for (int i = 0; i < calls; i++) {
        const int64_t t = libc_clock(CLOCK_MONOTONIC);
        if (t < last) return 0;
        last = t;
    }
    return 1;
}

static int gettimeofday_agrees(void) {
    for (int round = 0; round < 20; round++) {
        struct timeval tv;
        const int64_t a = libc_clock(CLOCK_REALTIME) / 1000;
        if (gettimeofday(&tv, NULL) != 0) return 0;
        const int64_t b = libc_clock(CLOCK_REALTIME) / 1000;
        const int64_t g = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
        if (g < a - 1000 || g > b + 1000 || tv.tv_usec < 0 || tv.tv_usec >= 1000000) return 0;
    }
    return 1;
}

/* ---- threads -------------------------------------------------------------- */

/* Calls in each loop (main: 100000; `few`: 5000). */
static int g_calls = 100000;

static _Atomic int64_t g_latest;
static atomic_int g_thread_bad;

/* Each thread reads the latest time any thread published, then the clock:
 * the clock must not be earlier (time is ordered across CPUs). */
static void* ordered_worker(void* arg) {
    (void)arg;
    for (int i = 0; i < 2 * g_calls; i++) {
        const int64_t seen = atomic_load(&g_latest);
        const int64_t now = libc_clock(CLOCK_MONOTONIC);
        if (now < seen) atomic_store(&g_thread_bad, 1);
        int64_t cur = seen;
        while (cur < now && !atomic_compare_exchange_weak(&g_latest, &cur, now)) {
        }
    }
    return NULL;
}

static int threads_ordered(void) {
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, ordered_worker, NULL) != 0) return 0;
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    return !atomic_load(&g_thread_bad);
}

/* ---- processes ------------------------------------------------------------ */

/* In a fork child: the vDSO still there and working. */
static int child_vdso_ok(void) {
    struct mapping v;
    find_mapping("[vdso]", &v);
    if (v.found != 1 || v.start != getauxval(AT_SYSINFO_EHDR)) return 0;
    return clock_agrees(&kClocks[0]) && clock_agrees(&kClocks[1]) && time_monotonic(1000) &&
           monotonic_calls(1000);
}

static int run_in_child(int (*fn)(void)) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) _exit(fn() ? 0 : 1);
    int status;
    if (waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* In a child: [vvar] cannot become writable, and munmap removes both
 * mappings (afterwards only raw syscalls are safe: libc would call into the
 * unmapped vDSO). */
static int unmap_both(void) {
    struct mapping v, d;
    find_mapping("[vvar]", &v);
    find_mapping("[vdso]", &d);
    if (v.found != 1 || d.found != 1) return 0;
    if (mprotect((void*)v.start, v.end - v.start, PROT_READ | PROT_WRITE) == 0 || errno != EACCES)
        return 0;
    if (munmap((void*)v.start, v.end - v.start) != 0) return 0;
    if (munmap((void*)d.start, d.end - d.start) != 0) return 0;
    find_mapping("[vvar]", &v);
    find_mapping("[vdso]", &d);
    return !v.found && !d.found;
}

static int exec_child(void) {
    struct mapping d;
    find_mapping("[vdso]", &d);
    printf("after exec: AT_SYSINFO_EHDR %s, [vdso] lines %d, at AT_SYSINFO_EHDR %s\n",
           getauxval(AT_SYSINFO_EHDR) ? "set" : "missing", d.found,
           d.start == getauxval(AT_SYSINFO_EHDR) ? "yes" : "no");
    printf("after exec: CLOCK_MONOTONIC libc and syscall agree: %s\n",
           clock_agrees(&kClocks[1]) ? "yes" : "no");
    return 0;
}

static int loop(const char* mode, long n) {
    struct timespec t;
    const int sys = strcmp(mode, "sysloop") == 0;
    for (long i = 0; i < n; i++) {
        const clockid_t c = i % 2 ? CLOCK_REALTIME : CLOCK_MONOTONIC;
        if (sys ? syscall(SYS_clock_gettime, c, &t) : clock_gettime(c, &t)) return 1;
    }
    printf("%s %ld done\n", mode, n);
    return 0;
}

int main(int argc, char** argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 3 && (strcmp(argv[1], "loop") == 0 || strcmp(argv[1], "sysloop") == 0))
        return loop(argv[1], atol(argv[2]));
    if (argc == 2 && strcmp(argv[1], "exec-child") == 0) return exec_child();
    if (argc == 2 && strcmp(argv[1], "few") == 0) g_calls = 5000;

    const uintptr_t ehdr = getauxval(AT_SYSINFO_EHDR);
    printf("AT_SYSINFO_EHDR: %s\n", ehdr ? "set" : "missing");
    if (!ehdr) return 1;
    const cgt_fn direct = check_image(ehdr);

    struct mapping vdso, vvar;
    find_mapping("[vdso]", &vdso);
    find_mapping("[vvar]", &vvar);
    printf("maps: [vdso] lines %d %s, at AT_SYSINFO_EHDR %s; [vvar] lines %d %s\n", vdso.found,
           vdso.perms, vdso.start == ehdr ? "yes" : "no", vvar.found, vvar.perms);

    for (size_t i = 0; i < sizeof kClocks / sizeof kClocks[0]; i++)
        printf("%s: libc and syscall agree %s, clock_getres agrees %s\n", kClocks[i].name,
               clock_agrees(&kClocks[i]) ? "yes" : "no", getres_agrees(&kClocks[i]) ? "yes" : "no");
    if (direct) {
        struct timespec t;
        const int64_t a = sys_clock(CLOCK_MONOTONIC);
        const int r = direct(CLOCK_MONOTONIC, &t);
        const int64_t b = sys_clock(CLOCK_MONOTONIC);
        printf("__vdso_clock_gettime called directly: returns %d, between two syscalls %s\n", r,
               r == 0 && ns_of(&t) >= a - MS && ns_of(&t) <= b + MS ? "yes" : "no");
        printf("__vdso_clock_gettime(bad id) = %d\n", direct(12345, &t));
    }
    printf("time: monotonic over %d calls, agrees with CLOCK_REALTIME: %s\n", g_calls,
           time_monotonic(g_calls) ? "yes" : "no");
    printf("CLOCK_MONOTONIC: monotonic over %d calls: %s\n", g_calls,
           monotonic_calls(g_calls) ? "yes" : "no");
    printf("gettimeofday agrees with CLOCK_REALTIME: %s\n", gettimeofday_agrees() ? "yes" : "no");
    struct timeval tv;
    struct timezone tz = {99, 99};
    const int gr = gettimeofday(&tv, &tz);
    printf("gettimeofday(tv, tz) = %d, tz = %d %d\n", gr, tz.tz_minuteswest, tz.tz_dsttime);

    struct timespec t;
    errno = 0;
    int r = clock_gettime((clockid_t)12345, &t);
    printf("clock_gettime(bad id) = %d %s\n", r, errno == EINVAL ? "EINVAL" : strerror(errno));
    errno = 0;
    r = clock_getres((clockid_t)12345, &t);
    printf("clock_getres(bad id) = %d %s\n", r, errno == EINVAL ? "EINVAL" : strerror(errno));
    r = clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    printf("clock_gettime(CLOCK_PROCESS_CPUTIME_ID) = %d\n", r);

    printf("threads: time ordered across CPUs: %s\n", threads_ordered() ? "yes" : "no");
    printf("fork child: vDSO works: %s\n", run_in_child(child_vdso_ok) == 0 ? "yes" : "no");
    printf("child: [vvar] not writable, munmap of [vvar] and [vdso]: %s\n",
           run_in_child(unmap_both) == 0 ? "ok" : "failed");

    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char* args[] = {argv[0], "exec-child", NULL};
        execv(argv[0], args);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    printf("exec child status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}
