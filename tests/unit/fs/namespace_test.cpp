// Namespace changes on tmpfs: link counts, inode numbers, directory sizes,
// rename in all its forms, and the time stamps each call touches.

#include <linux/fs.h>

#include <set>

#include "fs_test_util.h"

namespace vk::fs::test {
namespace {

struct NamespaceTest : ::testing::Test {
    World w;
    std::string rename(std::string_view a, std::string_view b, u32 flags = 0) {
        return ename_of(w.vfs.rename(w.ctx(), w.cwd(), a, w.cwd(), b, flags));
    }
    std::string unlink(std::string_view p) { return ename_of(w.vfs.unlink(w.ctx(), w.cwd(), p)); }
    std::string rmdir(std::string_view p) { return ename_of(w.vfs.rmdir(w.ctx(), w.cwd(), p)); }
    std::string mkdir(std::string_view p) { return ename_of(w.vfs.mkdir(w.ctx(), w.cwd(), p, 0755)); }
    std::string link(std::string_view a, std::string_view b, int flags = 0) {
        return ename_of(w.vfs.link(w.ctx(), w.cwd(), a, w.cwd(), b, flags));
    }
    // Sets the times of `p` far in the past so that a change shows.
    void age(std::string_view p) {
        const Timespec t[2] = {{1000, 0}, {1000, 0}};
        ASSERT_TRUE(w.vfs.utimens(w.ctx(), w.cwd(), p, t, AT_SYMLINK_NOFOLLOW));
    }
    static constexpr Timespec kOld{1000, 0};
};

TEST_F(NamespaceTest, DirectoryLinkCountsAndSizes) {
    Stat root = w.stat_ok("/");
    EXPECT_EQ(root.nlink, 2u);
    EXPECT_EQ(root.size, 2 * kTmpfsDirentSize);
    EXPECT_EQ(mkdir("d"), "OK");
    EXPECT_EQ(mkdir("d/e"), "OK");
    EXPECT_EQ(mkdir("d/f"), "OK");
    w.write_file("d/file", "x");
    EXPECT_EQ(w.stat_ok("/").nlink, 3u);
    EXPECT_EQ(w.stat_ok("d").nlink, 4u);  // 2 + two subdirectories
    EXPECT_EQ(w.stat_ok("d").size, 5 * kTmpfsDirentSize);
    EXPECT_EQ(w.stat_ok("d/e").nlink, 2u);
    EXPECT_EQ(rename("d/e", "e2"), "OK");
    EXPECT_EQ(w.stat_ok("d").nlink, 3u);
    EXPECT_EQ(w.stat_ok("/").nlink, 4u);
    EXPECT_EQ(rmdir("d/f"), "OK");
    EXPECT_EQ(w.stat_ok("d").nlink, 2u);
    EXPECT_EQ(w.stat_ok("d").size, 3 * kTmpfsDirentSize);
    EXPECT_EQ(mkdir("d"), "EEXIST");
    EXPECT_EQ(rmdir("d"), "ENOTEMPTY");
    EXPECT_EQ(rmdir("d/file"), "ENOTDIR");
    EXPECT_EQ(unlink("d"), "EISDIR");
    EXPECT_EQ(rmdir("."), "EINVAL");
    EXPECT_EQ(rmdir("d/.."), "ENOTEMPTY");
    EXPECT_EQ(rmdir("/"), "EBUSY");
    EXPECT_EQ(unlink("d/."), "EISDIR");
    EXPECT_EQ(mkdir("d/."), "EEXIST");
    EXPECT_EQ(mkdir("/"), "EEXIST");
}

TEST_F(NamespaceTest, HardLinks) {
    w.write_file("a", "shared");
    EXPECT_EQ(link("a", "b"), "OK");
    EXPECT_EQ(link("a", "b"), "EEXIST");
    EXPECT_EQ(w.stat_ok("a").nlink, 2u);
    EXPECT_EQ(w.stat_ok("a").ino, w.stat_ok("b").ino);
    EXPECT_EQ(w.read_file("b"), "shared");
    EXPECT_EQ(unlink("a"), "OK");
    EXPECT_EQ(w.stat_ok("b").nlink, 1u);
    EXPECT_EQ(w.read_file("b"), "shared");
    EXPECT_EQ(mkdir("dir"), "OK");
    EXPECT_EQ(link("dir", "dir2"), "EPERM");
    EXPECT_EQ(link("missing", "x"), "ENOENT");
    EXPECT_EQ(link("b", "dir/"), "EEXIST");
    EXPECT_EQ(link("b", "newname/"), "ENOENT");
    EXPECT_EQ(link("b/", "x"), "ENOTDIR");
    // A link to a symlink is a link to the symlink, unless AT_SYMLINK_FOLLOW.
    ASSERT_TRUE(w.vfs.symlink(w.ctx(), "b", w.cwd(), "sl"));
    EXPECT_EQ(link("sl", "sl2"), "OK");
    EXPECT_TRUE(S_ISLNK(w.stat_ok("sl2", AT_SYMLINK_NOFOLLOW).mode));
    EXPECT_EQ(link("sl", "b2", AT_SYMLINK_FOLLOW), "OK");
    EXPECT_EQ(w.stat_ok("b2", AT_SYMLINK_NOFOLLOW).ino, w.stat_ok("b").ino);
    EXPECT_EQ(w.stat_ok("b").nlink, 2u);
    EXPECT_EQ(link("b", "x", 0x1), "EINVAL");
}

TEST_F(NamespaceTest, InodeNumbersAreUniqueAndNotReused) {
    std::set<u64> seen{w.stat_ok("/").ino};
    for (int i = 0; i < 50; ++i) {
        const std::string n = "n" + std::to_string(i);
        if (i % 3 == 0)
            mkdir(n);
        else
            w.write_file(n, "");
        const u64 ino = w.stat_ok(n).ino;
        EXPECT_TRUE(seen.insert(ino).second) << n;
        if (i % 2) {
            if (i % 3 == 0)
                rmdir(n);
            else
                unlink(n);
        }
    }
    EXPECT_EQ(w.stat_ok("/").dev, w.stat_ok("n0").dev);
    EXPECT_EQ(w.stat_ok("/").dev, w.tmpfs->dev());
}

TEST_F(NamespaceTest, RenameFiles) {
    w.write_file("a", "A");
    w.write_file("b", "B");
    EXPECT_EQ(rename("a", "b"), "OK");  // replaces
    EXPECT_EQ(w.read_file("b"), "A");
    EXPECT_EQ(ename_of(w.stat("a")), "ENOENT");
    EXPECT_EQ(rename("b", "b"), "OK");
    EXPECT_EQ(rename("missing", "x"), "ENOENT");
    mkdir("d");
    EXPECT_EQ(rename("b", "d"), "EISDIR");
    EXPECT_EQ(rename("d", "b"), "ENOTDIR");
    EXPECT_EQ(rename("b", "c/"), "ENOTDIR");
    EXPECT_EQ(rename("b/", "c"), "ENOTDIR");
    EXPECT_EQ(rename("b", "d/b"), "OK");
    EXPECT_EQ(w.read_file("d/b"), "A");
    EXPECT_EQ(rename(".", "x"), "EBUSY");
    EXPECT_EQ(rename("d/b", "."), "EBUSY");
    EXPECT_EQ(rename("d/b", "..", RENAME_NOREPLACE), "EEXIST");
    EXPECT_EQ(rename("d/b", "/"), "EBUSY");
}

TEST_F(NamespaceTest, RenameHardLinksOfOneInodeIsANoOp) {
    w.write_file("a", "A");
    ASSERT_EQ(link("a", "b"), "OK");
    EXPECT_EQ(rename("a", "b"), "OK");
    // Both names remain, as POSIX says.
    EXPECT_TRUE(w.stat("a"));
    EXPECT_EQ(w.stat_ok("b").nlink, 2u);
}

TEST_F(NamespaceTest, RenameDirectories) {
    mkdir("d");
    mkdir("d/sub");
    mkdir("e");
    mkdir("full");
    w.write_file("full/x", "");
    EXPECT_EQ(rename("d", "e"), "OK");  // over an empty directory
    EXPECT_TRUE(w.stat("e/sub"));
    EXPECT_EQ(rename("e", "full"), "ENOTEMPTY");
    EXPECT_EQ(rename("e", "e/sub/inside"), "EINVAL");  // into itself
    EXPECT_EQ(rename("e", "e/sub"), "EINVAL");
    EXPECT_EQ(rename("e/sub", "e"), "ENOTEMPTY");  // the target is an ancestor
    EXPECT_EQ(rename("e/sub", "e/sub/x"), "EINVAL");
    EXPECT_EQ(rename("e/", "moved/"), "OK");  // trailing slashes are fine for directories
    EXPECT_EQ(w.stat_ok("moved").nlink, 3u);
    mkdir("moved/sub/deeper");
    EXPECT_EQ(rename("moved/sub/deeper", "deeper"), "OK");
    EXPECT_EQ(w.stat_ok("moved/sub").nlink, 2u);
    EXPECT_EQ(w.stat_ok("/").nlink, 5u);  // moved, full, deeper + 2
    // A directory held open keeps working after being replaced (and is dead).
    mkdir("victim");
    auto open_dir = w.open_ok("victim", O_RDONLY | O_DIRECTORY);
    EXPECT_EQ(rename("deeper", "victim"), "OK");
    EXPECT_EQ(open_dir->stat().nlink, 0u);
    EXPECT_EQ(ename_of(w.vfs.mkdir(w.ctx(), open_dir->path(), "x", 0755)), "ENOENT");
}

TEST_F(NamespaceTest, RenameNoReplaceAndExchange) {
    w.write_file("a", "A");
    w.write_file("b", "B");
    mkdir("d");
    w.write_file("d/inside", "I");
    EXPECT_EQ(rename("a", "b", RENAME_NOREPLACE), "EEXIST");
    EXPECT_EQ(rename("a", "c", RENAME_NOREPLACE), "OK");
    EXPECT_EQ(rename("c", "a"), "OK");
    EXPECT_EQ(rename("a", "b", RENAME_NOREPLACE | RENAME_EXCHANGE), "EINVAL");
    EXPECT_EQ(rename("a", "nope", RENAME_EXCHANGE), "ENOENT");
    EXPECT_EQ(rename("a", "b", 0x100), "EINVAL");
    EXPECT_EQ(rename("a", "b", RENAME_EXCHANGE), "OK");
    EXPECT_EQ(w.read_file("a"), "B");
    EXPECT_EQ(w.read_file("b"), "A");
    // File and directory swap places; link counts follow the directory.
    mkdir("other");
    EXPECT_EQ(rename("a", "d", RENAME_EXCHANGE), "OK");
    EXPECT_EQ(w.read_file("d"), "B");
    EXPECT_EQ(w.read_file("a/inside"), "I");
    EXPECT_EQ(rename("a", "other/f", RENAME_EXCHANGE), "ENOENT");
    w.write_file("other/f", "F");
    EXPECT_EQ(rename("a", "other/f", RENAME_EXCHANGE), "OK");
    EXPECT_EQ(w.stat_ok("other").nlink, 3u);
    EXPECT_EQ(w.read_file("other/f/inside"), "I");
    EXPECT_EQ(w.read_file("a"), "F");
    EXPECT_EQ(rename("other", "other/f", RENAME_EXCHANGE), "EINVAL");
    EXPECT_EQ(rename("other/f", "other", RENAME_EXCHANGE), "EINVAL");
    // Dentries swap too: an open directory moved with it.
    auto f = w.open_ok("other/f", O_RDONLY | O_DIRECTORY);
    EXPECT_EQ(rename("a", "other/f", RENAME_EXCHANGE), "OK");
    EXPECT_EQ(w.vfs.path_name(f->path(), w.fs.root), "/a");
}

TEST_F(NamespaceTest, UnlinkedFilesStayOpen) {
    w.write_file("gone", "still here");
    auto f = w.open_ok("gone", O_RDWR);
    EXPECT_EQ(unlink("gone"), "OK");
    EXPECT_EQ(unlink("gone"), "ENOENT");
    EXPECT_EQ(f->stat().nlink, 0u);
    std::vector<std::byte> buf(32);
    EXPECT_EQ(f->pread(buf, 0).value(), 10u);
    ASSERT_TRUE(f->write(bytes("more")));
    // A new file of the same name is another inode.
    w.write_file("gone", "new");
    EXPECT_NE(w.stat_ok("gone").ino, f->stat().ino);
    EXPECT_EQ(unlink("gone/"), "ENOTDIR");
    mkdir("dd");
    EXPECT_EQ(unlink("dd/"), "EISDIR");
    EXPECT_EQ(unlink("nothere/"), "ENOENT");
}

TEST_F(NamespaceTest, SymlinkCreation) {
    EXPECT_EQ(ename_of(w.vfs.symlink(w.ctx(), "target", w.cwd(), "l")), "OK");
    Stat s = w.stat_ok("l", AT_SYMLINK_NOFOLLOW);
    EXPECT_EQ(s.mode, S_IFLNK | 0777u);
    EXPECT_EQ(s.size, 6u);
    EXPECT_EQ(s.blocks, 0u);
    EXPECT_EQ(ename_of(w.vfs.symlink(w.ctx(), "target", w.cwd(), "l")), "EEXIST");
    EXPECT_EQ(ename_of(w.vfs.symlink(w.ctx(), "t", w.cwd(), "new/")), "ENOENT");
    EXPECT_EQ(ename_of(w.vfs.symlink(w.ctx(), std::string(4096, 'x'), w.cwd(), "x")), "ENAMETOOLONG");
    EXPECT_EQ(ename_of(w.vfs.symlink(w.ctx(), std::string(4095, 'x'), w.cwd(), "long")), "OK");
    EXPECT_EQ(w.stat_ok("long", AT_SYMLINK_NOFOLLOW).blocks, 8u);
    EXPECT_EQ(w.vfs.readlink(w.ctx(), w.cwd(), "long").value().size(), 4095u);
    // A symlink can be unlinked and renamed like a file; rmdir refuses it.
    EXPECT_EQ(rmdir("l"), "ENOTDIR");
    EXPECT_EQ(rename("l", "l2"), "OK");
    EXPECT_EQ(unlink("l2"), "OK");
}

TEST_F(NamespaceTest, TimeStamps) {
    // age() sets atime and mtime far back (and ctime to now); a change of
    // ctime shows as a later value than the one before the call.
    auto ctime = [&](std::string_view p) { return w.stat_ok(p, AT_SYMLINK_NOFOLLOW).ctime; };
    mkdir("d");
    w.write_file("d/f", "x");
    age("d");
    age("d/f");
    // Creating in a directory: its mtime and ctime move, atime does not.
    Timespec c0 = ctime("d");
    w.write_file("d/g", "");
    Stat d = w.stat_ok("d");
    EXPECT_GT(d.mtime, kOld);
    EXPECT_GT(d.ctime, c0);
    EXPECT_EQ(d.atime, kOld);
    // link: the inode's ctime and the directory's mtime/ctime.
    age("d");
    c0 = ctime("d/f");
    ASSERT_EQ(link("d/f", "d/f2"), "OK");
    EXPECT_GT(ctime("d/f"), c0);
    EXPECT_EQ(w.stat_ok("d/f").mtime, kOld);
    EXPECT_GT(w.stat_ok("d").mtime, kOld);
    // unlink: the same.
    age("d");
    age("d/f");
    c0 = ctime("d/f");
    ASSERT_EQ(unlink("d/f2"), "OK");
    EXPECT_GT(ctime("d/f"), c0);
    EXPECT_EQ(w.stat_ok("d/f").mtime, kOld);
    EXPECT_GT(w.stat_ok("d").mtime, kOld);
    // rename: both directories and the moved inode's ctime.
    mkdir("e");
    age("d");
    age("e");
    age("d/f");
    c0 = ctime("d/f");
    ASSERT_EQ(rename("d/f", "e/f"), "OK");
    EXPECT_GT(w.stat_ok("d").mtime, kOld);
    EXPECT_GT(w.stat_ok("e").mtime, kOld);
    EXPECT_GT(ctime("e/f"), c0);
    EXPECT_EQ(w.stat_ok("e/f").mtime, kOld);
    // chmod, chown: ctime only.
    c0 = ctime("e/f");
    ASSERT_TRUE(w.vfs.chmod(w.ctx(), w.cwd(), "e/f", 0600, 0));
    EXPECT_GT(ctime("e/f"), c0);
    EXPECT_EQ(w.stat_ok("e/f").mtime, kOld);
    c0 = ctime("e/f");
    ASSERT_TRUE(w.vfs.chown(w.ctx(), w.cwd(), "e/f", 5, 5, 0));
    EXPECT_GT(ctime("e/f"), c0);
    EXPECT_EQ(w.stat_ok("e/f").atime, kOld);
    // Reading a symlink touches only its atime.
    ASSERT_TRUE(w.vfs.symlink(w.ctx(), "f", w.cwd(), "e/l"));
    age("e/l");
    c0 = ctime("e/l");
    ASSERT_TRUE(w.vfs.readlink(w.ctx(), w.cwd(), "e/l"));
    EXPECT_GT(w.stat_ok("e/l", AT_SYMLINK_NOFOLLOW).atime, kOld);
    EXPECT_EQ(ctime("e/l"), c0);
    // utimensat sets what it is given, UTIME_NOW, UTIME_OMIT.
    const Timespec t[2] = {{5, 6}, {7, 8}};
    ASSERT_TRUE(w.vfs.utimens(w.ctx(), w.cwd(), "e/f", t, 0));
    EXPECT_EQ(w.stat_ok("e/f").atime, (Timespec{5, 6}));
    EXPECT_EQ(w.stat_ok("e/f").mtime, (Timespec{7, 8}));
    const Timespec t2[2] = {{0, kUtimeOmit}, {0, kUtimeNow}};
    ASSERT_TRUE(w.vfs.utimens(w.ctx(), w.cwd(), "e/f", t2, 0));
    EXPECT_EQ(w.stat_ok("e/f").atime, (Timespec{5, 6}));
    EXPECT_GT(w.stat_ok("e/f").mtime, (Timespec{7, 8}));
    c0 = ctime("e/f");
    const Timespec omit[2] = {{0, kUtimeOmit}, {0, kUtimeOmit}};
    ASSERT_TRUE(w.vfs.utimens(w.ctx(), w.cwd(), "e/f", omit, 0));
    EXPECT_EQ(ctime("e/f"), c0);  // nothing at all changes
    const Timespec bad[2] = {{0, 1'000'000'000}, {0, 0}};
    EXPECT_EQ(ename_of(w.vfs.utimens(w.ctx(), w.cwd(), "e/f", bad, 0)), "EINVAL");
    EXPECT_EQ(ename_of(w.vfs.utimens(w.ctx(), w.cwd(), "missing", bad, 0)), "EINVAL");
}

TEST_F(NamespaceTest, TruncateByPath) {
    w.write_file("f", "123456");
    age("f");
    // truncate(2) to the same size changes nothing; another size stamps mtime/ctime.
    ASSERT_TRUE(w.vfs.truncate(w.ctx(), w.cwd(), "f", 6));
    EXPECT_EQ(w.stat_ok("f").mtime, kOld);
    ASSERT_TRUE(w.vfs.truncate(w.ctx(), w.cwd(), "f", 2));
    EXPECT_GT(w.stat_ok("f").mtime, kOld);
    EXPECT_EQ(w.read_file("f"), "12");
    EXPECT_EQ(ename_of(w.vfs.truncate(w.ctx(), w.cwd(), "f", -1)), "EINVAL");
    mkdir("d");
    EXPECT_EQ(ename_of(w.vfs.truncate(w.ctx(), w.cwd(), "d", 0)), "EISDIR");
    ASSERT_TRUE(w.vfs.mknod(w.ctx(), w.cwd(), "p", S_IFIFO | 0666, 0));
    EXPECT_EQ(ename_of(w.vfs.truncate(w.ctx(), w.cwd(), "p", 0)), "EINVAL");
    EXPECT_EQ(ename_of(w.vfs.truncate(w.ctx(), w.cwd(), "f/", 0)), "ENOTDIR");
    ASSERT_TRUE(w.vfs.chmod(w.ctx(), w.cwd(), "f", 0444, 0));
    EXPECT_EQ(ename_of(w.vfs.truncate(w.ctx_as(Credentials::user(2, 2)), w.cwd(), "f", 0)), "EACCES");
    // ftruncate always stamps mtime/ctime, even to the same size.
    auto f = w.open_ok("f", O_RDWR);
    age("f");
    ASSERT_TRUE(f->truncate(2));
    EXPECT_GT(f->stat().mtime, kOld);
    auto r = w.open_ok("f", O_RDONLY);
    EXPECT_EQ(ename_of(r->truncate(0)), "EINVAL");
    auto d = w.open_ok("d", O_RDONLY);
    EXPECT_EQ(ename_of(d->truncate(0)), "EINVAL");
}

TEST_F(NamespaceTest, InodeLimitIsEnospc) {
    World small(64, TmpfsOptions{.max_inodes = 4});
    EXPECT_TRUE(small.vfs.mkdir(small.ctx(), small.cwd(), "a", 0755));
    EXPECT_TRUE(small.open("b", O_CREAT | O_WRONLY));
    EXPECT_TRUE(small.vfs.symlink(small.ctx(), "x", small.cwd(), "c"));
    EXPECT_EQ(ename_of(small.vfs.mkdir(small.ctx(), small.cwd(), "d", 0755)), "ENOSPC");
    EXPECT_EQ(ename_of(small.open("e", O_CREAT | O_WRONLY)), "ENOSPC");
    StatFs s = small.vfs.statfs(small.ctx(), small.cwd(), "/").value();
    EXPECT_EQ(s.files, 4u);
    EXPECT_EQ(s.ffree, 0u);
    EXPECT_EQ(s.namelen, 255u);
    EXPECT_EQ(s.bsize, 4096u);
    ASSERT_TRUE(small.vfs.unlink(small.ctx(), small.cwd(), "c"));
    EXPECT_TRUE(small.vfs.mkdir(small.ctx(), small.cwd(), "d", 0755));
}

}  // namespace
}  // namespace vk::fs::test
