// Scripts of corner cases, and random scripts, run on the host kernel's
// tmpfs and on ours: every errno and every resulting tree must match.

#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/sysmacros.h>

#include <cstdlib>
#include <fstream>
#include <random>

#include "host_compare.h"

namespace vk::fs::test {
namespace {

#define SKIP_WITHOUT_HOST()                                             \
    do {                                                                \
        const std::string why = HostCompare::unavailable();             \
        if (!why.empty()) GTEST_SKIP() << why;                          \
    } while (0)

const Who kUser{1000, 1000, {1000, 2000}};

// How many random scripts each random test runs: VK_FS_FUZZ_SCRIPTS, or 150.
u32 script_count() {
    const char* v = std::getenv("VK_FS_FUZZ_SCRIPTS");
    return v ? static_cast<u32>(std::strtoul(v, nullptr, 10)) : 150;
}

int sysctl(const char* path) {
    std::ifstream in(path);
    int v = -1;
    in >> v;
    return v;
}

TEST(HostCompare, RenameCorners) {
    SKIP_WITHOUT_HOST();
    HostCompare hc;
    const std::vector<Op> setup = {
        op_mkdir("d"), op_mkdir("d/sub"), op_mkdir("e"), op_mkdir("full"),
        op_write("full/x", "x", O_CREAT), op_write("a", "A", O_CREAT), op_write("b", "BB", O_CREAT),
        op_symlink("a", "l"), op_symlink("nowhere", "dangling"), op_symlink("d", "ld"),
        op_link("a", "a2"),
    };
    const std::vector<Op> script = {
        op_rename("a", "a2"),  // two names of one inode: nothing happens
        op_stat("a"), op_stat("a2"),
        op_rename("a", "d"), op_rename("d", "a"), op_rename("d", "e"), op_rename("e", "full"),
        op_rename("e", "e/sub/x"), op_rename("e", "e/sub"), op_rename("e/sub", "e"),
        op_rename("e/sub", "ld"), op_rename("ld", "e/sub"), op_rename("a", "c/"), op_rename("a/", "c"),
        op_rename("e/", "z/"), op_rename("z/", "e"), op_rename(".", "x"), op_rename("a", "."),
        op_rename("a", ".."), op_rename("a", "..", RENAME_NOREPLACE),
        op_rename("missing", "x"), op_rename("a", "missing/x"), op_rename("a", "b/x"),
        op_rename("l", "b"), op_stat("b", AT_SYMLINK_NOFOLLOW), op_rename("dangling", "a2"),
        op_rename("a", "a2", RENAME_NOREPLACE), op_rename("a", "new", RENAME_NOREPLACE),
        op_rename("new", "full", RENAME_EXCHANGE), op_stat("full"), op_stat("new"),
        op_rename("new", "nope", RENAME_EXCHANGE), op_rename("new", "e/sub/", RENAME_EXCHANGE),
        op_rename("full", "a2/", RENAME_EXCHANGE), op_rename("e", "e/sub", RENAME_EXCHANGE),
        op_rename("e/sub", "e", RENAME_EXCHANGE), op_rename("a2", "full", RENAME_EXCHANGE),
        op_rename("a2", "full", RENAME_EXCHANGE | RENAME_NOREPLACE), op_rename("e", "e"),
        op_rename("e/sub", "e/sub/"), op_rename("a2", "a2/"), op_rename("", "x"),
        op_rename("e", ""), op_rename("full", "e", 0x40),
    };
    hc.same(setup, script, kAsRoot);
}

TEST(HostCompare, UnlinkRmdirMkdirCorners) {
    SKIP_WITHOUT_HOST();
    HostCompare hc;
    const std::vector<Op> setup = {
        op_mkdir("d"), op_mkdir("d/sub"), op_write("f", "f", O_CREAT), op_symlink("d", "ld"),
        op_symlink("f", "lf"), op_mknod("fifo", S_IFIFO | 0644),
        op_mknod("chr", S_IFCHR | 0600, static_cast<i64>(makedev(1, 7))),
    };
    const std::vector<Op> script = {
        op_unlink("d"), op_unlink("d/"), op_unlink("f/"), op_unlink("missing/"), op_unlink("ld/"),
        op_unlink("lf/"), op_unlink("."), op_unlink(".."), op_unlink("d/."), op_unlink("/"),
        op_rmdir("f"), op_rmdir("d"), op_rmdir("."), op_rmdir(".."), op_rmdir("d/sub/.."),
        op_rmdir("/"), op_rmdir("ld"), op_rmdir("ld/"), op_rmdir("missing"), op_rmdir("f/"),
        op_rmdir("d/sub/"), op_rmdir("d//"), op_mkdir("d"), op_mkdir("f"), op_mkdir("lf"),
        op_mkdir("ld"), op_mkdir("ld/"), op_mkdir("new/"), op_mkdir("new2//"), op_mkdir("."),
        op_mkdir(".."), op_mkdir("missing/x"), op_mkdir("f/x"), op_mkdir(std::string(256, 'n')),
        op_mkdir(std::string(255, 'n')), op_mkdir("s", 07777), op_stat("s"), op_mkdir(""),
        op_unlink("fifo"), op_stat("chr"), op_unlink("chr"), op_unlink("lf"), op_stat("f"),
        op_unlink(""), op_symlink("x", "new"), op_symlink("x", "sym/"), op_symlink("", "sym"),
        op_symlink("x", ""), op_symlink(std::string(4095, 'x'), "longtarget"),
        op_stat("longtarget", AT_SYMLINK_NOFOLLOW), op_readlink("longtarget"),
        op_symlink(std::string(4096, 'x'), "toolong"), op_link("f", "new/"), op_link("f", "f2/"),
        op_link("f", "."), op_link("new", "newlink"), op_stat("newlink", AT_SYMLINK_NOFOLLOW),
        op_link("new", "followed", AT_SYMLINK_FOLLOW), op_link("d", "dlink"), op_link("f/", "x"),
        op_mknod("p2", S_IFIFO | 0600), op_mknod("p2", S_IFIFO | 0600), op_mknod("dirnode", S_IFDIR | 0700),
        op_mknod("bad", 0160000 | 0600), op_mknod("plain", 0640), op_stat("plain"),
        op_mknod("plain2", S_IFREG | 0640), op_mknod("sock", S_IFSOCK | 0600), op_stat("sock"),
    };
    hc.same(setup, script, kAsRoot);
}

TEST(HostCompare, OpenFlagMatrix) {
    SKIP_WITHOUT_HOST();
    HostCompare hc;
    const std::vector<Op> setup = {
        op_mkdir("d"), op_write("f", "0123456789", O_CREAT), op_symlink("f", "lf"),
        op_symlink("d", "ld"), op_symlink("d/new", "dangling"), op_symlink("loop", "loop"),
    };
    const std::vector<std::string> targets = {
        "f", "d", "lf", "ld", "dangling", "loop", "missing", "f/", "d/", "ld/", "lf/", "missing/",
        ".", "d/.", "d/..", "f/.", "/",
    };
    const std::vector<int> flag_sets = {
        O_RDONLY, O_WRONLY, O_RDWR, O_ACCMODE, O_RDONLY | O_TRUNC, O_WRONLY | O_TRUNC,
        O_RDONLY | O_DIRECTORY, O_RDONLY | O_NOFOLLOW, O_DIRECTORY | O_NOFOLLOW,
        O_PATH, O_PATH | O_NOFOLLOW, O_PATH | O_DIRECTORY | O_NOFOLLOW, O_PATH | O_WRONLY | O_CREAT,
        O_WRONLY | O_APPEND | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, O_RDWR | O_SYNC | O_NOATIME,
        O_CREAT | O_DIRECTORY, O_TMPFILE | O_RDONLY, O_TMPFILE | O_WRONLY,
        O_TMPFILE | O_RDWR | O_EXCL, (O_TMPFILE & ~O_DIRECTORY) | O_RDWR,
        // Creating ones last: they change what the earlier ones see next round.
        O_CREAT | O_RDONLY | O_NOFOLLOW, O_CREAT | O_EXCL | O_WRONLY, O_CREAT | O_WRONLY,
    };
    std::vector<Op> script;
    for (int flags : flag_sets)
        for (const std::string& t : targets) script.push_back(op_open(t, flags, 0640));
    script.push_back(op_stat("d/new"));
    script.push_back(op_open(std::string(255, 'x'), O_CREAT | O_WRONLY));
    script.push_back(op_open(std::string(256, 'x'), O_CREAT | O_WRONLY));
    script.push_back(op_open(std::string(4094, '/') + "f", O_RDONLY));
    script.push_back(op_open(std::string(4095, '/') + "f", O_RDONLY));
    script.push_back(op_open("", O_RDONLY));
    script.push_back(op_open("", O_CREAT | O_WRONLY));
    hc.same(setup, script, kAsRoot);
}

TEST(HostCompare, SymlinkChainsAndLoops) {
    SKIP_WITHOUT_HOST();
    HostCompare hc;
    std::vector<Op> setup = {op_mkdir("d"), op_write("d/f", "x", O_CREAT), op_symlink("d", "s40")};
    for (int i = 39; i >= 0; --i)
        setup.push_back(op_symlink("s" + std::to_string(i + 1), "s" + std::to_string(i)));
    setup.push_back(op_symlink("a", "b"));
    setup.push_back(op_symlink("b", "a"));
    setup.push_back(op_symlink("self/x", "self"));
    setup.push_back(op_symlink("d/", "dslash"));
    setup.push_back(op_symlink("d/f/", "fslash"));
    setup.push_back(op_symlink("../w/d/f", "updown"));
    setup.push_back(op_symlink(".", "dot"));
    setup.push_back(op_symlink("..", "dotdot"));
    const std::vector<Op> script = {
        op_stat("s1"), op_stat("s1/f"), op_stat("s0"), op_stat("s0/f"), op_stat("s0", AT_SYMLINK_NOFOLLOW),
        op_stat("s1/"), op_open("s1/new", O_CREAT | O_WRONLY), op_open("s0/new2", O_CREAT | O_WRONLY),
        op_stat("a"), op_stat("a/x"), op_open("a", O_CREAT | O_WRONLY), op_open("a", O_RDONLY | O_NOFOLLOW),
        op_stat("self"), op_readlink("self"), op_stat("dslash"), op_stat("dslash/f"), op_stat("fslash"),
        op_open("fslash", O_CREAT | O_WRONLY), op_stat("updown"), op_stat("dot/dot/dot/d/f"),
        op_stat("dotdot/w/d"), op_access("dotdot/w/s1", F_OK), op_access("s0", F_OK),
        op_access("s0", F_OK, AT_SYMLINK_NOFOLLOW), op_readlink("s0"), op_readlink("s0/"),
        op_readlink("d"), op_readlink("missing"), op_mkdir("s1/sub"), op_mkdir("s0/sub"),
        op_unlink("s0"), op_rename("s1", "s0"), op_stat("s0"), op_chmod("s40", 0700), op_stat("d"),
        op_truncate("s1/f", 3), op_stat("d/f"), op_link("s1", "hl", AT_SYMLINK_FOLLOW),
        op_link("s2", "hl2", AT_SYMLINK_FOLLOW), op_stat("hl"), op_stat("hl2", AT_SYMLINK_NOFOLLOW),
    };
    hc.same(setup, script, kAsRoot);
}

TEST(HostCompare, TruncateWriteAndSizes) {
    SKIP_WITHOUT_HOST();
    HostCompare hc;
    const std::vector<Op> setup = {op_write("f", std::string(10000, 'x'), O_CREAT), op_mkdir("d")};
    const std::vector<Op> script = {
        op_stat("f"), op_truncate("f", 5000), op_stat("f"), op_truncate("f", 100000), op_stat("f"),
        op_truncate("f", -1), op_truncate("d", 0), op_truncate("missing", 0), op_truncate("f/", 0),
        op_write("f", "tail", O_APPEND), op_stat("f"), op_write("f", "head", 0), op_stat("f"),
        op_write("f", "t", O_TRUNC), op_stat("f"), op_write("d", "x", 0), op_write("new", "x", 0),
        op_write("new", std::string(3 * 4096 + 1, 'y'), O_CREAT), op_stat("new"), op_stat("d"),
        op_truncate("new", 4096), op_stat("new"), op_truncate("new", 0), op_stat("new"),
    };
    hc.same(setup, script, kAsRoot);
}

TEST(HostCompare, SparseFilesFallocateAndSeek) {
    SKIP_WITHOUT_HOST();
    HostCompare hc;
    const std::vector<Op> setup = {op_write("f", "", O_CREAT), op_mkdir("d"), op_write("ro", "r", O_CREAT),
                                   op_chmod("ro", 0444)};
    const std::vector<Op> script = {
        op_pwrite("f", "x", 5 * 4096 + 10), op_stat("f"), op_pwrite("f", "y", 4096 * 2 - 1),
        op_seek("f", 0, SEEK_DATA), op_seek("f", 0, SEEK_HOLE), op_seek("f", 4096, SEEK_DATA),
        op_seek("f", 8191, SEEK_HOLE), op_seek("f", 8192, SEEK_HOLE), op_seek("f", 3 * 4096, SEEK_DATA),
        op_seek("f", 5 * 4096 + 10, SEEK_HOLE), op_seek("f", 5 * 4096 + 11, SEEK_DATA),
        op_seek("f", 5 * 4096 + 11, SEEK_HOLE), op_seek("f", -1, SEEK_DATA), op_seek("f", -1, SEEK_SET),
        op_seek("f", 10, SEEK_END), op_seek("f", -100000, SEEK_END), op_seek("f", 0, 5),
        op_seek("d", 0, SEEK_END), op_seek("d", 3, SEEK_SET), op_seek("d", -1, SEEK_CUR),
        op_fallocate("f", 0, 0, 4096), op_fallocate("f", 0, 100000, 10), op_stat("f"),
        op_fallocate("f", FALLOC_FL_KEEP_SIZE, 200000, 8192), op_stat("f"),
        op_seek("f", 100000, SEEK_DATA), op_seek("f", 99000, SEEK_HOLE),
        op_fallocate("f", FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4000, 9000), op_stat("f"),
        op_fallocate("f", FALLOC_FL_PUNCH_HOLE, 0, 1), op_fallocate("f", FALLOC_FL_ZERO_RANGE, 0, 1),
        op_fallocate("f", FALLOC_FL_COLLAPSE_RANGE, 0, 4096), op_fallocate("f", 0, -1, 1),
        op_fallocate("f", 0, 0, 0), op_fallocate("f", 0x1000, 0, 1), op_fallocate("d", 0, 0, 1),
        op_fallocate("f", 0, 0x7fffffffffffff00, 0x1000), op_fallocate("f", 0, 0x7ffffffffffff000, 0xfff),
        op_pwrite("f", "z", -1), op_pwrite("f", "z", 0x7fffffffffffffff), op_pwrite("f", "a", 0, O_APPEND),
        op_stat("f"), op_truncate("f", 4096 * 3 + 1), op_stat("f"), op_seek("f", 0, SEEK_DATA),
        op_fallocate("ro", 0, 0, 1), op_pwrite("ro", "w", 0),
    };
    hc.same(setup, script, kAsRoot);
}

TEST(HostCompare, PermissionsAsAnotherUser) {
    SKIP_WITHOUT_HOST();
    if (sysctl("/proc/sys/fs/protected_hardlinks") != 1)
        GTEST_SKIP() << "the host's fs.protected_hardlinks is not 1 (ours behaves as 1)";
    HostCompare hc;
    const std::vector<Op> setup = {
        op_chmod(".", 0777),
        op_write("rootfile", "r", O_CREAT), op_chmod("rootfile", 0644),
        op_write("secret", "s", O_CREAT), op_chmod("secret", 0600),
        op_write("groupw", "g", O_CREAT), op_chown("groupw", 0, 2000), op_chmod("groupw", 0664),
        op_write("mine", "m", O_CREAT), op_chown("mine", 1000, 1000), op_chmod("mine", 0600),
        op_write("noperm", "n", O_CREAT), op_chown("noperm", 1000, 1000), op_chmod("noperm", 0),
        op_write("exec", "e", O_CREAT), op_chmod("exec", 0711),
        op_mkdir("ro", 0755), op_write("ro/inner", "i", O_CREAT),
        op_mkdir("nox", 0766), op_write("nox/inner", "i", O_CREAT),
        op_mkdir("wx", 0733), op_write("wx/inner", "i", O_CREAT),
        op_mkdir("own", 0700), op_chown("own", 1000, 1000), op_mkdir("own/rootsub"),
        op_mkdir("sgid", 02777), op_chown("sgid", 0, 3000),
        op_symlink("secret", "lsecret"), op_symlink("nox/inner", "lnox"),
        op_write("suid", "x", O_CREAT), op_chmod("suid", 06777),
    };
    const std::vector<Op> script = {
        op_open("rootfile", O_RDONLY), op_open("rootfile", O_WRONLY), op_open("rootfile", O_RDONLY | O_TRUNC),
        op_open("secret", O_RDONLY), op_open("lsecret", O_RDONLY), op_open("lsecret", O_PATH),
        op_open("groupw", O_RDWR), op_open("mine", O_RDWR), op_open("noperm", O_RDONLY),
        op_open("noperm", O_PATH), op_open("mine", O_RDONLY | O_NOATIME), op_open("rootfile", O_RDONLY | O_NOATIME),
        op_access("rootfile", R_OK), op_access("rootfile", W_OK), op_access("exec", X_OK),
        op_access("exec", R_OK), op_access("groupw", W_OK), op_access("noperm", R_OK | W_OK),
        op_access("nox/inner", F_OK), op_access("lnox", F_OK), op_access("lnox", F_OK, AT_SYMLINK_NOFOLLOW),
        op_stat("nox/inner"), op_stat("nox"), op_stat("wx/inner"), op_open("wx/new", O_CREAT | O_WRONLY),
        op_unlink("wx/inner"), op_open("ro/new", O_CREAT | O_WRONLY), op_open("ro/inner", O_CREAT | O_RDONLY),
        op_unlink("ro/inner"), op_unlink("ro/missing"), op_mkdir("ro/inner"), op_mkdir("ro/x"),
        op_rename("ro/inner", "stolen"), op_rename("mine", "ro/mine"), op_rename("mine", "mine2"),
        op_rename("own", "own2"), op_rename("own2/rootsub", "rootsub"), op_rmdir("own2/rootsub"),
        op_unlink("rootfile"), op_chmod("rootfile", 0777), op_chmod("mine2", 0640),
        op_chmod("mine2", 02755), op_stat("mine2"), op_chown("mine2", 1000, 2000), op_stat("mine2"),
        op_chown("mine2", 1000, 3000), op_chown("mine2", 0, 1000), op_chown("rootfile", 1000, 1000),
        op_chown("mine2", -1, -1), op_utimes("mine2", 12345), op_utimes("rootfile", 12345),
        op_utimes("rootfile", -1), op_utimes("groupw", -1), op_utimes("groupw", 1),
        op_truncate("rootfile", 0), op_truncate("groupw", 1), op_stat("groupw"),
        op_link("secret", "hsecret"), op_link("groupw", "hgroupw"), op_link("mine2", "hmine"),
        op_link("suid", "hsuid"), op_link("exec", "hexec"),
        op_open("sgid/f", O_CREAT | O_WRONLY, 02755), op_stat("sgid/f"), op_mkdir("sgid/d", 0777),
        op_stat("sgid/d"), op_write("suid", "w", 0), op_stat("suid"),
        op_mknod("p", S_IFIFO | 0644), op_mknod("c", S_IFCHR | 0644), op_stat("p"),
        op_open(".", O_TMPFILE | O_RDWR), op_open("ro", O_TMPFILE | O_RDWR),
    };
    hc.same(setup, script, kUser);
}

TEST(HostCompare, StickyDirectories) {
    SKIP_WITHOUT_HOST();
    if (sysctl("/proc/sys/fs/protected_regular") != 0 || sysctl("/proc/sys/fs/protected_symlinks") != 0)
        GTEST_SKIP() << "the host protects files in sticky directories (fs.protected_regular or "
                        "fs.protected_symlinks); ours does not";
    HostCompare hc;
    const std::vector<Op> setup = {
        op_chmod(".", 01777), op_write("rootfile", "r", O_CREAT), op_chmod("rootfile", 0666),
        op_write("userfile", "u", O_CREAT), op_chown("userfile", 1000, 1000),
        op_mkdir("rootdir", 0777), op_mkdir("sticky", 01777), op_chown("sticky", 1000, 1000),
        op_write("sticky/rootfile", "r", O_CREAT),
    };
    const std::vector<Op> script = {
        op_unlink("rootfile"), op_rename("rootfile", "x"), op_rmdir("rootdir"),
        op_rename("userfile", "rootfile"), op_unlink("userfile"), op_open("rootfile", O_WRONLY),
        op_unlink("sticky/rootfile"),  // the directory is ours
        op_open("mine", O_CREAT | O_WRONLY), op_rename("mine", "rootdir/mine"),
    };
    hc.same(setup, script, kUser);
}

// ---- Random scripts ----

class ScriptGen {
public:
    // `sticky`: may make sticky directories (not for other users' scripts:
    // hosts with fs.protected_regular or fs.protected_symlinks set treat
    // those specially, and ours does not).
    ScriptGen(u32 seed, bool sticky) : rng_(seed), sticky_(sticky) {}
    std::vector<Op> make(int n) {
        std::vector<Op> ops;
        for (int i = 0; i < n; ++i) ops.push_back(one());
        return ops;
    }

private:
    std::string name() {
        static const char* names[] = {"a", "b", "c", "d", "d/e", "d/f", "d/e/g", "l1", "l2", "d/l3", "x/y"};
        return names[pick(std::size(names))];
    }
    std::string path() {
        std::string n = name();
        switch (pick(10)) {
        case 0: return n + "/";
        case 1: return n + "/.";
        case 2: return "./" + n;
        case 3: return "d/../" + n;
        case 4: return n + "//";
        default: return n;
        }
    }
    std::string target() {
        // Scripts run jailed (chroot) on both sides, so ".." and absolute
        // targets stay inside.
        static const char* t[] = {"a", "b", "d", "d/e", "l1", "l2", "missing", "../w/a", ".", "..",
                                  "d/", "a/", "l1/x", "e", "../w/d/f", "/w/a", "/", "/w/d/",
                                  "../../..", "/w/l2"};
        return t[pick(std::size(t))];
    }
    u32 mode() {
        static const u32 m[] = {0777, 0755, 0700, 0644, 0600, 0400, 0, 02755, 04755, 0711, 01777};
        return m[pick(std::size(m) - (sticky_ ? 0 : 1))];
    }
    u32 id() {
        static const u32 ids[] = {0, 1000, 2000, ~0u};
        return ids[pick(std::size(ids))];
    }
    int open_flags() {
        static const int f[] = {O_RDONLY, O_WRONLY, O_RDWR, O_CREAT | O_WRONLY, O_CREAT | O_EXCL | O_RDWR,
                                O_TRUNC | O_WRONLY, O_DIRECTORY, O_NOFOLLOW, O_PATH, O_PATH | O_NOFOLLOW,
                                O_CREAT | O_NOFOLLOW | O_RDWR, O_APPEND | O_WRONLY, O_TMPFILE | O_RDWR,
                                O_CREAT | O_TRUNC | O_RDWR, O_DIRECTORY | O_NOFOLLOW};
        return f[pick(std::size(f))];
    }
    Op one() {
        switch (pick(17)) {
        case 16: return op_chown(path(), id(), id(), pick(2) ? AT_SYMLINK_NOFOLLOW : 0);
        case 0: case 1: return op_open(path(), open_flags(), mode());
        case 2: case 3: return op_mkdir(path(), mode());
        case 4: return op_rmdir(path());
        case 5: return op_unlink(path());
        case 6: {
            static const int rf[] = {0, 0, 0, RENAME_NOREPLACE, RENAME_EXCHANGE};
            return op_rename(path(), path(), rf[pick(5)]);
        }
        case 7: return op_link(path(), path(), pick(2) ? AT_SYMLINK_FOLLOW : 0);
        case 8: return op_symlink(target(), path());
        case 9: return op_chmod(path(), mode());
        case 10: return op_truncate(path(), static_cast<i64>(pick(3)) * 3000);
        case 11: return op_stat(path(), pick(2) ? AT_SYMLINK_NOFOLLOW : 0);
        case 12: return op_access(path(), static_cast<int>(pick(8)), pick(2) ? AT_SYMLINK_NOFOLLOW : 0);
        case 13: return op_readlink(path());
        case 14: return op_write(path(), std::string(pick(3) * 2500 + 1, 'w'),
                                 pick(2) ? O_APPEND : (pick(2) ? O_CREAT : O_TRUNC));
        default: return op_utimes(path(), pick(2) ? -1 : 777);
        }
    }
    u32 pick(size_t n) { return static_cast<u32>(rng_() % n); }
    std::mt19937 rng_;
    bool sticky_;
};

TEST(HostCompare, RandomScriptsAsRoot) {
    SKIP_WITHOUT_HOST();
    for (u32 seed = 1; seed <= script_count(); ++seed) {
        HostCompare hc;
        ScriptGen gen(seed, true);
        if (!hc.same({op_mkdir("d"), op_write("a", "a", O_CREAT)}, gen.make(30), kAsRoot)) {
            ADD_FAILURE() << "seed " << seed;
            break;
        }
    }
}

TEST(HostCompare, RandomScriptsAsUser) {
    SKIP_WITHOUT_HOST();
    if (sysctl("/proc/sys/fs/protected_hardlinks") != 1)
        GTEST_SKIP() << "the host's fs.protected_hardlinks is not 1 (ours behaves as 1)";
    for (u32 seed = 100000; seed < 100000 + script_count(); ++seed) {
        HostCompare hc;
        ScriptGen gen(seed, false);
        const std::vector<Op> setup = {
            op_chown(".", 1000, 1000), op_mkdir("d", 0777), op_mkdir("d/e", 0755),
            op_write("a", "a", O_CREAT), op_write("b", "b", O_CREAT), op_chown("b", 1000, 2000),
            op_symlink("d/e", "l1"), op_mkdir("x", 0711), op_write("x/y", "y", O_CREAT),
        };
        if (!hc.same(setup, gen.make(30), kUser)) {
            ADD_FAILURE() << "seed " << seed;
            break;
        }
    }
}

}  // namespace
}  // namespace vk::fs::test
