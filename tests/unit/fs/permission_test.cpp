// Permission checks with simulated credentials: owner/group/other bits,
// supplementary groups, root's capability overrides, sticky directories,
// protected hard links, chmod/chown/utimensat rules, set-id clearing.

#include <sys/statvfs.h>

#include "fs_test_util.h"
#include "vkernel/fs/permission.h"

namespace vk::fs::test {
namespace {

const Credentials kRoot = Credentials::root();
const Credentials kOwner = Credentials::user(1000, 1000, {1000, 50});
const Credentials kGroupMember = Credentials::user(1001, 1001, {1001, 100});
const Credentials kOther = Credentials::user(1002, 1002);

struct PermissionTest : ::testing::Test {
    World w;
    void SetUp() override {
        ASSERT_TRUE(w.vfs.chmod(w.ctx(), w.cwd(), "/", 0777, 0));
    }
    // Makes `p` (a file unless dir) owned by 1000:100 with `mode`.
    void make(std::string_view p, u32 mode, bool dir = false) {
        if (dir)
            w.mkdir_ok(p);
        else
            w.write_file(p, "x");
        ASSERT_TRUE(w.vfs.chown(w.ctx(), w.cwd(), p, 1000, 100, 0));
        ASSERT_TRUE(w.vfs.chmod(w.ctx(), w.cwd(), p, mode, 0));
    }
    std::string check(const Credentials& c, std::string_view p, int mask) {
        return ename_of(permission(c, w.path(p).inode(), mask));
    }
    std::string access(const Credentials& c, std::string_view p, int mode) {
        return ename_of(w.vfs.access(w.ctx_as(c), w.cwd(), p, mode, 0));
    }
};

TEST_F(PermissionTest, ClassesOfBits) {
    make("f", 0640);
    EXPECT_EQ(check(kOwner, "f", kMayRead | kMayWrite), "OK");
    EXPECT_EQ(check(kOwner, "f", kMayExec), "EACCES");
    EXPECT_EQ(check(kGroupMember, "f", kMayRead), "OK");  // via a supplementary group
    EXPECT_EQ(check(kGroupMember, "f", kMayWrite), "EACCES");
    EXPECT_EQ(check(kOther, "f", kMayRead), "EACCES");
    // The owner class is used even when it grants less than the others.
    make("g", 0077);
    EXPECT_EQ(check(kOwner, "g", kMayRead), "EACCES");
    EXPECT_EQ(check(kOther, "g", kMayRead), "OK");
    EXPECT_EQ(check(kGroupMember, "g", kMayRead | kMayWrite | kMayExec), "OK");
}

TEST_F(PermissionTest, RootOverrides) {
    make("f", 0000);
    make("x", 0100);
    make("d", 0000, true);
    EXPECT_EQ(check(kRoot, "f", kMayRead | kMayWrite), "OK");
    EXPECT_EQ(check(kRoot, "f", kMayExec), "EACCES");  // no x bit anywhere
    EXPECT_EQ(check(kRoot, "x", kMayExec), "OK");       // one x bit is enough
    EXPECT_EQ(check(kRoot, "d", kMayRead | kMayWrite | kMayExec), "OK");
    // Capabilities, not uid 0, are what count.
    Credentials fake_root = Credentials::user(0, 0);
    EXPECT_EQ(check(fake_root, "f", kMayRead), "EACCES");
    Credentials reader = Credentials::user(7, 7);
    reader.caps = u64{1} << CAP_DAC_READ_SEARCH;
    EXPECT_EQ(check(reader, "f", kMayRead), "OK");
    EXPECT_EQ(check(reader, "f", kMayWrite), "EACCES");
    EXPECT_EQ(check(reader, "d", kMayRead | kMayExec), "OK");
    EXPECT_EQ(check(reader, "d", kMayWrite), "EACCES");
}

TEST_F(PermissionTest, AccessCall) {
    make("f", 0750);
    EXPECT_EQ(access(kOwner, "f", R_OK | W_OK | X_OK), "OK");
    EXPECT_EQ(access(kGroupMember, "f", R_OK | X_OK), "OK");
    EXPECT_EQ(access(kGroupMember, "f", W_OK), "EACCES");
    EXPECT_EQ(access(kOther, "f", F_OK), "OK");
    EXPECT_EQ(access(kOther, "f", R_OK), "EACCES");
    EXPECT_EQ(access(kOther, "nope", F_OK), "ENOENT");
    EXPECT_EQ(ename_of(w.vfs.access(w.ctx(), w.cwd(), "f", 8, 0)), "EINVAL");
    EXPECT_EQ(ename_of(w.vfs.access(w.ctx(), w.cwd(), "f", 0, 0x1)), "EINVAL");
    // Root: X_OK needs an x bit.
    make("plain", 0644);
    EXPECT_EQ(access(kRoot, "plain", X_OK), "EACCES");
    EXPECT_EQ(access(kRoot, "plain", R_OK | W_OK), "OK");
}

TEST_F(PermissionTest, CreatingAndRemovingNeedWriteAndSearchOnTheDirectory) {
    make("ro", 0555, true);
    w.write_file("ro/file", "x");
    const Context c = w.ctx_as(kOwner);
    EXPECT_EQ(ename_of(w.vfs.mkdir(c, w.cwd(), "ro/new", 0755)), "EACCES");
    EXPECT_EQ(ename_of(w.vfs.open(c, w.cwd(), "ro/new", O_CREAT | O_WRONLY, 0644)), "EACCES");
    EXPECT_EQ(ename_of(w.vfs.unlink(c, w.cwd(), "ro/file")), "EACCES");
    EXPECT_EQ(ename_of(w.vfs.unlink(c, w.cwd(), "ro/missing")), "ENOENT");
    EXPECT_EQ(ename_of(w.vfs.mkdir(c, w.cwd(), "ro/file", 0755)), "EEXIST");
    // Opening an existing file with O_CREAT needs no write on the directory.
    EXPECT_EQ(ename_of(w.vfs.open(c, w.cwd(), "ro/file", O_CREAT | O_RDONLY, 0644)), "OK");
    make("nox", 0666, true);
    EXPECT_EQ(ename_of(w.vfs.mkdir(c, w.cwd(), "nox/new", 0755)), "EACCES");
    EXPECT_EQ(ename_of(w.vfs.mkdir(c, w.cwd(), "nox/..", 0755)), "EACCES");
}

TEST_F(PermissionTest, StickyDirectories) {
    w.mkdir_ok("tmp");
    ASSERT_TRUE(w.vfs.chmod(w.ctx(), w.cwd(), "tmp", 01777, 0));
    const Context owner = w.ctx_as(kOwner), other = w.ctx_as(kOther);
    ASSERT_TRUE(w.vfs.open(owner, w.cwd(), "tmp/mine", O_CREAT | O_WRONLY, 0666));
    ASSERT_TRUE(w.vfs.mkdir(owner, w.cwd(), "tmp/mydir", 0777));
    EXPECT_EQ(ename_of(w.vfs.unlink(other, w.cwd(), "tmp/mine")), "EPERM");
    EXPECT_EQ(ename_of(w.vfs.rmdir(other, w.cwd(), "tmp/mydir")), "EPERM");
    EXPECT_EQ(ename_of(w.vfs.rename(other, w.cwd(), "tmp/mine", w.cwd(), "tmp/x", 0)), "EPERM");
    ASSERT_TRUE(w.vfs.open(other, w.cwd(), "tmp/theirs", O_CREAT | O_WRONLY, 0666));
    EXPECT_EQ(ename_of(w.vfs.rename(other, w.cwd(), "tmp/theirs", w.cwd(), "tmp/mine", 0)), "EPERM");
    // The file's owner and root may.
    EXPECT_EQ(ename_of(w.vfs.rename(owner, w.cwd(), "tmp/mine", w.cwd(), "tmp/mine2", 0)), "OK");
    EXPECT_EQ(ename_of(w.vfs.unlink(w.ctx(), w.cwd(), "tmp/theirs")), "OK");
    // The directory's owner may too.
    ASSERT_TRUE(w.vfs.chown(w.ctx(), w.cwd(), "tmp", 1002, 1002, 0));
    EXPECT_EQ(ename_of(w.vfs.unlink(other, w.cwd(), "tmp/mine2")), "OK");
}

TEST_F(PermissionTest, RenameAcrossDirectoriesNeedsWriteOnTheMovedDirectory) {
    make("src", 0777, true);
    make("dst", 0777, true);
    ASSERT_TRUE(w.vfs.mkdir(w.ctx(), w.cwd(), "src/rootdir", 0755));  // root's, not writable by 1002
    const Context other = w.ctx_as(kOther);
    EXPECT_EQ(ename_of(w.vfs.rename(other, w.cwd(), "src/rootdir", w.cwd(), "dst/rootdir", 0)),
              "EACCES");
    // Within one directory no ".." changes: fine.
    EXPECT_EQ(ename_of(w.vfs.rename(other, w.cwd(), "src/rootdir", w.cwd(), "src/renamed", 0)), "OK");
}

TEST_F(PermissionTest, ProtectedHardLinks) {
    make("mine", 0600);
    make("readable", 0644);
    make("open", 0666);
    make("suid", 04777);
    const Context other = w.ctx_as(kOther), owner = w.ctx_as(kOwner);
    EXPECT_EQ(ename_of(w.vfs.link(other, w.cwd(), "mine", w.cwd(), "l1", 0)), "EPERM");
    EXPECT_EQ(ename_of(w.vfs.link(other, w.cwd(), "readable", w.cwd(), "l2", 0)), "EPERM");
    EXPECT_EQ(ename_of(w.vfs.link(other, w.cwd(), "open", w.cwd(), "l3", 0)), "OK");
    EXPECT_EQ(ename_of(w.vfs.link(other, w.cwd(), "suid", w.cwd(), "l4", 0)), "EPERM");
    EXPECT_EQ(ename_of(w.vfs.link(owner, w.cwd(), "mine", w.cwd(), "l5", 0)), "OK");
    EXPECT_EQ(ename_of(w.vfs.link(w.ctx(), w.cwd(), "mine", w.cwd(), "l6", 0)), "OK");
}

TEST_F(PermissionTest, ChmodRules) {
    make("f", 0644);
    EXPECT_EQ(ename_of(w.vfs.chmod(w.ctx_as(kOther), w.cwd(), "f", 0777, 0)), "EPERM");
    EXPECT_EQ(ename_of(w.vfs.chmod(w.ctx_as(kOwner), w.cwd(), "f", 0600, 0)), "OK");
    // The owner is not in group 100: S_ISGID is dropped, S_ISUID kept.
    ASSERT_TRUE(w.vfs.chmod(w.ctx_as(kOwner), w.cwd(), "f", 06755, 0));
    EXPECT_EQ(w.stat_ok("f").mode & 07777, 04755u);
    ASSERT_TRUE(w.vfs.chown(w.ctx(), w.cwd(), "f", 1000, 50, 0));
    ASSERT_TRUE(w.vfs.chmod(w.ctx_as(kOwner), w.cwd(), "f", 06755, 0));
    EXPECT_EQ(w.stat_ok("f").mode & 07777, 06755u);
    // Only the permission bits change; the type stays.
    ASSERT_TRUE(w.vfs.chmod(w.ctx(), w.cwd(), "f", S_IFDIR | 0700, 0));
    EXPECT_EQ(w.stat_ok("f").mode, S_IFREG | 0700u);
    // On a symlink itself: EOPNOTSUPP; through it: the target.
    ASSERT_TRUE(w.vfs.symlink(w.ctx(), "f", w.cwd(), "l"));
    EXPECT_EQ(ename_of(w.vfs.chmod(w.ctx(), w.cwd(), "l", 0600, AT_SYMLINK_NOFOLLOW)), "EOPNOTSUPP");
    EXPECT_EQ(ename_of(w.vfs.chmod(w.ctx(), w.cwd(), "l", 0640, 0)), "OK");
    EXPECT_EQ(w.stat_ok("f").mode & 0777, 0640u);
}

TEST_F(PermissionTest, ChownRules) {
    make("f", 06755);
    const Context owner = w.ctx_as(kOwner);
    EXPECT_EQ(ename_of(w.vfs.chown(owner, w.cwd(), "f", 1001, ~0u, 0)), "EPERM");
    EXPECT_EQ(ename_of(w.vfs.chown(owner, w.cwd(), "f", 1000, ~0u, 0)), "OK");  // to itself
    EXPECT_EQ(ename_of(w.vfs.chown(owner, w.cwd(), "f", ~0u, 7, 0)), "EPERM");  // not a member
    EXPECT_EQ(ename_of(w.vfs.chown(owner, w.cwd(), "f", ~0u, 50, 0)), "OK");    // a member
    EXPECT_EQ(ename_of(w.vfs.chown(w.ctx_as(kOther), w.cwd(), "f", ~0u, 1002, 0)), "EPERM");
    EXPECT_EQ(ename_of(w.vfs.chown(w.ctx_as(kOther), w.cwd(), "f", 1000, ~0u, 0)), "EPERM");
    Stat s = w.stat_ok("f");
    EXPECT_EQ(s.uid, 1000u);
    EXPECT_EQ(s.gid, 50u);
    // Any chown of a non-directory drops S_ISUID, and S_ISGID when
    // group-executable — even root's, even with -1/-1.
    EXPECT_EQ(s.mode & 07777, 0755u);
    ASSERT_TRUE(w.vfs.chmod(w.ctx(), w.cwd(), "f", 06744, 0));  // S_ISGID without group x
    ASSERT_TRUE(w.vfs.chown(w.ctx(), w.cwd(), "f", ~0u, ~0u, 0));
    EXPECT_EQ(w.stat_ok("f").mode & 07777, 02744u);
    // Directories keep them.
    make("d", 06755, true);
    ASSERT_TRUE(w.vfs.chown(w.ctx(), w.cwd(), "d", 5, 5, 0));
    EXPECT_EQ(w.stat_ok("d").mode & 07777, 06755u);
    // AT_SYMLINK_NOFOLLOW changes the link.
    ASSERT_TRUE(w.vfs.symlink(w.ctx(), "f", w.cwd(), "l"));
    ASSERT_TRUE(w.vfs.chown(w.ctx(), w.cwd(), "l", 9, 9, AT_SYMLINK_NOFOLLOW));
    EXPECT_EQ(w.stat_ok("l", AT_SYMLINK_NOFOLLOW).uid, 9u);
    EXPECT_EQ(w.stat_ok("f").uid, 1000u);
    EXPECT_EQ(ename_of(w.vfs.chown(w.ctx(), w.cwd(), "f", 1, 1, 0x2)), "EINVAL");
}

TEST_F(PermissionTest, UtimensRules) {
    make("f", 0666);
    make("ro", 0644);
    const Timespec explicit_t[2] = {{1, 0}, {2, 0}};
    const Timespec now_omit[2] = {{0, kUtimeNow}, {0, kUtimeOmit}};
    const Timespec both_now[2] = {{0, kUtimeNow}, {0, kUtimeNow}};
    const Context other = w.ctx_as(kOther);
    // "Now" needs write permission; anything else ownership.
    EXPECT_EQ(ename_of(w.vfs.utimens(other, w.cwd(), "f", nullptr, 0)), "OK");
    EXPECT_EQ(ename_of(w.vfs.utimens(other, w.cwd(), "f", both_now, 0)), "OK");
    EXPECT_EQ(ename_of(w.vfs.utimens(other, w.cwd(), "f", explicit_t, 0)), "EPERM");
    EXPECT_EQ(ename_of(w.vfs.utimens(other, w.cwd(), "f", now_omit, 0)), "EPERM");
    EXPECT_EQ(ename_of(w.vfs.utimens(other, w.cwd(), "ro", nullptr, 0)), "EACCES");
    EXPECT_EQ(ename_of(w.vfs.utimens(w.ctx_as(kOwner), w.cwd(), "ro", explicit_t, 0)), "OK");
    EXPECT_EQ(ename_of(w.vfs.utimens(w.ctx(), w.cwd(), "ro", explicit_t, 0)), "OK");
}

TEST_F(PermissionTest, WritesDropSetIdBitsOfOthers) {
    make("prog", 06775);
    ASSERT_TRUE(w.vfs.chown(w.ctx(), w.cwd(), "prog", 1000, 50, 0));
    ASSERT_TRUE(w.vfs.chmod(w.ctx(), w.cwd(), "prog", 06777, 0));
    // Root writes keep them (CAP_FSETID).
    auto r = w.open_ok("prog", O_WRONLY);
    ASSERT_TRUE(r->write(bytes("x")));
    EXPECT_EQ(w.stat_ok("prog").mode & 07777, 06777u);
    // Another user's write drops both (the file is group-executable).
    auto f = w.vfs.open(w.ctx_as(kOther), w.cwd(), "prog", O_WRONLY, 0);
    ASSERT_TRUE(f);
    ASSERT_TRUE((*f)->write(bytes("y")));
    EXPECT_EQ(w.stat_ok("prog").mode & 07777, 0777u);
    // Without group execute, S_ISGID stays for group members.
    ASSERT_TRUE(w.vfs.chmod(w.ctx(), w.cwd(), "prog", 06767, 0));
    auto g = w.vfs.open(w.ctx_as(kOwner), w.cwd(), "prog", O_WRONLY, 0);
    ASSERT_TRUE((*g)->truncate(0));
    EXPECT_EQ(w.stat_ok("prog").mode & 07777, 02767u);
    // Zero-length writes change nothing.
    ASSERT_TRUE(w.vfs.chmod(w.ctx(), w.cwd(), "prog", 04777, 0));
    ASSERT_TRUE((*f)->write({}));
    EXPECT_EQ(w.stat_ok("prog").mode & 07777, 04777u);
}

TEST_F(PermissionTest, ReadOnlyMounts) {
    w.mkdir_ok("ro");
    auto t = Tmpfs::create(w.frames);
    ASSERT_TRUE(w.vfs.mount(w.ctx(), w.cwd(), "ro", t, 0, "tmpfs"));
    w.write_file("ro/f", "x");
    w.mkdir_ok("ro/d");
    ASSERT_TRUE(w.vfs.remount(w.ctx(), w.cwd(), "ro", MS_RDONLY));
    EXPECT_EQ(ename_of(w.open("ro/f", O_WRONLY)), "EROFS");
    EXPECT_EQ(ename_of(w.open("ro/f", O_RDONLY)), "OK");
    EXPECT_EQ(ename_of(w.open("ro/new", O_CREAT | O_WRONLY)), "EROFS");
    EXPECT_EQ(ename_of(w.open("ro/f", O_CREAT | O_RDONLY)), "OK");
    EXPECT_EQ(ename_of(w.vfs.mkdir(w.ctx(), w.cwd(), "ro/d", 0755)), "EEXIST");  // before EROFS
    EXPECT_EQ(ename_of(w.vfs.mkdir(w.ctx(), w.cwd(), "ro/e", 0755)), "EROFS");
    EXPECT_EQ(ename_of(w.vfs.unlink(w.ctx(), w.cwd(), "ro/f")), "EROFS");
    EXPECT_EQ(ename_of(w.vfs.unlink(w.ctx(), w.cwd(), "ro/missing")), "EROFS");
    EXPECT_EQ(ename_of(w.vfs.rmdir(w.ctx(), w.cwd(), "ro/d")), "EROFS");
    EXPECT_EQ(ename_of(w.vfs.rename(w.ctx(), w.cwd(), "ro/f", w.cwd(), "ro/g", 0)), "EROFS");
    EXPECT_EQ(ename_of(w.vfs.chmod(w.ctx(), w.cwd(), "ro/f", 0, 0)), "EROFS");
    EXPECT_EQ(ename_of(w.vfs.chown(w.ctx(), w.cwd(), "ro/f", 1, 1, 0)), "EROFS");
    EXPECT_EQ(ename_of(w.vfs.utimens(w.ctx(), w.cwd(), "ro/f", nullptr, 0)), "EROFS");
    EXPECT_EQ(ename_of(w.vfs.truncate(w.ctx(), w.cwd(), "ro/f", 0)), "EROFS");
    EXPECT_EQ(ename_of(w.vfs.symlink(w.ctx(), "x", w.cwd(), "ro/l")), "EROFS");
    EXPECT_EQ(ename_of(w.vfs.access(w.ctx(), w.cwd(), "ro/f", W_OK, 0)), "EROFS");
    EXPECT_EQ(ename_of(w.vfs.access(w.ctx(), w.cwd(), "ro/f", R_OK, 0)), "OK");
    EXPECT_EQ(ename_of(w.open("ro", O_TMPFILE | O_RDWR)), "EROFS");
    EXPECT_EQ(w.vfs.statfs(w.ctx(), w.cwd(), "ro").value().flags & ST_RDONLY, ST_RDONLY + 0u);
}

TEST_F(PermissionTest, NoExecAndNoDevMounts) {
    w.mkdir_ok("m");
    auto t = Tmpfs::create(w.frames);
    ASSERT_TRUE(w.vfs.mount(w.ctx(), w.cwd(), "m", t, MS_NOEXEC | MS_NODEV, "tmpfs"));
    w.write_file("m/prog", "#!", 0755);
    w.write_file("prog", "#!", 0755);
    ASSERT_TRUE(w.vfs.mknod(w.ctx(), w.cwd(), "m/null", S_IFCHR | 0666, 0x103));
    EXPECT_EQ(ename_of(w.vfs.may_exec(w.ctx(), w.path("m/prog"))), "EACCES");
    EXPECT_EQ(ename_of(w.vfs.may_exec(w.ctx(), w.path("prog"))), "OK");
    EXPECT_EQ(ename_of(w.vfs.may_exec(w.ctx(), w.path("m"))), "EACCES");
    EXPECT_EQ(ename_of(w.open("m/null", O_RDWR)), "EACCES");
    w.write_file("noexec", "x", 0644);
    EXPECT_EQ(ename_of(w.vfs.may_exec(w.ctx(), w.path("noexec"))), "EACCES");
    EXPECT_EQ(ename_of(w.vfs.may_exec(w.ctx_as(kOther), w.path("prog"))), "OK");
}

}  // namespace
}  // namespace vk::fs::test
