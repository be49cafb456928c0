#include "vkernel/procfs.h"

#include <cpuid.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "vkernel/files.h"
#include "vkernel/fs/tmpfs.h"
#include "vkernel/kernel.h"
#include "vkernel/locks.h"

namespace vk {

struct ProcSuper {
    Kernel& k;
    u64 dev = 0;
    u64 next_ino = 1;
};

namespace {

constexpr u64 kProcSuperMagic = 0x9fa0;
constexpr u64 kUserHz = 100;  // clock ticks of /proc/PID/stat and /proc/stat
constexpr const char* kRelease = "6.1.0-vkernel";  // as uname(2) says

using Gen = std::function<Result<std::string>()>;

[[gnu::format(printf, 2, 3)]] void appendf(std::string& out, const char* fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    const int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0) out.append(buf, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof buf - 1));
}

u64 ticks(u64 ns) { return ns / (1'000'000'000 / kUserHz); }

u64 ns_since(Clock::time_point from) {
    const auto d = Clock::now() - from;
    return static_cast<u64>(std::max<i64>(0, std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()));
}

// ---- Inodes -----------------------------------------------------------------

class ProcInode : public fs::Inode {
protected:
    ProcInode(const std::shared_ptr<ProcSuper>& sb, u32 mode, u32 uid = 0, u32 gid = 0)
        : Inode(sb->dev, sb->next_ino++, fs::NewInode{mode, uid, gid, 0}), sb_(sb) {
        if (is_dir()) nlink_ = 2;
    }
    std::shared_ptr<ProcSuper> sb_;

public:
    // Read-only: every change is EPERM/EACCES as on Linux's proc (the
    // VFS has refused most of them already).
    Result<std::shared_ptr<fs::Inode>> create(std::string_view, const fs::NewInode&) override { return err(EACCES); }
    Result<std::shared_ptr<fs::Inode>> mkdir(std::string_view, const fs::NewInode&) override { return err(EACCES); }
    Result<std::shared_ptr<fs::Inode>> mknod(std::string_view, const fs::NewInode&) override { return err(EACCES); }
    Result<std::shared_ptr<fs::Inode>> symlink(std::string_view, std::string_view,
                                               const fs::NewInode&) override { return err(EACCES); }
    Result<std::shared_ptr<fs::Inode>> tmpfile(const fs::NewInode&) override { return err(EOPNOTSUPP); }
    Result<void> link(std::string_view, const std::shared_ptr<fs::Inode>&) override { return err(EPERM); }
    Result<void> unlink(std::string_view) override { return err(EACCES); }
    Result<void> rmdir(std::string_view) override { return err(EACCES); }
    Result<void> rename(std::string_view, fs::Inode&, std::string_view, u32) override { return err(EACCES); }
    Result<void> setattr(const fs::SetAttr&) override { return err(EPERM); }
    Result<u64> write(u64, std::span<const std::byte>) override { return err(EIO); }
    Result<void> allocate(int, u64, u64) override { return err(EOPNOTSUPP); }
};

// An open proc file: the text made at open.
class SnapshotOps final : public fs::FileOps {
public:
    explicit SnapshotOps(std::string text) : text_(std::move(text)) {}
    Result<u64> read(fs::File&, std::span<std::byte> dst, u64 off) override {
        if (off >= text_.size()) return 0;
        const u64 n = std::min<u64>(dst.size(), text_.size() - off);
        std::memcpy(dst.data(), text_.data() + off, n);
        return n;
    }
    Result<u64> write(fs::File&, std::span<const std::byte>, u64) override { return err(EIO); }
    Result<i64> seek(fs::File& f, i64 off, int whence) override {
        i64 base = 0;
        switch (whence) {
        case SEEK_SET: break;
        case SEEK_CUR: base = static_cast<i64>(f.offset()); break;
        case SEEK_END: base = static_cast<i64>(text_.size()); break;
        default: return err(EINVAL);
        }
        if (off < 0 && -off > base) return err(EINVAL);
        f.set_offset(static_cast<u64>(base + off));
        return static_cast<i64>(f.offset());
    }
    u32 poll(fs::File&) override { return POLLIN | POLLRDNORM; }

private:
    std::string text_;
};

// A regular file whose text `gen` makes at open.
class GenFile final : public ProcInode {
public:
    GenFile(const std::shared_ptr<ProcSuper>& sb, u32 perm, Gen gen)
        : ProcInode(sb, S_IFREG | perm), gen_(std::move(gen)) {}
    Result<std::shared_ptr<fs::FileOps>> open(fs::File&) override {
        std::string text = VK_TRY(gen_());
        return std::shared_ptr<fs::FileOps>(std::make_shared<SnapshotOps>(std::move(text)));
    }
    Result<u64> read(u64 off, std::span<std::byte> dst) override {
        const std::string text = VK_TRY(gen_());
        if (off >= text.size()) return 0;
        const u64 n = std::min<u64>(dst.size(), text.size() - off);
        std::memcpy(dst.data(), text.data() + off, n);
        return n;
    }

private:
    Gen gen_;
};

// A symlink whose target `gen` computes at readlink.
// Where a magic link jumps (see fs::Inode::jump_target).
using Jump = std::function<Result<fs::Path>()>;

class GenLink final : public ProcInode {
public:
    GenLink(const std::shared_ptr<ProcSuper>& sb, Gen gen, u32 uid = 0, u32 gid = 0, Jump jump = nullptr)
        : ProcInode(sb, S_IFLNK | 0777, uid, gid), gen_(std::move(gen)), jump_(std::move(jump)) {}
    Result<std::string> readlink() override { return gen_(); }
    Result<std::optional<fs::Path>> jump_target() override {
        if (!jump_) return std::optional<fs::Path>();
        return std::optional<fs::Path>(VK_TRY(jump_()));
    }

private:
    Gen gen_;
    Jump jump_;  // null: an ordinary symlink
};

// One entry of a directory: its name and how to make its inode.
struct Child {
    std::string name;
    std::function<std::shared_ptr<fs::Inode>()> make;
};
using Lister = std::function<std::vector<Child>()>;

// A directory listed from the kernel's tables by `list` on every lookup.
class GenDir final : public ProcInode {
public:
    GenDir(const std::shared_ptr<ProcSuper>& sb, u32 perm, Lister list, u32 uid = 0, u32 gid = 0)
        : ProcInode(sb, S_IFDIR | perm, uid, gid), list_(std::move(list)) {}

    Result<std::shared_ptr<fs::Inode>> lookup(std::string_view name) override {
        for (const Child& c : list_())
            if (c.name == name) return child(c);
        return err(ENOENT);
    }
    Result<void> iterate(u64 cookie, const fs::DirEmit& emit) override {
        const std::vector<Child> kids = list_();
        for (u64 i = cookie < 2 ? 0 : cookie - 2; i < kids.size(); i++) {
            const auto inode = child(kids[i]);
            if (!emit(fs::DirEntry{kids[i].name, inode->ino(), fs::dirent_type(inode->mode()), i + 3}))
                break;
        }
        return {};
    }
    bool empty_dir() const override { return false; }

private:
    // The live inode of `c`, or a new one.
    std::shared_ptr<fs::Inode> child(const Child& c) {
        if (auto it = cache_.find(c.name); it != cache_.end())
            if (auto live = it->second.lock()) return live;
        std::erase_if(cache_, [](const auto& e) { return e.second.expired(); });
        auto inode = c.make();
        cache_[c.name] = inode;
        return inode;
    }

    Lister list_;
    std::map<std::string, std::weak_ptr<fs::Inode>, std::less<>> cache_;
};

// ---- What the files say -------------------------------------------------------

Task* main_thread(const Process& p) {
    for (Task* t : p.threads)
        if (t->tid == p.pid) return t;
    return p.threads.empty() ? nullptr : p.threads.front();
}

std::string comm_of(const Process& p, const Task* t) {
    if (t) return t->comm;
    return p.exe.substr(p.exe.rfind('/') + 1).substr(0, 15);
}

// The process `pid`, and the thread `tid` of it (tid 0: its main thread).
struct Target {
    Process* p = nullptr;
    Task* t = nullptr;
};
Result<Target> target(Kernel& k, int pid, int tid) {
    Process* p = k.find_process(pid);
    if (!p) return err(ESRCH);
    if (tid == 0) return Target{p, main_thread(*p)};
    for (Task* t : p->threads)
        if (t->tid == tid) return Target{p, t};
    return err(ESRCH);
}

char state_char(const Process& p, const Task* t) {
    if (p.zombie || !t) return 'Z';
    if (p.stopped) return 'T';
    switch (t->state) {
    case TaskState::kRunning:
    case TaskState::kRunnable: return 'R';
    case TaskState::kBlocked: return t->interruptible ? 'S' : 'D';
    case TaskState::kDead: return 'X';
    }
    return 'S';
}
const char* state_name(char c) {
    switch (c) {
    case 'R': return "running";
    case 'S': return "sleeping";
    case 'D': return "disk sleep";
    case 'T': return "stopped";
    case 'Z': return "zombie";
    default: return "dead";
    }
}

struct MemUse {
    u64 size = 0, rss = 0, stack = 0, data = 0, exec = 0;  // bytes; rss in pages
};
MemUse mem_use(const Process& p) {
    MemUse u;
    if (!p.mm || p.zombie) return u;
    std::set<const VmObject*> seen;
    for (const auto& [start, r] : p.mm->regions()) {
        const u64 len = r.end - r.start;
        u.size += len;
        if (r.name == "[stack]") u.stack += len;
        else if (r.prot & kProtExec) u.exec += len;
        else if (r.prot & kProtWrite) u.data += len;
        if (r.object && seen.insert(r.object.get()).second) u.rss += r.object->resident();
    }
    return u;
}

u64 signal_set(const Process& p, bool ignored) {
    u64 set = 0;
    if (!p.sighand) return 0;
    for (int i = 0; i < kNsig; i++) {
        const u64 h = p.sighand->actions[i].handler;
        if (ignored ? h == reinterpret_cast<u64>(SIG_IGN) : h > reinterpret_cast<u64>(SIG_IGN))
            set |= 1ULL << i;
    }
    return set;
}

std::string proc_stat(Kernel& k, const Process& p, const Task* t) {
    const char st = state_char(p, t);
    const MemUse m = mem_use(p);
    const int ppid = p.parent ? p.parent->pid : 0;
    const u64 start = ticks(static_cast<u64>(std::max<i64>(
        0, std::chrono::duration_cast<std::chrono::nanoseconds>(p.start_time - k.boot_time()).count())));
    const u64 pending = (t ? t->pending : 0) | p.shared_pending;
    std::string s;
    appendf(s, "%d (%s) %c %d %d %d 0 -1 4194560 0 0 0 0 %lu %lu %lu %lu 20 0 %zu 0 %lu %lu %lu "
               "18446744073709551615 0 0 %lu 0 0 %lu %lu %lu %lu 0 0 0 %d %u 0 0 0 0 0 0 0 %lu 0 0 0 0 %d\n",
            t ? t->tid : p.pid, comm_of(p, t).c_str(), st, ppid, p.pgid, p.sid,
            ticks(p.utime_ns), ticks(p.stime_ns), ticks(p.cutime_ns), ticks(p.cstime_ns),
            std::max<std::size_t>(p.threads.size(), 1), start, m.size, m.rss,
            p.mm ? p.mm->stack_top : 0, pending, t ? t->sigmask : 0, signal_set(p, true),
            signal_set(p, false), p.exit_signal, t && t->cpu ? t->cpu->id : 0,
            p.mm ? p.mm->brk_start : 0, p.zombie ? p.exit_status : 0);
    return s;
}

std::string proc_statm(const Process& p) {
    const MemUse m = mem_use(p);
    std::string s;
    appendf(s, "%lu %lu 0 %lu 0 %lu 0\n", m.size / kPageSize, m.rss, m.exec / kPageSize,
            (m.data + m.stack) / kPageSize);
    return s;
}

std::string proc_status(Kernel& k, const Process& p, const Task* t) {
    const char st = state_char(p, t);
    std::string s;
    appendf(s, "Name:\t%s\n", comm_of(p, t).c_str());
    appendf(s, "Umask:\t%04o\n", p.fsctx ? p.fsctx->umask : 022);
    appendf(s, "State:\t%c (%s)\n", st, state_name(st));
    appendf(s, "Tgid:\t%d\nNgid:\t0\nPid:\t%d\nPPid:\t%d\nTracerPid:\t0\n", p.pid, t ? t->tid : p.pid,
            p.parent ? p.parent->pid : 0);
    appendf(s, "Uid:\t%u\t%u\t%u\t%u\n", p.uid, p.euid, p.suid, p.fsuid);
    appendf(s, "Gid:\t%u\t%u\t%u\t%u\n", p.gid, p.egid, p.sgid, p.fsgid);
    appendf(s, "FDSize:\t%lu\nGroups:\t", p.fds ? std::max<u64>(64, p.fds->count()) : 0);
    for (u32 g : p.groups) appendf(s, "%u ", g);
    s += '\n';
    if (!p.zombie && p.mm) {
        const MemUse m = mem_use(p);
        const u64 kb = 1024;
        appendf(s, "VmPeak:\t%8lu kB\nVmSize:\t%8lu kB\nVmLck:\t%8d kB\nVmPin:\t%8d kB\n", m.size / kb,
                m.size / kb, 0, 0);
        appendf(s, "VmHWM:\t%8lu kB\nVmRSS:\t%8lu kB\n", m.rss * 4, m.rss * 4);
        appendf(s, "RssAnon:\t%8lu kB\nRssFile:\t%8d kB\nRssShmem:\t%8d kB\n", m.rss * 4, 0, 0);
        appendf(s, "VmData:\t%8lu kB\nVmStk:\t%8lu kB\nVmExe:\t%8lu kB\n", m.data / kb, m.stack / kb,
                m.exec / kb);
        appendf(s, "VmLib:\t%8d kB\nVmPTE:\t%8d kB\nVmSwap:\t%8d kB\n", 0, 0, 0);
    }
    appendf(s, "Threads:\t%zu\n", std::max<std::size_t>(p.threads.size(), 1));
    appendf(s, "SigQ:\t0/%lu\n", p.rlimits[RLIMIT_SIGPENDING][0]);
    appendf(s, "SigPnd:\t%016lx\nShdPnd:\t%016lx\nSigBlk:\t%016lx\nSigIgn:\t%016lx\nSigCgt:\t%016lx\n",
            t ? t->pending : 0, p.shared_pending, t ? t->sigmask : 0, signal_set(p, true),
            signal_set(p, false));
    appendf(s, "CapInh:\t%016x\nCapPrm:\t%016lx\nCapEff:\t%016lx\nCapBnd:\t%016lx\nCapAmb:\t%016x\n",
            0, permitted_caps(p), effective_caps(p), kAllCaps, 0);
    appendf(s, "NoNewPrivs:\t0\nSeccomp:\t0\n");
    const unsigned n = k.cpu_count();
    const u64 all = n >= 64 ? ~u64{0} : (u64{1} << n) - 1;
    const u64 mask = (t ? t->affinity : p.threads.empty() ? all : p.threads.front()->affinity) & all;
    appendf(s, "Cpus_allowed:\t%lx\nCpus_allowed_list:\t", mask);
    // Ranges, as Linux prints a cpulist: "0-1", "1", "0,2-3".
    for (unsigned i = 0, first = 1; i < 64; i++) {
        if (!((mask >> i) & 1)) continue;
        unsigned j = i;
        while (j + 1 < 64 && ((mask >> (j + 1)) & 1)) j++;
        appendf(s, first ? "%u" : ",%u", i);
        if (j > i) appendf(s, "-%u", j);
        first = 0;
        i = j;
    }
    s += '\n';
    appendf(s, "voluntary_ctxt_switches:\t0\nnonvoluntary_ctxt_switches:\t0\n");
    return s;
}

std::string file_name(Kernel& k, const fs::File& f, const fs::Path& root);
fs::Path reader_root(Kernel& k);

std::string proc_maps(Kernel& k, const Process& p) {
    std::string s;
    if (!p.mm || p.zombie) return s;
    for (const auto& [start, r] : p.mm->regions()) {
        std::string line;
        // A file mapping shows the file's device, inode and path (d_path
        // at the time of reading, as Linux's show_map_vma).
        const u64 dev = r.file ? r.file->inode().dev() : 0;
        const u64 ino = r.file ? r.file->inode().ino() : 0;
        // [vvar] is one frame all processes share, but Linux shows its
        // special mapping as private.
        const bool shows_shared = r.shared && r.name != "[vvar]";
        appendf(line, "%08lx-%08lx %c%c%c%c %08lx %02x:%02x %lu", r.start, r.end,
                r.prot & kProtRead ? 'r' : '-', r.prot & kProtWrite ? 'w' : '-',
                r.prot & kProtExec ? 'x' : '-', shows_shared ? 's' : 'p', r.file ? r.offset : 0,
                major(dev), minor(dev), ino);
        const std::string name = r.file ? file_name(k, *r.file, reader_root(k)) : r.name;
        if (!name.empty()) {
            if (line.size() < 73) line.append(73 - line.size(), ' ');
            line += name;
        }
        s += line + "\n";
    }
    return s;
}

std::string mount_options(u64 flags) {
    std::string o = flags & MS_RDONLY ? "ro" : "rw";
    if (flags & MS_NOSUID) o += ",nosuid";
    if (flags & MS_NODEV) o += ",nodev";
    if (flags & MS_NOEXEC) o += ",noexec";
    if (flags & MS_NOATIME) o += ",noatime";
    else if (!(flags & MS_STRICTATIME)) o += ",relatime";
    return o;
}

// What a filesystem adds to its mount options (shmem_show_options for
// tmpfs: what differs from the defaults).
std::string super_options(Kernel& k, const fs::Filesystem& f) {
    std::string o;
    if (dynamic_cast<const fs::Tmpfs*>(&f)) {
        const fs::StatFs st = f.statfs();
        const u64 default_pages = std::max<u64>(k.frames().total_frames() / 2, 1);
        if (st.blocks != default_pages) appendf(o, ",size=%luk", st.blocks * (kPageSize / 1024));
        if (st.files != std::max<u64>(st.blocks, 16)) appendf(o, ",nr_inodes=%lu", st.files);
        const fs::Inode& root = f.root()->inode();
        if ((root.mode() & 07777) != 01777) appendf(o, ",mode=%03o", root.mode() & 07777);
        if (root.uid() != 0) appendf(o, ",uid=%u", root.uid());
        if (root.gid() != 0) appendf(o, ",gid=%u", root.gid());
    }
    return o;
}

std::string proc_mounts(Kernel& k) {
    std::string s;
    for (const fs::MountInfo& m : k.vfs().mounts())
        appendf(s, "%s %s %s %s%s 0 0\n", m.source.c_str(), m.mountpoint.c_str(), m.type.c_str(),
                mount_options(m.flags).c_str(), super_options(k, m.mount->fs()).c_str());
    return s;
}

// The path of a mount's root inside its filesystem ("/" but for bind mounts).
std::string root_in_fs(const fs::Mount& m) {
    std::vector<const std::string*> parts;
    for (const fs::Dentry* d = m.root().get(); d && d->parent(); d = d->parent().get())
        parts.push_back(&d->name());
    if (parts.empty()) return "/";
    std::string s;
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) s += "/" + **it;
    return s;
}

// /proc/PID/mountinfo (show_mountinfo): ids, dev, root, mount point,
// per-mount options, no propagation tags, "-", type, source, superblock options.
std::string proc_mountinfo(Kernel& k) {
    std::string s;
    for (const fs::MountInfo& m : k.vfs().mounts()) {
        const fs::Mount& mnt = *m.mount;
        const u64 dev = mnt.fs().dev();
        const u64 parent = mnt.parent() ? mnt.parent()->id() : mnt.id();
        appendf(s, "%lu %lu %lu:%lu %s %s %s - %s %s %s%s\n", mnt.id(), parent, (dev >> 8) & 0xfff,
                (dev & 0xff) | ((dev >> 12) & 0xfff00), root_in_fs(mnt).c_str(), m.mountpoint.c_str(),
                mount_options(m.flags).c_str(), m.type.c_str(), m.source.c_str(),
                m.flags & MS_RDONLY ? "ro" : "rw", super_options(k, mnt.fs()).c_str());
    }
    return s;
}

// /proc/locks (lock_get_status): one line per lock held.
std::string proc_locks(Kernel&) {
    std::string s;
    int n = 0;
    LockManager::global().for_each([&](LockKey key, const FileLock& l) {
        // SAFETY: lock keys are the addresses of live fs::Inodes (locks.h).
        const auto* inode = static_cast<const fs::Inode*>(key);
        const char* cls = l.owner.cls == LockClass::kFlock ? "FLOCK  ADVISORY "
                          : l.owner.cls == LockClass::kOfd ? "OFDLCK ADVISORY "
                                                           : "POSIX  ADVISORY ";
        appendf(s, "%d: %s %s %d %02x:%02x:%lu ", ++n, cls, l.type == F_WRLCK ? "WRITE" : "READ ",
                l.owner.pid, static_cast<unsigned>((inode->dev() >> 8) & 0xfff),
                static_cast<unsigned>((inode->dev() & 0xff) | ((inode->dev() >> 12) & 0xfff00)),
                inode->ino());
        if (l.end == kLockEof)
            appendf(s, "%ld EOF\n", l.start);
        else
            appendf(s, "%ld %ld\n", l.start, l.end);
    });
    return s;
}

// tmpfs pages in memory (what Linux counts as Cached and Shmem).
u64 tmpfs_pages(Kernel& k) {
    std::set<const fs::Filesystem*> seen;
    u64 pages = 0;
    auto add = [&](const fs::Filesystem& f) {
        if (!seen.insert(&f).second) return;
        if (auto* t = dynamic_cast<const fs::Tmpfs*>(&f)) pages += t->pages_used();
    };
    for (const fs::MountInfo& m : k.vfs().mounts()) add(m.mount->fs());
    add(k.anon_vfs().root().mount->fs());
    return pages;
}

std::string proc_meminfo(Kernel& k) {
    const u64 total = k.memory_bytes() / 1024;
    const u64 free_kb = k.frames().free_frames() * (kPageSize / 1024);
    const u64 cached = tmpfs_pages(k) * (kPageSize / 1024);
    const u64 used = total > free_kb ? total - free_kb : 0;
    std::string s;
    auto line = [&](const char* name, u64 kb) { appendf(s, "%-16s%8lu kB\n", name, kb); };
    line("MemTotal:", total);
    line("MemFree:", free_kb);
    line("MemAvailable:", free_kb);
    line("Buffers:", 0);
    line("Cached:", cached);
    line("SwapCached:", 0);
    line("Active:", used);
    line("Inactive:", 0);
    line("Active(anon):", used > cached ? used - cached : 0);
    line("Inactive(anon):", 0);
    line("Active(file):", cached);
    line("Inactive(file):", 0);
    line("Unevictable:", 0);
    line("Mlocked:", 0);
    line("SwapTotal:", 0);
    line("SwapFree:", 0);
    line("Dirty:", 0);
    line("Writeback:", 0);
    line("AnonPages:", used > cached ? used - cached : 0);
    line("Mapped:", 0);
    line("Shmem:", cached);
    line("KReclaimable:", 0);
    line("Slab:", 0);
    line("SReclaimable:", 0);
    line("SUnreclaim:", 0);
    line("KernelStack:", 0);
    line("PageTables:", 0);
    line("NFS_Unstable:", 0);
    line("Bounce:", 0);
    line("WritebackTmp:", 0);
    line("CommitLimit:", total);
    line("Committed_AS:", used);
    line("VmallocTotal:", 0);
    line("VmallocUsed:", 0);
    line("VmallocChunk:", 0);
    line("Percpu:", 0);
    appendf(s, "%-16s%8d\n%-16s%8d\n%-16s%8d\n%-16s%8d\n", "HugePages_Total:", 0, "HugePages_Free:", 0,
            "HugePages_Rsvd:", 0, "HugePages_Surp:", 0);
    line("Hugepagesize:", 2048);
    line("Hugetlb:", 0);
    line("DirectMap4k:", total);
    return s;
}

std::string proc_cpuinfo(Kernel& k) {
    unsigned a = 0, b = 0, c = 0, d = 0;
    char vendor[13] = {};
    __get_cpuid(0, &a, &b, &c, &d);
    std::memcpy(vendor, &b, 4);
    std::memcpy(vendor + 4, &d, 4);
    std::memcpy(vendor + 8, &c, 4);
    __get_cpuid(1, &a, &b, &c, &d);
    const unsigned family = ((a >> 8) & 0xf) + (((a >> 8) & 0xf) == 0xf ? (a >> 20) & 0xff : 0);
    const unsigned model = ((a >> 4) & 0xf) | (((a >> 8) & 0xf) >= 6 ? ((a >> 16) & 0xf) << 4 : 0);
    const unsigned stepping = a & 0xf;
    char name[49] = {};
    unsigned regs[12] = {};
    for (unsigned i = 0; i < 3; i++)
        __get_cpuid(0x80000002 + i, &regs[i * 4], &regs[i * 4 + 1], &regs[i * 4 + 2], &regs[i * 4 + 3]);
    std::memcpy(name, regs, 48);
    std::string model_name(name);
    model_name.erase(0, model_name.find_first_not_of(' '));
    if (model_name.empty()) model_name = "vkernel virtual CPU";
    const unsigned n = k.cpu_count();
    std::string s;
    for (unsigned i = 0; i < n; i++) {
        appendf(s, "processor\t: %u\nvendor_id\t: %s\ncpu family\t: %u\nmodel\t\t: %u\n", i, vendor, family,
                model);
        appendf(s, "model name\t: %s\nstepping\t: %u\ncpu MHz\t\t: 2000.000\ncache size\t: 512 KB\n",
                model_name.c_str(), stepping);
        appendf(s, "physical id\t: 0\nsiblings\t: %u\ncore id\t\t: %u\ncpu cores\t: %u\napicid\t\t: %u\n", n,
                i, n, i);
        appendf(s, "initial apicid\t: %u\nfpu\t\t: yes\nfpu_exception\t: yes\ncpuid level\t: 13\nwp\t\t: yes\n",
                i);
        appendf(s, "flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 "
                   "clflush mmx fxsr sse sse2 syscall nx lm rep_good nopl cpuid pni ssse3 cx16 sse4_1 "
                   "sse4_2 popcnt hypervisor lahf_lm\n");
        appendf(s, "bogomips\t: 4000.00\nclflush size\t: 64\ncache_alignment\t: 64\n"
                   "address sizes\t: 46 bits physical, 48 bits virtual\npower management:\n\n");
    }
    return s;
}

struct CpuTimes {
    u64 user = 0, system = 0, idle = 0;  // ticks
};
CpuTimes cpu_times(Kernel& k) {
    CpuTimes c;
    for (const auto& [pid, p] : k.processes()) {
        c.user += ticks(p->utime_ns + p->cutime_ns);
        c.system += ticks(p->stime_ns + p->cstime_ns);
    }
    const u64 all = ticks(ns_since(k.boot_time())) * k.cpu_count();
    c.idle = all > c.user + c.system ? all - c.user - c.system : 0;
    return c;
}

struct Counts {
    u64 running = 0, threads = 0;
    int last_pid = 0;
};
Counts counts(Kernel& k) {
    Counts n;
    for (const auto& [pid, p] : k.processes()) {
        n.last_pid = std::max(n.last_pid, pid);
        for (const Task* t : p->threads) {
            n.threads++;
            n.last_pid = std::max(n.last_pid, t->tid);
            if (t->state == TaskState::kRunning || t->state == TaskState::kRunnable) n.running++;
        }
    }
    return n;
}

std::string proc_stat_global(Kernel& k) {
    const CpuTimes c = cpu_times(k);
    const unsigned n = k.cpu_count();
    std::string s;
    appendf(s, "cpu  %lu 0 %lu %lu 0 0 0 0 0 0\n", c.user, c.system, c.idle);
    for (unsigned i = 0; i < n; i++)
        appendf(s, "cpu%u %lu 0 %lu %lu 0 0 0 0 0 0\n", i, c.user / n, c.system / n, c.idle / n);
    const auto boot_wall = std::chrono::system_clock::now() -
                           std::chrono::duration_cast<std::chrono::system_clock::duration>(Clock::now() - k.boot_time());
    const Counts cnt = counts(k);
    appendf(s, "intr 0\nctxt 0\nbtime %ld\nprocesses %d\nprocs_running %lu\nprocs_blocked 0\n",
            static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(boot_wall.time_since_epoch()).count()),
            cnt.last_pid, cnt.running);
    appendf(s, "softirq 0 0 0 0 0 0 0 0 0 0 0\n");
    return s;
}

std::string proc_uptime(Kernel& k) {
    const u64 up = ns_since(k.boot_time()) / 10'000'000;  // centiseconds
    const u64 idle = cpu_times(k).idle;                   // ticks = centiseconds
    std::string s;
    appendf(s, "%lu.%02lu %lu.%02lu\n", up / 100, up % 100, idle / 100, idle % 100);
    return s;
}

std::string proc_loadavg(Kernel& k) {
    const Counts c = counts(k);
    std::string s;
    appendf(s, "0.00 0.00 0.00 %lu/%lu %d\n", c.running, c.threads, c.last_pid);
    return s;
}

// The name /proc/PID/fd/N links to.
std::string file_name(Kernel& k, const fs::File& f, const fs::Path& root) {
    const fs::Path& path = f.path();
    if (path.mount == k.anon_vfs().root().mount) {
        const u64 ino = f.inode().ino();
        switch (f.inode().type()) {
        case S_IFIFO: return "pipe:[" + std::to_string(ino) + "]";
        case S_IFSOCK: return "socket:[" + std::to_string(ino) + "]";
        case S_IFCHR: return "/dev/console";
        default: return "anon_inode:[" + std::to_string(ino) + "]";
        }
    }
    return k.vfs().path_name(path, root);
}

// The caller's root, for path names (the namespace root off the vCPUs).
fs::Path reader_root(Kernel& k) {
    if (Task* t = k.current_task(); t && t->process->fsctx) return t->process->fsctx->root;
    return k.vfs().root();
}

// ---- The tree -----------------------------------------------------------------

Child file(const std::shared_ptr<ProcSuper>& sb, std::string name, u32 perm, Gen gen) {
    return Child{std::move(name), [sb, perm, gen = std::move(gen)] {
                     return std::shared_ptr<fs::Inode>(std::make_shared<GenFile>(sb, perm, gen));
                 }};
}
Child link(const std::shared_ptr<ProcSuper>& sb, std::string name, Gen gen, u32 uid = 0, u32 gid = 0,
           Jump jump = nullptr) {
    return Child{std::move(name), [sb, gen = std::move(gen), uid, gid, jump = std::move(jump)] {
                     return std::shared_ptr<fs::Inode>(std::make_shared<GenLink>(sb, gen, uid, gid, jump));
                 }};
}
Child dir(const std::shared_ptr<ProcSuper>& sb, std::string name, u32 perm, Lister list, u32 uid = 0,
          u32 gid = 0) {
    return Child{std::move(name), [sb, perm, list = std::move(list), uid, gid] {
                     return std::shared_ptr<fs::Inode>(std::make_shared<GenDir>(sb, perm, list, uid, gid));
                 }};
}

// /proc/PID/fd (fdinfo: `info`).
Lister fd_lister(const std::shared_ptr<ProcSuper>& sb, int pid, bool info) {
    return [sb, pid, info] {
        Kernel& k = sb->k;
        std::vector<Child> out;
        Process* p = k.find_process(pid);
        if (!p || !p->fds) return out;
        p->fds->for_each([&](int fd, const std::shared_ptr<fs::File>&, bool) {
            auto open_file = [&k, pid, fd]() -> Result<std::shared_ptr<fs::File>> {
                Process* q = k.find_process(pid);
                if (!q || !q->fds) return err(ENOENT);
                return q->fds->get(fd);
            };
            if (info) {
                out.push_back(file(sb, std::to_string(fd), 0444, [open_file, pid, fd, &k]() -> Result<std::string> {
                    auto f = open_file();
                    if (!f) return err(ENOENT);
                    Process* q = k.find_process(pid);
                    auto ce = q ? q->fds->cloexec(fd) : Result<bool>(false);
                    const bool cloexec = ce && *ce;
                    std::string s;
                    appendf(s, "pos:\t%lu\nflags:\t0%o\nmnt_id:\t%lu\nino:\t%lu\n", (*f)->offset(),
                            static_cast<unsigned>((*f)->flags() | (cloexec ? O_CLOEXEC : 0)),
                            (*f)->path().mount->id(), (*f)->inode().ino());
                    return s;
                }));
            } else {
                out.push_back(link(sb, std::to_string(fd), [open_file, pid, &k]() -> Result<std::string> {
                    auto f = open_file();
                    if (!f) return err(ENOENT);
                    Process* q = k.find_process(pid);
                    return file_name(k, **f, q && q->fsctx ? q->fsctx->root : reader_root(k));
                }, 0, 0, [open_file]() -> Result<fs::Path> {
                    auto f = open_file();
                    if (!f) return err(ENOENT);
                    return (*f)->path();
                }));
            }
        });
        return out;
    };
}

// The entries of /proc/PID (tid 0) and /proc/PID/task/TID.
Lister pid_lister(const std::shared_ptr<ProcSuper>& sb, int pid, int tid);

Lister task_lister(const std::shared_ptr<ProcSuper>& sb, int pid) {
    return [sb, pid] {
        std::vector<Child> out;
        Process* p = sb->k.find_process(pid);
        if (!p) return out;
        std::vector<int> tids;
        for (const Task* t : p->threads) tids.push_back(t->tid);
        std::sort(tids.begin(), tids.end());
        for (int tid : tids)
            out.push_back(dir(sb, std::to_string(tid), 0555, pid_lister(sb, pid, tid), p->euid, p->egid));
        return out;
    };
}

Lister pid_lister(const std::shared_ptr<ProcSuper>& sb, int pid, int tid) {
    return [sb, pid, tid] {
        Kernel& k = sb->k;
        std::vector<Child> out;
        Process* p = k.find_process(pid);
        if (!p) return out;
        const u32 uid = p->euid, gid = p->egid;
        auto text = [&k, pid, tid](std::string (*f)(Kernel&, const Process&, const Task*)) -> Gen {
            return [&k, pid, tid, f]() -> Result<std::string> {
                const Target t = VK_TRY(target(k, pid, tid));
                return f(k, *t.p, t.t);
            };
        };
        auto path_link = [&k, pid](bool cwd) -> Gen {
            return [&k, pid, cwd]() -> Result<std::string> {
                Process* q = k.find_process(pid);
                if (!q || !q->fsctx || q->zombie) return err(ENOENT);
                return k.vfs().path_name(cwd ? q->fsctx->cwd : q->fsctx->root, reader_root(k));
            };
        };
        auto path_jump = [&k, pid](bool cwd) -> Jump {
            return [&k, pid, cwd]() -> Result<fs::Path> {
                Process* q = k.find_process(pid);
                if (!q || !q->fsctx || q->zombie) return err(ENOENT);
                return cwd ? q->fsctx->cwd : q->fsctx->root;
            };
        };
        out.push_back(file(sb, "cmdline", 0444, text([](Kernel&, const Process& q, const Task*) {
                                return q.zombie ? std::string() : q.cmdline;
                            })));
        out.push_back(file(sb, "comm", 0644, text([](Kernel&, const Process& q, const Task* t) {
                               return comm_of(q, t) + "\n";
                           })));
        out.push_back(link(sb, "cwd", path_link(true), uid, gid, path_jump(true)));
        out.push_back(file(sb, "environ", 0400, text([](Kernel&, const Process& q, const Task*) {
                               return q.zombie ? std::string() : q.environ;
                           })));
        out.push_back(link(sb, "exe", [&k, pid]() -> Result<std::string> {
            Process* q = k.find_process(pid);
            if (!q || q->zombie || q->exe.empty()) return err(ENOENT);
            return q->exe;
        }, uid, gid));
        out.push_back(dir(sb, "fd", 0500, fd_lister(sb, pid, false), uid, gid));
        out.push_back(dir(sb, "fdinfo", 0500, fd_lister(sb, pid, true), uid, gid));
        out.push_back(file(sb, "maps", 0444, text([](Kernel& kk, const Process& q, const Task*) {
                               return proc_maps(kk, q);
                           })));
        out.push_back(file(sb, "mounts", 0444, text([](Kernel& kk, const Process&, const Task*) {
                               return proc_mounts(kk);
                           })));
        out.push_back(file(sb, "mountinfo", 0444, text([](Kernel& kk, const Process&, const Task*) {
                               return proc_mountinfo(kk);
                           })));
        out.push_back(link(sb, "root", path_link(false), uid, gid, path_jump(false)));
        out.push_back(file(sb, "stat", 0444, text(proc_stat)));
        out.push_back(file(sb, "statm", 0444, text([](Kernel&, const Process& q, const Task*) {
                               return proc_statm(q);
                           })));
        out.push_back(file(sb, "status", 0444, text(proc_status)));
        if (tid == 0) out.push_back(dir(sb, "task", 0555, task_lister(sb, pid), uid, gid));
        return out;
    };
}

Gen fixed(std::string text) {
    return [text = std::move(text)]() -> Result<std::string> { return text; };
}

Lister root_lister(const std::shared_ptr<ProcSuper>& sb) {
    return [sb] {
        Kernel& k = sb->k;
        std::vector<Child> out;
        auto g = [&k](std::string (*f)(Kernel&)) -> Gen {
            return [&k, f]() -> Result<std::string> { return f(k); };
        };
        out.push_back(link(sb, "self", [&k]() -> Result<std::string> {
            Task* t = k.current_task();
            if (!t) return err(ENOENT);
            return std::to_string(t->process->pid);
        }));
        out.push_back(link(sb, "thread-self", [&k]() -> Result<std::string> {
            Task* t = k.current_task();
            if (!t) return err(ENOENT);
            return std::to_string(t->process->pid) + "/task/" + std::to_string(t->tid);
        }));
        out.push_back(file(sb, "cpuinfo", 0444, g(proc_cpuinfo)));
        out.push_back(file(sb, "filesystems", 0444, fixed("nodev\ttmpfs\nnodev\tdevtmpfs\nnodev\tproc\n")));
        out.push_back(file(sb, "loadavg", 0444, g(proc_loadavg)));
        out.push_back(file(sb, "locks", 0444, g(proc_locks)));
        out.push_back(file(sb, "meminfo", 0444, g(proc_meminfo)));
        out.push_back(link(sb, "mounts", fixed("self/mounts")));
        out.push_back(file(sb, "stat", 0444, g(proc_stat_global)));
        out.push_back(file(sb, "uptime", 0444, g(proc_uptime)));
        out.push_back(file(sb, "version", 0444,
                           fixed(std::string("Linux version ") + kRelease +
                                 " (vkernel@vkernel) (g++) #1 SMP PREEMPT vkernel\n")));
        out.push_back(dir(sb, "sys", 0555, [sb, g] {
            return std::vector<Child>{dir(sb, "fs", 0555, [sb] {
                return std::vector<Child>{
                    file(sb, "pipe-max-size", 0644, fixed(std::to_string(kPipeMaxSize) + "\n")),
                };
            }), dir(sb, "kernel", 0555, [sb, g] {
                return std::vector<Child>{
                    file(sb, "hostname", 0644, g([](Kernel& kk) { return kk.hostname() + "\n"; })),
                    file(sb, "osrelease", 0444, fixed(std::string(kRelease) + "\n")),
                    file(sb, "ostype", 0444, fixed("Linux\n")),
                };
            })};
        }));
        for (const auto& [pid, p] : k.processes())
            out.push_back(dir(sb, std::to_string(pid), 0555, pid_lister(sb, pid, 0), p->euid, p->egid));
        return out;
    };
}

}  // namespace

std::shared_ptr<ProcFs> ProcFs::create(Kernel& k) {
    std::shared_ptr<ProcFs> p(new ProcFs());
    p->sb_ = std::make_shared<ProcSuper>(ProcSuper{k, p->dev(), 1});
    p->set_root(std::make_shared<GenDir>(p->sb_, 0555, root_lister(p->sb_)));
    return p;
}

fs::StatFs ProcFs::statfs() const {
    fs::StatFs s;
    s.type = kProcSuperMagic;
    s.bsize = kPageSize;
    s.frsize = kPageSize;
    s.fsid = dev();
    return s;
}

Result<void> mount_procfs(Kernel& k, fs::Vfs& vfs, const fs::Context& ctx, const std::string& where) {
    return vfs.mount(ctx, vfs.root(), where, ProcFs::create(k), MS_NOSUID | MS_NODEV | MS_NOEXEC, "proc");
}

}  // namespace vk
