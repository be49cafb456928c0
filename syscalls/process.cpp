// Process and thread identity, creation, exit, wait, and per-thread setup.

#include <asm/prctl.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstring>

#include "syscalls/syscalls.h"
#include "vkernel/futex.h"
#include "vkernel/kernel.h"
#include "vkernel/rseq.h"
#include "vkernel/signal_delivery.h"
#include "vkernel/user_memory.h"

namespace vk::sys {

namespace {

constexpr u64 kMaxArgs = 0x7fff'ffff;

// argv/envp: a NULL-terminated array of string pointers.
Result<std::vector<std::string>> copy_in_strv(Mm& mm, u64 addr) {
    std::vector<std::string> out;
    if (!addr) return out;
    u64 total = 0;
    for (u64 i = 0; i < kMaxArgs; i++) {
        const u64 p = VK_TRY(copy_in(mm, UserPtr<u64>(addr + i * 8)));
        if (!p) break;
        auto s = copy_in_string(mm, p, kArgMax);
        if (!s) return err(s.error().code == ENAMETOOLONG ? E2BIG : s.error().code);
        total += s.value().size() + 1 + 8;
        if (total > kArgMax) return err(E2BIG);
        out.push_back(std::move(s.value()));
    }
    return out;
}

}  // namespace

Result<long> sys_exit(Task& task, const SyscallArgs& a) {
    task.exiting = true;
    task.exit_code = static_cast<int>(a[0] & 0xff);
    return 0;
}

Result<long> sys_exit_group(Task& task, const SyscallArgs& a) {
    task.kernel.exit_group(task, static_cast<int>((a[0] & 0xff) << 8));
    return 0;
}

Result<long> sys_fork(Task& task, const SyscallArgs&) {
    CloneArgs c;
    c.exit_signal = SIGCHLD;
    return static_cast<long>(VK_TRY(task.kernel.clone_task(task, c)));
}

Result<long> sys_vfork(Task& task, const SyscallArgs&) {
    CloneArgs c;
    c.flags = CLONE_VM | CLONE_VFORK;
    c.exit_signal = SIGCHLD;
    return static_cast<long>(VK_TRY(task.kernel.clone_task(task, c)));
}

Result<long> sys_clone(Task& task, const SyscallArgs& a) {
    // x86-64 order: flags, stack, parent_tid, child_tid, tls.
    CloneArgs c;
    c.flags = a[0] & ~0xffULL;
    c.exit_signal = static_cast<int>(a[0] & 0xff);
    c.stack = a[1];
    c.parent_tid = a[2];
    c.child_tid = a[3];
    c.tls = a[4];
    if (c.exit_signal > kNsig) return err(EINVAL);
    return static_cast<long>(VK_TRY(task.kernel.clone_task(task, c)));
}

Result<long> sys_clone3(Task& task, const SyscallArgs& a) {
    struct CloneArgs3 {
        u64 flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
            set_tid, set_tid_size, cgroup;
    } ca{};
    const u64 size = a[1];
    if (size < 64 || size > 4096) return err(EINVAL);
    VK_TRY(copy_in_bytes(task.mm(), a[0], &ca, std::min<u64>(size, sizeof ca)));
    if (ca.exit_signal > kNsig || ca.set_tid || ca.set_tid_size) return err(EINVAL);
    CloneArgs c;
    c.flags = ca.flags;
    c.exit_signal = static_cast<int>(ca.exit_signal);
    c.stack = ca.stack ? ca.stack + ca.stack_size : 0;
    c.parent_tid = ca.parent_tid;
    c.child_tid = ca.child_tid;
    c.tls = ca.tls;
    if (c.flags & 0xff) return err(EINVAL);
    return static_cast<long>(VK_TRY(task.kernel.clone_task(task, c)));
}

namespace {
// execve's core: the vectors copied in, then the exec. An empty argv gets
// one empty string, as Linux does since 5.18.
Result<long> do_execve(Task& task, const ExecTarget& target, u64 argv_addr, u64 envp_addr) {
    auto argv = VK_TRY(copy_in_strv(task.mm(), argv_addr));
    const auto envp = VK_TRY(copy_in_strv(task.mm(), envp_addr));
    if (argv.empty()) argv.emplace_back();
    VK_TRY(task.kernel.exec(task, target, std::move(argv), envp));
    return 0;
}
}  // namespace

Result<long> sys_execve(Task& task, const SyscallArgs& a) {
    const auto path = VK_TRY(copy_in_string(task.mm(), a[0], kPathMax));
    if (path.empty()) return err(ENOENT);
    return do_execve(task, ExecTarget::path(path), a[1], a[2]);
}

// execveat(dirfd, path, argv, envp, flags): a relative path starts at the
// directory `dirfd`; with AT_EMPTY_PATH an empty path runs the file `dirfd`
// holds (fexecve). The program is then named /dev/fd/N[/path].
Result<long> sys_execveat(Task& task, const SyscallArgs& a) {
    const int dirfd = static_cast<int>(a[0]);
    const u64 flags = a[4];
    if (flags & ~u64{AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW}) return err(EINVAL);
    const auto path = VK_TRY(copy_in_string(task.mm(), a[1], kPathMax));
    if (path.empty() && !(flags & AT_EMPTY_PATH)) return err(ENOENT);
    ExecTarget target = ExecTarget::path(path);
    target.nofollow = flags & AT_SYMLINK_NOFOLLOW;
    Process& p = *task.process;
    if (dirfd == AT_FDCWD || path.starts_with('/')) {
        if (path.empty()) target.file = p.fsctx->cwd;  // a directory: EACCES
    } else {
        const auto f = VK_TRY(p.fds->get(dirfd));
        if (!f->path().valid()) return err(path.empty() ? EACCES : ENOTDIR);
        target.filename = "/dev/fd/" + std::to_string(dirfd);
        if (path.empty()) {
            target.file = f->path();
        } else {
            target.filename += "/" + path;
            target.dir = f->path();
        }
        target.inaccessible = VK_TRY(p.fds->cloexec(dirfd));
    }
    return do_execve(task, target, a[2], a[3]);
}

Result<long> sys_wait4(Task& task, const SyscallArgs& a) {
    const int pid = static_cast<int>(a[0]);
    const int options = static_cast<int>(a[2]);
    if (options & ~(WNOHANG | WUNTRACED | WCONTINUED | __WALL | __WCLONE | __WNOTHREAD))
        return err(EINVAL);
    int idtype, id;
    if (pid == -1) { idtype = P_ALL; id = 0; }
    else if (pid == 0) { idtype = P_PGID; id = task.process->pgid; }
    else if (pid < -1) { idtype = P_PGID; id = -pid; }
    else { idtype = P_PID; id = pid; }
    auto r = task.kernel.wait_child(task, idtype, id, options | WEXITED);
    if (!r) return r.error().code == EINTR ? err(kERestartSys) : Result<long>(Unexpected{r.error()});
    if (r->pid && a[1]) VK_TRY(copy_out(task.mm(), UserPtr<i32>(a[1]), r->status));
    if (r->pid && a[3]) {
        struct rusage ru{};
        ru.ru_utime.tv_sec = static_cast<long>(r->utime_ns / 1'000'000'000);
        ru.ru_utime.tv_usec = static_cast<long>(r->utime_ns % 1'000'000'000 / 1000);
        ru.ru_stime.tv_sec = static_cast<long>(r->stime_ns / 1'000'000'000);
        ru.ru_stime.tv_usec = static_cast<long>(r->stime_ns % 1'000'000'000 / 1000);
        VK_TRY(copy_out(task.mm(), UserPtr<struct rusage>(a[3]), ru));
    }
    return r->pid;
}

Result<long> sys_waitid(Task& task, const SyscallArgs& a) {
    int idtype = static_cast<int>(a[0]);
    int id = static_cast<int>(a[1]);
    const int options = static_cast<int>(a[3]);
    if (!(options & (WEXITED | WSTOPPED | WCONTINUED))) return err(EINVAL);
    if (idtype == P_PGID && id == 0) id = task.process->pgid;
    if (idtype != P_ALL && idtype != P_PID && idtype != P_PGID) return err(EINVAL);
    auto r = task.kernel.wait_child(task, idtype, id, options);
    if (!r) return r.error().code == EINTR ? err(kERestartSys) : Result<long>(Unexpected{r.error()});
    if (a[2]) {
        KSigInfo si;
        if (r->pid) {
            si.signo = SIGCHLD;
            si.code = r->code;
            si.u.chld.pid = r->pid;
            si.u.chld.uid = r->uid;
            si.u.chld.status = r->code == CLD_EXITED ? WEXITSTATUS(r->status)
                               : r->code == CLD_STOPPED ? (r->status >> 8) & 0xff
                               : r->code == CLD_CONTINUED ? SIGCONT
                                                          : WTERMSIG(r->status);
        }
        VK_TRY(copy_out(task.mm(), UserPtr<KSigInfo>(a[2]), si));
    }
    return 0;
}

Result<long> sys_getpid(Task& task, const SyscallArgs&) { return task.process->pid; }
Result<long> sys_gettid(Task& task, const SyscallArgs&) { return task.tid; }
Result<long> sys_getppid(Task& task, const SyscallArgs&) {
    return task.process->parent ? task.process->parent->pid : 0;
}
Result<long> sys_getuid(Task& task, const SyscallArgs&) { return task.process->uid; }
Result<long> sys_geteuid(Task& task, const SyscallArgs&) { return task.process->euid; }
Result<long> sys_getgid(Task& task, const SyscallArgs&) { return task.process->gid; }
Result<long> sys_getegid(Task& task, const SyscallArgs&) { return task.process->egid; }
Result<long> sys_getpgrp(Task& task, const SyscallArgs&) { return task.process->pgid; }

namespace {
Result<Process*> process_arg(Task& task, int pid) {
    if (pid == 0) return task.process;
    Process* p = task.kernel.find_process(pid);
    if (!p) return err(ESRCH);
    return p;
}
}  // namespace

Result<long> sys_getpgid(Task& task, const SyscallArgs& a) {
    Process* p = VK_TRY(process_arg(task, static_cast<int>(a[0])));
    return p->pgid;
}

Result<long> sys_getsid(Task& task, const SyscallArgs& a) {
    Process* p = VK_TRY(process_arg(task, static_cast<int>(a[0])));
    return p->sid;
}

Result<long> sys_setpgid(Task& task, const SyscallArgs& a) {
    const int pid = static_cast<int>(a[0]);
    int pgid = static_cast<int>(a[1]);
    if (pgid < 0) return err(EINVAL);
    Process* p = VK_TRY(process_arg(task, pid));
    if (p != task.process && p->parent != task.process) return err(ESRCH);
    if (p->parent == task.process && p->sid != task.process->sid) return err(EPERM);
    if (p->pid == p->sid) return err(EPERM);  // a session leader
    if (pgid == 0) pgid = p->pid;
    if (pgid != p->pid) {
        // The group must exist in the same session.
        bool found = false;
        for (const auto& [id, q] : task.kernel.processes())
            if (q->pgid == pgid && q->sid == p->sid && !q->zombie) found = true;
        if (!found) return err(EPERM);
    }
    p->pgid = pgid;
    return 0;
}

Result<long> sys_setsid(Task& task, const SyscallArgs&) {
    Process* p = task.process;
    for (const auto& [id, q] : task.kernel.processes())
        if (q->pgid == p->pid) return err(EPERM);  // already a group leader
    p->sid = p->pgid = p->pid;
    p->no_ctty = false;  // a new session, with no terminal yet
    return p->sid;
}

Result<long> sys_getresuid(Task& task, const SyscallArgs& a) {
    const Process& p = *task.process;
    VK_TRY(copy_out(task.mm(), UserPtr<u32>(a[0]), p.uid));
    VK_TRY(copy_out(task.mm(), UserPtr<u32>(a[1]), p.euid));
    VK_TRY(copy_out(task.mm(), UserPtr<u32>(a[2]), p.suid));
    return 0;
}

Result<long> sys_getresgid(Task& task, const SyscallArgs& a) {
    const Process& p = *task.process;
    VK_TRY(copy_out(task.mm(), UserPtr<u32>(a[0]), p.gid));
    VK_TRY(copy_out(task.mm(), UserPtr<u32>(a[1]), p.egid));
    VK_TRY(copy_out(task.mm(), UserPtr<u32>(a[2]), p.sgid));
    return 0;
}

namespace {
constexpr u32 kKeepId = 0xffff'ffff;  // -1: leave this id as it is

// setres[ug]id core: -1 keeps a value; unprivileged callers may only pick
// among their current real, effective and saved ids. The fs id follows the
// effective one, as on Linux. `priv` is CAP_SETUID or CAP_SETGID.
Result<long> set_ids(bool priv, u32& r, u32& e, u32& s, u32& fs, u64 nr, u64 ne, u64 ns) {
    auto allowed = [&](u32 v) { return priv || v == r || v == e || v == s; };
    for (u64 v : {nr, ne, ns})
        if (static_cast<u32>(v) != kKeepId && !allowed(static_cast<u32>(v))) return err(EPERM);
    if (static_cast<u32>(nr) != kKeepId) r = static_cast<u32>(nr);
    if (static_cast<u32>(ne) != kKeepId) e = static_cast<u32>(ne);
    if (static_cast<u32>(ns) != kKeepId) s = static_cast<u32>(ns);
    fs = e;
    return 0;
}

constexpr int kCapSetgid = 6, kCapSetuid = 7;
bool capable(const Process& p, int cap) { return (effective_caps(p) >> cap) & 1; }

Result<long> set_uids(Process& p, u64 nr, u64 ne, u64 ns) {
    return set_ids(capable(p, kCapSetuid), p.uid, p.euid, p.suid, p.fsuid, nr, ne, ns);
}
Result<long> set_gids(Process& p, u64 nr, u64 ne, u64 ns) {
    return set_ids(capable(p, kCapSetgid), p.gid, p.egid, p.sgid, p.fsgid, nr, ne, ns);
}

// setfs[ug]id: returns the old fs id whether or not it changes; the new one
// must be one of the real, effective, saved or current fs ids unless `priv`.
long set_fs_id(bool priv, u32 r, u32 e, u32 s, u32& fs, u64 v) {
    const u32 old = fs;
    const u32 id = static_cast<u32>(v);
    if (id == kKeepId) return old;
    if (priv || id == r || id == e || id == s || id == fs) fs = id;
    return old;
}
}  // namespace

Result<long> sys_setresuid(Task& task, const SyscallArgs& a) {
    return set_uids(*task.process, a[0], a[1], a[2]);
}
Result<long> sys_setresgid(Task& task, const SyscallArgs& a) {
    return set_gids(*task.process, a[0], a[1], a[2]);
}
// setuid: with CAP_SETUID all three ids, else only the effective one.
Result<long> sys_setuid(Task& task, const SyscallArgs& a) {
    Process& p = *task.process;
    if (static_cast<u32>(a[0]) == kKeepId) return err(EINVAL);
    if (capable(p, kCapSetuid)) return set_uids(p, a[0], a[0], a[0]);
    return set_uids(p, kKeepId, a[0], kKeepId);
}
Result<long> sys_setgid(Task& task, const SyscallArgs& a) {
    Process& p = *task.process;
    if (static_cast<u32>(a[0]) == kKeepId) return err(EINVAL);
    if (capable(p, kCapSetgid)) return set_gids(p, a[0], a[0], a[0]);
    return set_gids(p, kKeepId, a[0], kKeepId);
}
namespace {
// setre[ug]id core: the real id may become the effective one; the saved id
// takes the new effective id when the real id is set or the effective id
// moves away from the real one (Linux's rule).
Result<long> set_re_ids(bool priv, u32& r, u32& e, u32& s, u32& fs, u64 r_arg, u64 e_arg) {
    const u32 nr = static_cast<u32>(r_arg), ne = static_cast<u32>(e_arg);
    if (nr != kKeepId && !priv && nr != r && nr != e) return err(EPERM);
    if (ne != kKeepId && !priv && ne != r && ne != e && ne != s) return err(EPERM);
    const u32 new_e = ne != kKeepId ? ne : e;
    const bool saved = nr != kKeepId || (ne != kKeepId && new_e != r);
    if (nr != kKeepId) r = nr;
    e = new_e;
    if (saved) s = new_e;
    fs = e;
    return 0;
}
}  // namespace

Result<long> sys_setreuid(Task& task, const SyscallArgs& a) {
    Process& p = *task.process;
    return set_re_ids(capable(p, kCapSetuid), p.uid, p.euid, p.suid, p.fsuid, a[0], a[1]);
}
Result<long> sys_setregid(Task& task, const SyscallArgs& a) {
    Process& p = *task.process;
    return set_re_ids(capable(p, kCapSetgid), p.gid, p.egid, p.sgid, p.fsgid, a[0], a[1]);
}
Result<long> sys_setfsuid(Task& task, const SyscallArgs& a) {
    Process& p = *task.process;
    return set_fs_id(capable(p, kCapSetuid), p.uid, p.euid, p.suid, p.fsuid, a[0]);
}
Result<long> sys_setfsgid(Task& task, const SyscallArgs& a) {
    Process& p = *task.process;
    return set_fs_id(capable(p, kCapSetgid), p.gid, p.egid, p.sgid, p.fsgid, a[0]);
}

// getgroups(size, list): size 0 asks for the count; a smaller list is EINVAL.
Result<long> sys_getgroups(Task& task, const SyscallArgs& a) {
    const auto& g = task.process->groups;
    const int size = static_cast<int>(a[0]);
    if (size < 0) return err(EINVAL);
    if (size == 0) return static_cast<long>(g.size());
    if (static_cast<std::size_t>(size) < g.size()) return err(EINVAL);
    if (!g.empty())
        VK_TRY(copy_out_bytes(task.mm(), a[1], g.data(), g.size() * sizeof(u32)));
    return static_cast<long>(g.size());
}

// setgroups(size, list): CAP_SETGID; at most NGROUPS_MAX; kept sorted.
Result<long> sys_setgroups(Task& task, const SyscallArgs& a) {
    constexpr u64 kNgroupsMax = 65536;
    Process& p = *task.process;
    if (!capable(p, kCapSetgid)) return err(EPERM);
    const int size = static_cast<int>(a[0]);
    if (size < 0 || static_cast<u64>(size) > kNgroupsMax) return err(EINVAL);
    std::vector<u32> g(static_cast<std::size_t>(size));
    if (size > 0) VK_TRY(copy_in_bytes(task.mm(), a[1], g.data(), g.size() * sizeof(u32)));
    std::sort(g.begin(), g.end());
    p.groups = std::move(g);
    return 0;
}

Result<long> sys_arch_prctl(Task& task, const SyscallArgs& a) {
    constexpr u64 kUserLimit = 0x0000'8000'0000'0000ULL;
    switch (a[0]) {
    case ARCH_SET_FS:
        if (a[1] >= kUserLimit) return err(EPERM);
        task.regs.fs_base = a[1];
        return 0;
    case ARCH_SET_GS:
        if (a[1] >= kUserLimit) return err(EPERM);
        task.regs.gs_base = a[1];
        return 0;
    case ARCH_GET_FS:
        VK_TRY(copy_out(task.mm(), UserPtr<u64>(a[1]), task.regs.fs_base));
        return 0;
    case ARCH_GET_GS:
        VK_TRY(copy_out(task.mm(), UserPtr<u64>(a[1]), task.regs.gs_base));
        return 0;
    default:
        return err(EINVAL);  // includes the CET queries glibc makes
    }
}

Result<long> sys_set_tid_address(Task& task, const SyscallArgs& a) {
    task.clear_child_tid = a[0];
    return task.tid;
}

Result<long> sys_get_robust_list(Task& task, const SyscallArgs& a) {
    const int pid = static_cast<int>(a[0]);
    const Task* t = &task;
    if (pid != 0) {
        t = task.kernel.find_task(pid);
        if (!t) return err(ESRCH);
        // Linux asks for ptrace read access; we have one user per vkernel
        // that matters here: the same uid, or root.
        if (task.process->euid != 0 && task.process->euid != t->process->uid) return err(EPERM);
    }
    const u64 len = 24;  // sizeof(struct robust_list_head)
    VK_TRY(copy_out(task.mm(), UserPtr<u64>(a[1]), t->robust_list));
    VK_TRY(copy_out(task.mm(), UserPtr<u64>(a[2]), len));
    return 0;
}

Result<long> sys_set_robust_list(Task& task, const SyscallArgs& a) {
    if (a[1] != 24) return err(EINVAL);  // sizeof(struct robust_list_head)
    task.robust_list = a[0];
    task.robust_len = a[1];
    return 0;
}

Result<long> sys_rseq(Task& task, const SyscallArgs& a) {
    // rseq(void *area, u32 len, int flags, u32 sig): only the low 32 bits of
    // the last three count, as in Linux's prototype.
    return rseq_register(task, a[0], static_cast<u32>(a[1]), static_cast<u32>(a[2]),
                         static_cast<u32>(a[3]));
}

Result<long> sys_prctl(Task& task, const SyscallArgs& a) {
    constexpr u64 kSetPdeathsig = 1, kGetPdeathsig = 2, kSetName = 15, kGetName = 16;
    char name[16] = {};
    switch (a[0]) {
    case kSetPdeathsig:
        if (a[1] > static_cast<u64>(kNsig)) return err(EINVAL);
        task.process->pdeath_signal = static_cast<int>(a[1]);
        return 0;
    case kGetPdeathsig:
        VK_TRY(copy_out(task.mm(), UserPtr<i32>(a[1]), static_cast<i32>(task.process->pdeath_signal)));
        return 0;
    case kSetName: {
        const u64 n = copy_in_partial(task.mm(), a[1], name, sizeof name - 1);
        if (n == 0) return err(EFAULT);
        task.comm.assign(name, strnlen(name, n));
        return 0;
    }
    case kGetName:
        std::memcpy(name, task.comm.data(), std::min<std::size_t>(task.comm.size(), 15));
        VK_TRY(copy_out_bytes(task.mm(), a[1], name, sizeof name));
        return 0;
    default:
        return err(EINVAL);
    }
}

Result<long> sys_sched_yield(Task& task, const SyscallArgs&) {
    task.kernel.yield(task);
    return 0;
}

namespace {
// The thread sched_[gs]etaffinity name: 0 is the caller; another needs the
// same owner or CAP_SYS_NICE (Linux's check_same_owner).
Result<Task*> affinity_target(Task& task, int tid, bool set) {
    if (tid < 0) return err(ESRCH);
    if (tid == 0) return &task;
    Task* t = task.kernel.find_task(tid);
    if (!t || t->state == TaskState::kDead) return err(ESRCH);
    constexpr int kCapSysNice = 23;
    const Process& me = *task.process;
    const Process& it = *t->process;
    if (set && !((effective_caps(me) >> kCapSysNice) & 1) && me.euid != it.uid && me.euid != it.euid)
        return err(EPERM);
    return t;
}

u64 cpu_mask(Task& task) {
    const unsigned n = task.kernel.cpu_count();
    return n >= 64 ? ~0ULL : (1ULL << n) - 1;
}
}  // namespace

// sched_getaffinity(tid, len, mask): the thread's vCPUs; len must hold a
// bit per vCPU and be a multiple of 8. Returns the bytes written.
Result<long> sys_sched_getaffinity(Task& task, const SyscallArgs& a) {
    const u64 len = a[1];
    const unsigned n = task.kernel.cpu_count();
    if (len * 8 < n || (len % sizeof(u64))) return err(EINVAL);
    Task* t = VK_TRY(affinity_target(task, static_cast<int>(a[0]), false));
    const u64 mask = t->affinity & cpu_mask(task);
    VK_TRY(copy_out(task.mm(), UserPtr<u64>(a[2]), mask));
    return sizeof(u64);
}

// sched_setaffinity(tid, len, mask): a shorter mask is zero-extended, a
// longer one cut; it must name at least one vCPU. A thread running on a
// vCPU it may no longer use moves before it runs guest code again.
Result<long> sys_sched_setaffinity(Task& task, const SyscallArgs& a) {
    const u64 len = std::min<u64>(a[1], sizeof(u64));
    u64 mask = 0;
    if (len) VK_TRY(copy_in_bytes(task.mm(), a[2], &mask, len));
    Task* t = VK_TRY(affinity_target(task, static_cast<int>(a[0]), true));
    mask &= cpu_mask(task);
    if (!mask) return err(EINVAL);
    t->affinity = mask;
    task.kernel.affinity_changed(*t);  // the caller itself moves on its way back (task_main)
    return 0;
}

Result<long> sys_getcpu(Task& task, const SyscallArgs& a) {
    const u32 cpu = task.cpu ? task.cpu->id : 0;
    const u32 node = 0;
    if (a[0]) VK_TRY(copy_out(task.mm(), UserPtr<u32>(a[0]), cpu));
    if (a[1]) VK_TRY(copy_out(task.mm(), UserPtr<u32>(a[1]), node));
    return 0;
}

Result<long> sys_futex(Task& task, const SyscallArgs& a) {
    auto r = do_futex(task, a[0], static_cast<int>(a[1]), static_cast<u32>(a[2]), a[3], a[4],
                      static_cast<u32>(a[5]));
    if (!r && r.error().code == EINTR) return err(kERestartSys);
    return r;
}

namespace {

struct Rlimit {
    u64 cur, max;
};

void init_limits(Process& p) {
    if (p.rlimits[RLIMIT_STACK][1] != 0) return;
    for (auto& l : p.rlimits) l = {RLIM_INFINITY, RLIM_INFINITY};
    p.rlimits[RLIMIT_STACK] = {8ULL << 20, RLIM_INFINITY};
    p.rlimits[RLIMIT_NOFILE] = {1024, 4096};
    p.rlimits[RLIMIT_CORE] = {0, RLIM_INFINITY};
    p.rlimits[RLIMIT_NPROC] = {4096, 4096};
    p.rlimits[RLIMIT_SIGPENDING] = {4096, 4096};
    p.rlimits[RLIMIT_MSGQUEUE] = {819200, 819200};
    p.rlimits[RLIMIT_MEMLOCK] = {8ULL << 20, 8ULL << 20};
    p.rlimits[RLIMIT_NICE] = {0, 0};
    p.rlimits[RLIMIT_RTPRIO] = {0, 0};
}

Result<long> do_prlimit(Task& task, Process& p, u64 resource, u64 new_addr, u64 old_addr) {
    if (resource >= p.rlimits.size()) return err(EINVAL);
    init_limits(p);
    Rlimit nl{};
    if (new_addr) {
        nl = VK_TRY(copy_in(task.mm(), UserPtr<Rlimit>(new_addr)));
        if (nl.cur > nl.max) return err(EINVAL);
        if (nl.max > p.rlimits[resource][1] && task.process->euid != 0) return err(EPERM);
    }
    if (old_addr) {
        const Rlimit ol{p.rlimits[resource][0], p.rlimits[resource][1]};
        VK_TRY(copy_out(task.mm(), UserPtr<Rlimit>(old_addr), ol));
    }
    if (new_addr) p.rlimits[resource] = {nl.cur, nl.max};
    // Set up now if it was not (init_limits): either way the slots learn it.
    task.kernel.publish_fast_state(p);
    return 0;
}

}  // namespace

Result<long> sys_prlimit64(Task& task, const SyscallArgs& a) {
    Process* p = VK_TRY(process_arg(task, static_cast<int>(a[0])));
    return do_prlimit(task, *p, a[1], a[2], a[3]);
}

Result<long> sys_getrlimit(Task& task, const SyscallArgs& a) {
    return do_prlimit(task, *task.process, a[0], 0, a[1]);
}
Result<long> sys_setrlimit(Task& task, const SyscallArgs& a) {
    return do_prlimit(task, *task.process, a[0], a[1], 0);
}

Result<long> sys_getrusage(Task& task, const SyscallArgs& a) {
    const int who = static_cast<int>(a[0]);
    const Process& p = *task.process;
    u64 u = 0, s = 0;
    switch (who) {
    case RUSAGE_SELF:
    case RUSAGE_THREAD: u = p.utime_ns; s = p.stime_ns; break;
    case RUSAGE_CHILDREN: u = p.cutime_ns; s = p.cstime_ns; break;
    default: return err(EINVAL);
    }
    struct rusage ru{};
    ru.ru_utime.tv_sec = static_cast<long>(u / 1'000'000'000);
    ru.ru_utime.tv_usec = static_cast<long>(u % 1'000'000'000 / 1000);
    ru.ru_stime.tv_sec = static_cast<long>(s / 1'000'000'000);
    ru.ru_stime.tv_usec = static_cast<long>(s % 1'000'000'000 / 1000);
    VK_TRY(copy_out(task.mm(), UserPtr<struct rusage>(a[1]), ru));
    return 0;
}

Result<long> sys_times(Task& task, const SyscallArgs& a) {
    const Process& p = *task.process;
    const u64 tick = 10'000'000;  // USER_HZ = 100
    const i64 t[4] = {static_cast<i64>(p.utime_ns / tick), static_cast<i64>(p.stime_ns / tick),
                      static_cast<i64>(p.cutime_ns / tick), static_cast<i64>(p.cstime_ns / tick)};
    if (a[0]) VK_TRY(copy_out_bytes(task.mm(), a[0], t, sizeof t));
    return static_cast<long>(task.kernel.uptime_seconds() * 100);
}

}  // namespace vk::sys
