#include "host_compare.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>

namespace vk::fs::test {

namespace {

constexpr long kSysFchmodat2 = 452;  // not in every libc's headers yet

std::string octal(u64 v) {
    char b[32];
    std::snprintf(b, sizeof b, "%llo", static_cast<unsigned long long>(v));
    return b;
}

std::string stat_line(u32 mode, u64 nlink, u64 size, u64 blocks, u32 uid, u32 gid) {
    return "OK mode=" + octal(mode) + " nlink=" + std::to_string(nlink) +
           " size=" + std::to_string(size) + " blocks=" + std::to_string(blocks) +
           " uid=" + std::to_string(uid) + " gid=" + std::to_string(gid);
}

std::string host_err() { return ename(errno); }

// ---- The host side (runs in a forked child) ----

std::string host_op(const Op& op) {
    const char* a = op.a.c_str();
    const char* b = op.b.c_str();
    auto ret = [](long r) { return r < 0 ? host_err() : std::string("OK"); };
    struct stat st{};
    switch (op.kind) {
    case Op::kOpen: {
        const int fd = ::open(a, op.flags, op.mode);
        if (fd < 0) return host_err();
        ::fstat(fd, &st);
        const int fl = ::fcntl(fd, F_GETFL);
        ::close(fd);
        return "OK fl=" + octal(static_cast<u32>(fl)) + " t=" + octal(st.st_mode & S_IFMT);
    }
    case Op::kMkdir:
        return ret(::mkdir(a, op.mode));
    case Op::kMknod:
        return ret(::mknod(a, op.mode, static_cast<dev_t>(op.num)));
    case Op::kRmdir:
        return ret(::rmdir(a));
    case Op::kUnlink:
        return ret(::unlink(a));
    case Op::kRename:
        return ret(::syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, op.flags));
    case Op::kLink:
        return ret(::linkat(AT_FDCWD, a, AT_FDCWD, b, op.flags));
    case Op::kSymlink:
        return ret(::symlink(a, b));
    case Op::kChmod:
        if (op.flags) return ret(::syscall(kSysFchmodat2, AT_FDCWD, a, op.mode, op.flags));
        return ret(::syscall(SYS_fchmodat, AT_FDCWD, a, op.mode));
    case Op::kChown:
        return ret(::fchownat(AT_FDCWD, a, op.mode, op.gid, op.flags));
    case Op::kTruncate:
        return ret(::truncate(a, op.num));
    case Op::kStat:
        if (::fstatat(AT_FDCWD, a, &st, op.flags) < 0) return host_err();
        return stat_line(st.st_mode, st.st_nlink, st.st_size, st.st_blocks, st.st_uid, st.st_gid);
    case Op::kAccess:
        return ret(::syscall(SYS_faccessat2, AT_FDCWD, a, op.flags, op.num));
    case Op::kReadlink: {
        char buf[4096];
        const ssize_t n = ::readlinkat(AT_FDCWD, a, buf, sizeof buf);
        if (n < 0) return host_err();
        return "OK " + std::string(buf, n);
    }
    case Op::kUtimes: {
        struct timespec t[2] = {{op.num, 0}, {op.num, 0}};
        return ret(::utimensat(AT_FDCWD, a, op.num < 0 ? nullptr : t, 0));
    }
    case Op::kPwrite:
    case Op::kFallocate:
    case Op::kSeek: {
        const int oflags = op.kind == Op::kPwrite ? O_WRONLY | op.flags
                           : op.kind == Op::kSeek ? O_RDONLY : O_RDWR;
        const int fd = ::open(a, oflags, 0644);
        if (fd < 0) return host_err();
        long r;
        if (op.kind == Op::kPwrite)
            r = ::pwrite(fd, b, op.b.size(), op.num);
        else if (op.kind == Op::kFallocate)
            r = ::fallocate(fd, op.flags, op.num, op.mode);
        else
            r = ::lseek(fd, op.num, op.flags);
        const int e = errno;
        ::fstat(fd, &st);
        ::close(fd);
        if (r < 0) return ename(e);
        return "OK r=" + std::to_string(r) + " size=" + std::to_string(st.st_size) +
               " blocks=" + std::to_string(st.st_blocks);
    }
    case Op::kWrite: {
        const int fd = ::open(a, O_WRONLY | op.flags, 0644);
        if (fd < 0) return host_err();
        const ssize_t n = ::write(fd, b, op.b.size());
        const int e = errno;
        ::fstat(fd, &st);
        ::close(fd);
        if (n < 0) return ename(e);
        return "OK n=" + std::to_string(n) + " size=" + std::to_string(st.st_size);
    }
    }
    return "?";
}

void host_tree(const std::string& dir, const std::string& rel, std::vector<std::string>& out) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return;
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d))
        if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) names.push_back(e->d_name);
    ::closedir(d);
    for (const std::string& n : names) {
        const std::string p = dir + "/" + n;
        struct stat st{};
        if (::lstat(p.c_str(), &st) < 0) continue;
        std::string line = rel + n + " " + stat_line(st.st_mode, st.st_nlink, st.st_size,
                                                     st.st_blocks, st.st_uid, st.st_gid);
        if (S_ISLNK(st.st_mode)) {
            char buf[4096];
            const ssize_t k = ::readlink(p.c_str(), buf, sizeof buf);
            if (k >= 0) line += " -> " + std::string(buf, k);
        }
        out.push_back(line);
        if (S_ISDIR(st.st_mode)) host_tree(p, rel + n + "/", out);
    }
}

Credentials creds_of(const Who& who) {
    return who.root() ? Credentials::root() : Credentials::user(who.uid, who.gid, who.groups);
}

}  // namespace

// ---- Ops ----

std::string Op::describe() const {
    static const char* names[] = {"open",  "mkdir", "mknod", "rmdir",    "unlink", "rename",
                                  "link",  "symlink", "chmod", "chown", "truncate", "stat",
                                  "access", "readlink", "utimes", "write", "pwrite",
                                  "fallocate", "seek"};
    std::string s = std::string(names[kind]) + "(\"" +
                    (a.size() > 40 ? a.substr(0, 20) + "...(" + std::to_string(a.size()) + ")" : a) + "\"";
    if (b.size() > 24)
        s += ", \"" + b.substr(0, 12) + "...\" (" + std::to_string(b.size()) + " bytes)";
    else if (!b.empty())
        s += ", \"" + b + "\"";
    s += ", flags=0" + octal(static_cast<u32>(flags)) + ", mode=0" + octal(mode);
    if (kind == kChown) s += ", gid=" + std::to_string(gid);
    if (num) s += ", num=" + std::to_string(num);
    return s + ")";
}

namespace {
Op make(Op::Kind k, std::string a, std::string b = {}, int flags = 0, u32 mode = 0, u32 gid = 0) {
    Op o{k, std::move(a), std::move(b), flags, mode, gid, 0};
    return o;
}
}  // namespace

Op op_open(std::string p, int flags, u32 mode) { return make(Op::kOpen, std::move(p), {}, flags, mode); }
Op op_mkdir(std::string p, u32 mode) { return make(Op::kMkdir, std::move(p), {}, 0, mode); }
Op op_mknod(std::string p, u32 mode, i64 dev) {
    Op o = make(Op::kMknod, std::move(p), {}, 0, mode);
    o.num = dev;
    return o;
}
Op op_rmdir(std::string p) { return make(Op::kRmdir, std::move(p)); }
Op op_unlink(std::string p) { return make(Op::kUnlink, std::move(p)); }
Op op_rename(std::string a, std::string b, int flags) {
    return make(Op::kRename, std::move(a), std::move(b), flags);
}
Op op_link(std::string a, std::string b, int flags) {
    return make(Op::kLink, std::move(a), std::move(b), flags);
}
Op op_symlink(std::string target, std::string p) {
    return make(Op::kSymlink, std::move(target), std::move(p));
}
Op op_chmod(std::string p, u32 mode) { return make(Op::kChmod, std::move(p), {}, 0, mode); }
Op op_chown(std::string p, u32 uid, u32 gid, int flags) {
    return make(Op::kChown, std::move(p), {}, flags, uid, gid);
}
Op op_truncate(std::string p, i64 len) {
    Op o = make(Op::kTruncate, std::move(p));
    o.num = len;
    return o;
}
Op op_stat(std::string p, int flags) { return make(Op::kStat, std::move(p), {}, flags); }
Op op_access(std::string p, int mode, int at_flags) {
    Op o = make(Op::kAccess, std::move(p), {}, mode);
    o.num = at_flags;
    return o;
}
Op op_readlink(std::string p) { return make(Op::kReadlink, std::move(p)); }
Op op_utimes(std::string p, i64 sec) {
    Op o = make(Op::kUtimes, std::move(p));
    o.num = sec;
    return o;
}
Op op_write(std::string p, std::string data, int flags) {
    return make(Op::kWrite, std::move(p), std::move(data), flags);
}

Op op_pwrite(std::string p, std::string data, i64 offset, int flags) {
    Op o = make(Op::kPwrite, std::move(p), std::move(data), flags);
    o.num = offset;
    return o;
}
Op op_fallocate(std::string p, int mode, i64 offset, u32 len) {
    Op o = make(Op::kFallocate, std::move(p), {}, mode, len);
    o.num = offset;
    return o;
}
Op op_seek(std::string p, i64 offset, int whence) {
    Op o = make(Op::kSeek, std::move(p), {}, whence);
    o.num = offset;
    return o;
}

// ---- HostCompare ----

std::string HostCompare::unavailable() {
    if (::geteuid() != 0) return "comparing with the host needs root (to act as several users)";
    // Our answers are those of Linux 6.6 and later (O_CREAT|O_DIRECTORY is
    // EINVAL since 6.4; tmpfs directory offsets are stable since 6.6).
    struct utsname u{};
    int major = 0, minor = 0;
    if (::uname(&u) != 0 || std::sscanf(u.release, "%d.%d", &major, &minor) != 2 ||
        major * 100 + minor < 606)
        return std::string("the host kernel (") + u.release + ") is older than Linux 6.6";
    struct statfs s{};
    if (::statfs("/dev/shm", &s) != 0 || static_cast<u64>(s.f_type) != kTmpfsMagic)
        return "comparing with the host needs a tmpfs at /dev/shm";
    return {};
}

HostCompare::HostCompare() : w_(512) {
    char tmpl[] = "/dev/shm/vkfs-XXXXXX";
    if (!::mkdtemp(tmpl)) {
        ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
        return;
    }
    base_ = tmpl;
    ::chmod(base_.c_str(), 0755);
    ::mkdir((base_ + "/w").c_str(), 0755);
    ::chmod((base_ + "/w").c_str(), 0755);
    // Ours: /t/w, the same modes and owners.
    w_.mkdir_ok("t");
    w_.mkdir_ok("t/w");
    fs_ = w_.fs;
    fs_.umask = 022;
    fs_.root = w_.path("t");
    fs_.cwd = w_.path("t/w");
}

HostCompare::~HostCompare() {
    if (!base_.empty()) {
        std::error_code ec;
        std::filesystem::remove_all(base_, ec);
    }
}

std::vector<std::string> HostCompare::run_host(const std::vector<Op>& ops, const Who& who) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return {"pipe: " + host_err()};
    const pid_t pid = ::fork();
    if (pid == 0) {
        // The child: only async-signal-safe-ish plain syscalls and _exit.
        ::close(p[0]);
        // Jailed in the base directory: no script can reach anything
        // outside it ("..", absolute symlinks), and ours is jailed alike.
        if (::chroot(base_.c_str()) != 0 || ::chdir("/w") != 0) ::_exit(10);
        ::umask(022);
        if (!who.root()) {
            if (::setgroups(who.groups.size(), who.groups.data()) != 0) ::_exit(11);
            if (::setresgid(who.gid, who.gid, who.gid) != 0) ::_exit(12);
            if (::setresuid(who.uid, who.uid, who.uid) != 0) ::_exit(13);
        }
        for (const Op& op : ops) {
            const std::string line = host_op(op) + "\n";
            if (::write(p[1], line.data(), line.size()) != static_cast<ssize_t>(line.size())) ::_exit(14);
        }
        ::_exit(0);
    }
    ::close(p[1]);
    std::string all;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(p[0], buf, sizeof buf)) > 0) all.append(buf, n);
    ::close(p[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        ADD_FAILURE() << "host child failed with status " << status;
    std::vector<std::string> out;
    std::istringstream in(all);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

std::vector<std::string> HostCompare::run_ours(const std::vector<Op>& ops, const Who& who) {
    const Credentials cred = creds_of(who);
    const Context ctx{fs_, cred};
    const Path& at = fs_.cwd;
    const Vfs& vfs = w_.vfs;
    std::vector<std::string> out;
    for (const Op& op : ops) {
        auto ok = [](const Result<void>& r) { return r ? std::string("OK") : ename(r.error().code); };
        std::string res;
        switch (op.kind) {
        case Op::kOpen: {
            auto f = vfs.open(ctx, at, op.a, op.flags, op.mode);
            res = f ? "OK fl=" + octal(static_cast<u32>((*f)->flags())) + " t=" +
                          octal((*f)->stat().mode & S_IFMT)
                    : ename(f.error().code);
            break;
        }
        case Op::kMkdir:
            res = ok(vfs.mkdir(ctx, at, op.a, op.mode));
            break;
        case Op::kMknod:
            res = ok(vfs.mknod(ctx, at, op.a, op.mode, static_cast<u64>(op.num)));
            break;
        case Op::kRmdir:
            res = ok(vfs.rmdir(ctx, at, op.a));
            break;
        case Op::kUnlink:
            res = ok(vfs.unlink(ctx, at, op.a));
            break;
        case Op::kRename:
            res = ok(vfs.rename(ctx, at, op.a, at, op.b, static_cast<u32>(op.flags)));
            break;
        case Op::kLink:
            res = ok(vfs.link(ctx, at, op.a, at, op.b, op.flags));
            break;
        case Op::kSymlink:
            res = ok(vfs.symlink(ctx, op.a, at, op.b));
            break;
        case Op::kChmod:
            res = ok(vfs.chmod(ctx, at, op.a, op.mode, op.flags));
            break;
        case Op::kChown:
            res = ok(vfs.chown(ctx, at, op.a, op.mode, op.gid, op.flags));
            break;
        case Op::kTruncate:
            res = ok(vfs.truncate(ctx, at, op.a, op.num));
            break;
        case Op::kStat: {
            auto s = vfs.stat(ctx, at, op.a, op.flags);
            res = s ? stat_line(s->mode, s->nlink, s->size, s->blocks, s->uid, s->gid)
                    : ename(s.error().code);
            break;
        }
        case Op::kAccess:
            res = ok(vfs.access(ctx, at, op.a, op.flags, static_cast<int>(op.num)));
            break;
        case Op::kReadlink: {
            auto l = vfs.readlink(ctx, at, op.a);
            res = l ? "OK " + *l : ename(l.error().code);
            break;
        }
        case Op::kUtimes: {
            const Timespec t[2] = {{op.num, 0}, {op.num, 0}};
            res = ok(vfs.utimens(ctx, at, op.a, op.num < 0 ? nullptr : t, 0));
            break;
        }
        case Op::kPwrite:
        case Op::kFallocate:
        case Op::kSeek: {
            const int oflags = op.kind == Op::kPwrite ? O_WRONLY | op.flags
                               : op.kind == Op::kSeek ? O_RDONLY : O_RDWR;
            auto f = vfs.open(ctx, at, op.a, oflags, 0644);
            if (!f) {
                res = ename(f.error().code);
                break;
            }
            File& file = **f;
            Result<i64> r = err(EINVAL);
            if (op.kind == Op::kPwrite) {
                auto n = file.pwrite(bytes(op.b), op.num);
                r = n ? Result<i64>(static_cast<i64>(*n)) : err(n.error().code);
            } else if (op.kind == Op::kFallocate) {
                auto n = file.allocate(op.flags, op.num, op.mode);
                r = n ? Result<i64>(0) : err(n.error().code);
            } else {
                r = file.lseek(op.num, op.flags);
            }
            const Stat st = file.stat();
            res = r ? "OK r=" + std::to_string(*r) + " size=" + std::to_string(st.size) +
                          " blocks=" + std::to_string(st.blocks)
                    : ename(r.error().code);
            break;
        }
        case Op::kWrite: {
            auto f = vfs.open(ctx, at, op.a, O_WRONLY | op.flags, 0644);
            if (!f) {
                res = ename(f.error().code);
                break;
            }
            auto n = (*f)->write(bytes(op.b));
            res = n ? "OK n=" + std::to_string(*n) + " size=" + std::to_string((*f)->stat().size)
                    : ename(n.error().code);
            break;
        }
        }
        out.push_back(res);
    }
    return out;
}

std::string HostCompare::tree_host() const {
    std::vector<std::string> lines;
    host_tree(base_, "", lines);
    std::sort(lines.begin(), lines.end());
    std::string s;
    for (auto& l : lines) s += l + "\n";
    return s;
}

std::string HostCompare::tree_ours() {
    std::vector<std::string> lines;
    const Credentials root = Credentials::root();
    const Context ctx{w_.fs, root};  // outside the scripts' jail
    std::vector<std::pair<std::string, std::string>> todo{{"/t", ""}};
    while (!todo.empty()) {
        auto [dir, rel] = todo.back();
        todo.pop_back();
        std::vector<std::string> names;
        auto f = w_.vfs.open(ctx, w_.fs.root, dir, O_RDONLY | O_DIRECTORY, 0);
        if (!f) continue;
        std::vector<std::byte> buf(8192);
        for (;;) {
            auto n = (*f)->getdents64(buf);
            if (!n || *n == 0) break;
            for (auto& d : parse_dirents(std::span(buf).first(*n)))
                if (d.name != "." && d.name != "..") names.push_back(d.name);
        }
        for (const std::string& n : names) {
            const std::string p = dir + "/" + n;
            auto s = w_.vfs.stat(ctx, w_.fs.root, p, AT_SYMLINK_NOFOLLOW);
            if (!s) continue;
            std::string line =
                rel + n + " " + stat_line(s->mode, s->nlink, s->size, s->blocks, s->uid, s->gid);
            if (S_ISLNK(s->mode)) line += " -> " + w_.vfs.readlink(ctx, w_.fs.root, p).value();
            lines.push_back(line);
            if (S_ISDIR(s->mode)) todo.emplace_back(p, rel + n + "/");
        }
    }
    std::sort(lines.begin(), lines.end());
    std::string s;
    for (auto& l : lines) s += l + "\n";
    return s;
}

bool HostCompare::same(const std::vector<Op>& setup, const std::vector<Op>& script, const Who& who) {
    bool same = true;
    auto compare = [&](const std::vector<Op>& ops, const Who& as, const char* phase) {
        const auto host = run_host(ops, as);
        const auto ours = run_ours(ops, as);
        std::string report;
        bool differ = host.size() != ours.size();
        for (size_t i = 0; i < ops.size(); ++i) {
            const std::string h = i < host.size() ? host[i] : "<missing>";
            const std::string o = i < ours.size() ? ours[i] : "<missing>";
            const bool d = h != o;
            differ |= d;
            report += (d ? "  ** " : "     ") + ops[i].describe() + "\n        host: " + h +
                      (d ? "\n        ours: " + o : "") + "\n";
        }
        if (std::getenv("VK_FS_COMPARE_VERBOSE")) std::printf("%s:\n%s", phase, report.c_str());
        if (differ) {
            ADD_FAILURE() << phase << " (uid " << as.uid << ") differs from the host:\n" << report;
            same = false;
        }
    };
    compare(setup, kAsRoot, "setup");
    compare(script, who, "script");
    const std::string th = tree_host(), to = tree_ours();
    if (th != to) {
        ADD_FAILURE() << "trees differ\nhost:\n" << th << "ours:\n" << to;
        same = false;
    }
    return same;
}

}  // namespace vk::fs::test
