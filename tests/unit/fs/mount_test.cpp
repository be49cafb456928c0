// Mounts: crossing in both directions, EXDEV, EBUSY, bind mounts,
// stacked mounts, umount (lazy and not), /proc/mounts view.

#include "fs_test_util.h"

namespace vk::fs::test {
namespace {

struct MountTest : ::testing::Test {
    World w;
    std::shared_ptr<Tmpfs> other;
    void SetUp() override {
        other = Tmpfs::create(w.frames);
        w.mkdir_ok("mnt");
        w.write_file("mnt/hidden", "under");
        ASSERT_TRUE(w.vfs.mount(w.ctx(), w.cwd(), "mnt", other, 0, "tmpfs"));
        w.write_file("mnt/file", "on top");
        w.mkdir_ok("mnt/sub");
    }
    std::string name(std::string_view p) {
        auto r = w.vfs.resolve(w.ctx(), w.cwd(), p, kLookupFollow);
        return r ? w.vfs.path_name(*r, w.fs.root) : ename_of(r);
    }
};

TEST_F(MountTest, CrossingDownAndUp) {
    EXPECT_EQ(w.read_file("mnt/file"), "on top");
    EXPECT_EQ(ename_of(w.stat("mnt/hidden")), "ENOENT");
    EXPECT_EQ(w.stat_ok("mnt").dev, other->dev());
    EXPECT_NE(w.stat_ok("mnt").dev, w.stat_ok("/").dev);
    EXPECT_EQ(name("mnt/sub/../.."), "/");
    EXPECT_EQ(name("mnt/.."), "/");
    EXPECT_EQ(name("mnt/sub/../file"), "/mnt/file");
    ASSERT_TRUE(w.vfs.chdir(w.ctx(), w.cwd(), "mnt/sub", w.fs));
    EXPECT_EQ(w.vfs.getcwd(w.fs).value(), "/mnt/sub");
    EXPECT_EQ(name("../../mnt"), "/mnt");
    EXPECT_NE(w.stat_ok("../../mnt").mount_id, w.stat_ok("/").mount_id);
}

TEST_F(MountTest, ChangesAcrossMountsAreExdev) {
    w.write_file("rootfile", "x");
    EXPECT_EQ(ename_of(w.vfs.rename(w.ctx(), w.cwd(), "rootfile", w.cwd(), "mnt/rootfile", 0)), "EXDEV");
    EXPECT_EQ(ename_of(w.vfs.link(w.ctx(), w.cwd(), "rootfile", w.cwd(), "mnt/l", 0)), "EXDEV");
    EXPECT_EQ(ename_of(w.vfs.rename(w.ctx(), w.cwd(), "mnt/file", w.cwd(), "file", 0)), "EXDEV");
    // A bind mount of the same filesystem is still another mount.
    w.mkdir_ok("bind");
    ASSERT_TRUE(w.vfs.bind_mount(w.ctx(), w.cwd(), "mnt", w.cwd(), "bind", false));
    EXPECT_EQ(w.read_file("bind/file"), "on top");
    EXPECT_EQ(ename_of(w.vfs.link(w.ctx(), w.cwd(), "mnt/file", w.cwd(), "bind/l", 0)), "EXDEV");
    EXPECT_EQ(ename_of(w.vfs.link(w.ctx(), w.cwd(), "bind/file", w.cwd(), "bind/l", 0)), "OK");
    EXPECT_EQ(w.stat_ok("mnt/l").nlink, 2u);
}

TEST_F(MountTest, MountPointsAreBusy) {
    EXPECT_EQ(ename_of(w.vfs.rmdir(w.ctx(), w.cwd(), "mnt")), "EBUSY");
    EXPECT_EQ(ename_of(w.vfs.rename(w.ctx(), w.cwd(), "mnt", w.cwd(), "moved", 0)), "EBUSY");
    w.mkdir_ok("empty");
    EXPECT_EQ(ename_of(w.vfs.rename(w.ctx(), w.cwd(), "empty", w.cwd(), "mnt", 0)), "EBUSY");
    // A directory containing a mount point can move; the mount moves along.
    w.mkdir_ok("outer");
    w.mkdir_ok("outer/point");
    ASSERT_TRUE(w.vfs.mount(w.ctx(), w.cwd(), "outer/point", Tmpfs::create(w.frames), 0, "tmpfs"));
    w.write_file("outer/point/f", "inner");
    ASSERT_TRUE(w.vfs.rename(w.ctx(), w.cwd(), "outer", w.cwd(), "outer2", 0));
    EXPECT_EQ(w.read_file("outer2/point/f"), "inner");
    bool found = false;
    for (const MountInfo& m : w.vfs.mounts()) found |= m.mountpoint == "/outer2/point";
    EXPECT_TRUE(found);
}

TEST_F(MountTest, UmountBusyAndLazy) {
    auto f = w.open_ok("mnt/file", O_RDONLY);
    EXPECT_EQ(ename_of(w.vfs.umount(w.ctx(), w.cwd(), "mnt", 0)), "EBUSY");
    f.reset();
    FsContext inside = w.fs;
    ASSERT_TRUE(w.vfs.chdir(w.ctx(), w.cwd(), "mnt/sub", inside));
    EXPECT_EQ(ename_of(w.vfs.umount(w.ctx(), w.cwd(), "mnt", 0)), "EBUSY");
    // MNT_DETACH: gone from the namespace now, alive for whoever is inside.
    ASSERT_TRUE(w.vfs.umount(w.ctx(), w.cwd(), "mnt", MNT_DETACH));
    EXPECT_EQ(w.read_file("mnt/hidden"), "under");
    const Context ic{inside, w.cred};
    auto r = w.vfs.open(ic, inside.cwd, "../file", O_RDONLY, 0);
    ASSERT_TRUE(r);
    EXPECT_EQ(ename_of(w.vfs.getcwd(inside)), "OK");
    EXPECT_EQ(w.vfs.getcwd(inside).value(), "(unreachable)/sub");
    // ".." at the root of a detached tree stays there.
    EXPECT_EQ(w.vfs.path_name(w.vfs.resolve(ic, inside.cwd, "../..", 0).value(), inside.root),
              "/");
}

TEST_F(MountTest, UmountErrors) {
    EXPECT_EQ(ename_of(w.vfs.umount(w.ctx(), w.cwd(), "mnt/sub", 0)), "EINVAL");  // not a mount root
    EXPECT_EQ(ename_of(w.vfs.umount(w.ctx(), w.cwd(), "nothing", 0)), "ENOENT");
    EXPECT_EQ(ename_of(w.vfs.umount(w.ctx(), w.cwd(), "/", 0)), "EBUSY");
    EXPECT_EQ(ename_of(w.vfs.umount(w.ctx(), w.cwd(), "mnt", 0x100)), "EINVAL");
    EXPECT_EQ(ename_of(w.vfs.umount(w.ctx_as(Credentials::user(1, 1)), w.cwd(), "mnt", 0)), "EPERM");
    EXPECT_EQ(ename_of(w.vfs.mount(w.ctx_as(Credentials::user(1, 1)), w.cwd(), "mnt",
                                   Tmpfs::create(w.frames), 0, "tmpfs")),
              "EPERM");
    w.write_file("plain", "");
    EXPECT_EQ(ename_of(w.vfs.mount(w.ctx(), w.cwd(), "plain", Tmpfs::create(w.frames), 0, "tmpfs")),
              "ENOTDIR");
    // Something mounted below: EBUSY, unless lazily.
    ASSERT_TRUE(w.vfs.mount(w.ctx(), w.cwd(), "mnt/sub", Tmpfs::create(w.frames), 0, "tmpfs"));
    EXPECT_EQ(ename_of(w.vfs.umount(w.ctx(), w.cwd(), "mnt", 0)), "EBUSY");
    ASSERT_TRUE(w.vfs.umount(w.ctx(), w.cwd(), "mnt/sub", 0));
    ASSERT_TRUE(w.vfs.umount(w.ctx(), w.cwd(), "mnt", 0));
    EXPECT_EQ(w.read_file("mnt/hidden"), "under");
    EXPECT_EQ(w.vfs.mounts().size(), 1u);
}

TEST_F(MountTest, StackedMounts) {
    auto third = Tmpfs::create(w.frames);
    ASSERT_TRUE(w.vfs.mount(w.ctx(), w.cwd(), "mnt", third, 0, "third"));
    EXPECT_EQ(ename_of(w.stat("mnt/file")), "ENOENT");
    w.write_file("mnt/top", "3");
    EXPECT_EQ(name("mnt/.."), "/");
    ASSERT_TRUE(w.vfs.umount(w.ctx(), w.cwd(), "mnt", 0));  // the top one
    EXPECT_EQ(w.read_file("mnt/file"), "on top");
    ASSERT_TRUE(w.vfs.umount(w.ctx(), w.cwd(), "mnt", 0));
    EXPECT_EQ(w.read_file("mnt/hidden"), "under");
}

TEST_F(MountTest, BindMountsOfSubtreesAndFiles) {
    w.mkdir_ok("mnt/sub/deep");
    w.write_file("mnt/sub/deep/f", "deep");
    w.mkdir_ok("view");
    ASSERT_TRUE(w.vfs.bind_mount(w.ctx(), w.cwd(), "mnt/sub", w.cwd(), "view", false));
    EXPECT_EQ(w.read_file("view/deep/f"), "deep");
    EXPECT_EQ(name("view/.."), "/");  // ".." leaves the bind mount at its mount point
    // Changes show in both places.
    w.write_file("view/new", "n");
    EXPECT_EQ(w.read_file("mnt/sub/new"), "n");
    // A file onto a file; a directory onto a file is ENOTDIR.
    w.write_file("target", "t");
    ASSERT_TRUE(w.vfs.bind_mount(w.ctx(), w.cwd(), "mnt/file", w.cwd(), "target", false));
    EXPECT_EQ(w.read_file("target"), "on top");
    EXPECT_EQ(ename_of(w.vfs.bind_mount(w.ctx(), w.cwd(), "mnt/sub", w.cwd(), "mnt/file", false)),
              "ENOTDIR");
    // Recursive binds take the mounts below along.
    ASSERT_TRUE(w.vfs.mount(w.ctx(), w.cwd(), "mnt/sub/deep", Tmpfs::create(w.frames), 0, "tmpfs"));
    w.write_file("mnt/sub/deep/g", "g");
    w.mkdir_ok("rview");
    w.mkdir_ok("flat");
    ASSERT_TRUE(w.vfs.bind_mount(w.ctx(), w.cwd(), "mnt", w.cwd(), "rview", true));
    ASSERT_TRUE(w.vfs.bind_mount(w.ctx(), w.cwd(), "mnt", w.cwd(), "flat", false));
    EXPECT_EQ(w.read_file("rview/sub/deep/g"), "g");
    EXPECT_EQ(w.read_file("flat/sub/deep/f"), "deep");
}

TEST_F(MountTest, MountsListForProc) {
    w.mkdir_ok("mnt/sub/x");
    ASSERT_TRUE(w.vfs.mount(w.ctx(), w.cwd(), "mnt/sub/x", Tmpfs::create(w.frames), MS_RDONLY | MS_NOSUID,
                            "none"));
    auto list = w.vfs.mounts();
    ASSERT_EQ(list.size(), 3u);
    EXPECT_EQ(list[0].mountpoint, "/");
    EXPECT_EQ(list[0].source, "tmpfs");
    EXPECT_EQ(list[1].mountpoint, "/mnt");
    EXPECT_EQ(list[2].mountpoint, "/mnt/sub/x");
    EXPECT_EQ(list[2].type, "tmpfs");
    EXPECT_EQ(list[2].source, "none");
    EXPECT_EQ(list[2].flags, static_cast<u64>(MS_RDONLY | MS_NOSUID));
    EXPECT_NE(list[1].mount->id(), list[2].mount->id());
    // A remount changes the flags; only the root of a mount can be remounted.
    ASSERT_TRUE(w.vfs.remount(w.ctx(), w.cwd(), "mnt/sub/x", 0));
    EXPECT_EQ(w.vfs.mounts()[2].flags, 0u);
    EXPECT_EQ(ename_of(w.vfs.remount(w.ctx(), w.cwd(), "mnt/sub", MS_RDONLY)), "EINVAL");
}

TEST_F(MountTest, ChrootInsideAMount) {
    FsContext jail = w.fs;
    ASSERT_TRUE(w.vfs.chroot(w.ctx(), w.cwd(), "mnt/sub", jail));
    jail.cwd = jail.root;
    const Context jc{jail, w.cred};
    auto p = w.vfs.resolve(jc, jail.cwd, "../../..", 0);
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, jail.root);
}

}  // namespace
}  // namespace vk::fs::test
