// open(2) flags: O_CREAT, O_EXCL, O_TRUNC, O_DIRECTORY, O_NOFOLLOW,
// O_PATH, O_TMPFILE, O_APPEND, access modes, special files.

#include <sys/sysmacros.h>

#include "fs_test_util.h"

namespace vk::fs::test {
namespace {

struct OpenTest : ::testing::Test {
    World w;
    void SetUp() override {
        w.mkdir_ok("d");
        w.write_file("f", "content");
        ASSERT_TRUE(w.vfs.symlink(w.ctx(), "f", w.cwd(), "lf"));
        ASSERT_TRUE(w.vfs.symlink(w.ctx(), "d", w.cwd(), "ld"));
        ASSERT_TRUE(w.vfs.symlink(w.ctx(), "d/new", w.cwd(), "dangling"));
    }
    std::string open_err(std::string_view p, int flags, u32 mode = 0644) {
        return ename_of(w.open(p, flags, mode));
    }
};

TEST_F(OpenTest, CreateAppliesUmaskAndOwner) {
    w.fs.umask = 027;
    w.cred = Credentials::user(1000, 100);
    ASSERT_TRUE(w.vfs.chmod(w.ctx_as(Credentials::root()), w.cwd(), "d", 0777, 0));
    auto f = w.open_ok("d/x", O_CREAT | O_WRONLY, 0777);
    ASSERT_TRUE(f);
    Stat s = f->stat();
    EXPECT_EQ(s.mode, S_IFREG | 0750u);
    EXPECT_EQ(s.uid, 1000u);
    EXPECT_EQ(s.gid, 100u);
    EXPECT_EQ(s.nlink, 1u);
    EXPECT_EQ(s.size, 0u);
    // A file this open made needs no permission (0 mode, still writable).
    auto g = w.open_ok("d/y", O_CREAT | O_RDWR, 0);
    ASSERT_TRUE(g);
    EXPECT_TRUE(g->writable());
    EXPECT_EQ(ename_of(w.open("d/y", O_RDWR)), "EACCES");
    // Special bits survive the umask; set-group-ID only for group members.
    auto h = w.open_ok("d/s", O_CREAT | O_WRONLY, 06755);
    EXPECT_EQ(h->stat().mode & 07777, 06750u);
}

TEST_F(OpenTest, SetGroupIdDirectoriesGiveTheirGroup) {
    ASSERT_TRUE(w.vfs.chown(w.ctx(), w.cwd(), "d", 0, 500, 0));
    ASSERT_TRUE(w.vfs.chmod(w.ctx(), w.cwd(), "d", 02777, 0));
    const Credentials user = Credentials::user(1000, 1000);
    auto f = w.vfs.open(w.ctx_as(user), w.cwd(), "d/file", O_CREAT | O_WRONLY, 02755);
    ASSERT_TRUE(f);
    EXPECT_EQ((*f)->stat().gid, 500u);
    EXPECT_EQ((*f)->stat().mode & 07777, 0755u);  // not in group 500: S_ISGID dropped
    ASSERT_TRUE(w.vfs.mkdir(w.ctx_as(user), w.cwd(), "d/sub", 0777));
    Stat sub = w.stat_ok("d/sub");
    EXPECT_EQ(sub.gid, 500u);
    EXPECT_EQ(sub.mode & 07777, 02755u);  // directories inherit S_ISGID
}

TEST_F(OpenTest, ExclusiveCreate) {
    EXPECT_EQ(open_err("f", O_CREAT | O_EXCL | O_WRONLY), "EEXIST");
    EXPECT_EQ(open_err("d", O_CREAT | O_EXCL | O_RDONLY), "EEXIST");
    // O_EXCL never follows the last symlink, even a dangling one.
    EXPECT_EQ(open_err("dangling", O_CREAT | O_EXCL | O_WRONLY), "EEXIST");
    EXPECT_EQ(ename_of(w.stat("d/new")), "ENOENT");
    EXPECT_EQ(open_err("newx", O_CREAT | O_EXCL | O_WRONLY), "OK");
}

TEST_F(OpenTest, CreateThroughADanglingSymlink) {
    auto f = w.open_ok("dangling", O_CREAT | O_WRONLY);
    ASSERT_TRUE(f);
    EXPECT_TRUE(w.stat("d/new"));
    EXPECT_EQ(w.vfs.path_name(f->path(), w.fs.root), "/d/new");
    // With O_NOFOLLOW: the symlink itself is the last component: ELOOP.
    EXPECT_EQ(open_err("lf", O_CREAT | O_WRONLY | O_NOFOLLOW), "ELOOP");
}

TEST_F(OpenTest, TrailingSlashesAndDirectories) {
    EXPECT_EQ(open_err("new/", O_CREAT | O_WRONLY), "EISDIR");
    EXPECT_EQ(open_err("d/", O_CREAT | O_RDONLY), "EISDIR");
    EXPECT_EQ(open_err("d", O_CREAT | O_RDONLY), "EISDIR");
    EXPECT_EQ(open_err(".", O_CREAT | O_RDONLY), "EISDIR");
    EXPECT_EQ(open_err("f/", O_RDONLY), "ENOTDIR");
    EXPECT_EQ(open_err("new/", O_RDONLY), "ENOENT");
    EXPECT_EQ(open_err("d", O_WRONLY), "EISDIR");
    EXPECT_EQ(open_err("d", O_RDWR), "EISDIR");
    EXPECT_EQ(open_err("d", O_RDONLY | O_TRUNC), "EISDIR");
    EXPECT_EQ(open_err("d", O_RDONLY), "OK");
    EXPECT_EQ(open_err("d/", O_RDONLY | O_DIRECTORY), "OK");
    EXPECT_EQ(open_err("ld", O_RDONLY | O_DIRECTORY), "OK");
    EXPECT_EQ(open_err("ld", O_RDONLY | O_DIRECTORY | O_NOFOLLOW), "ENOTDIR");
    EXPECT_EQ(open_err("f", O_RDONLY | O_DIRECTORY), "ENOTDIR");
    EXPECT_EQ(open_err("f", O_CREAT | O_DIRECTORY | O_RDONLY), "EINVAL");
    EXPECT_EQ(open_err("zz", O_CREAT | O_DIRECTORY | O_RDONLY), "EINVAL");
}

TEST_F(OpenTest, TruncateOnOpen) {
    w.write_file("t", "0123456789");
    const Timespec old{100, 0};
    const Timespec times[2] = {old, old};
    ASSERT_TRUE(w.vfs.utimens(w.ctx(), w.cwd(), "t", times, 0));
    auto f = w.open_ok("t", O_WRONLY | O_TRUNC);
    EXPECT_EQ(f->stat().size, 0u);
    EXPECT_GT(f->stat().mtime, old);
    EXPECT_GT(f->stat().ctime, old);
    // O_RDONLY|O_TRUNC truncates too (and needs write permission).
    w.write_file("t", "abc");
    auto r = w.open_ok("t", O_RDONLY | O_TRUNC);
    EXPECT_EQ(r->stat().size, 0u);
    EXPECT_FALSE(r->writable());
    ASSERT_TRUE(w.vfs.chmod(w.ctx(), w.cwd(), "t", 0444, 0));
    w.write_file("u", "x", 0444);
    EXPECT_EQ(ename_of(w.vfs.open(w.ctx_as(Credentials::user(0 + 7, 7)), w.cwd(), "u",
                                  O_RDONLY | O_TRUNC, 0)),
              "EACCES");
}

TEST_F(OpenTest, AccessModesAndFlags) {
    auto r = w.open_ok("f", O_RDONLY);
    EXPECT_TRUE(r->readable());
    EXPECT_FALSE(r->writable());
    EXPECT_EQ(ename_of(r->write(bytes("x"))), "EBADF");
    auto wr = w.open_ok("f", O_WRONLY | O_APPEND | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    std::byte b[4];
    EXPECT_EQ(ename_of(wr->read(b)), "EBADF");
    // F_GETFL: the kernel's O_LARGEFILE, no O_CLOEXEC/O_NOCTTY/O_CREAT/O_TRUNC.
    EXPECT_EQ(wr->flags(), O_WRONLY | O_APPEND | O_NONBLOCK | kOLargefile);
    auto c = w.open_ok("f", O_RDWR | O_CREAT | O_TRUNC);
    EXPECT_EQ(c->flags(), O_RDWR | kOLargefile);
    // Access mode 3 asks for read and write permission and gives neither.
    auto three = w.open_ok("f", O_ACCMODE);
    EXPECT_FALSE(three->readable());
    EXPECT_FALSE(three->writable());
    EXPECT_EQ(three->flags(), O_ACCMODE | kOLargefile);
    ASSERT_TRUE(w.vfs.chmod(w.ctx(), w.cwd(), "f", 0444, 0));
    EXPECT_EQ(ename_of(w.vfs.open(w.ctx_as(Credentials::user(3, 3)), w.cwd(), "f", O_ACCMODE, 0)),
              "EACCES");
}

TEST_F(OpenTest, NoFollowAndPath) {
    EXPECT_EQ(open_err("lf", O_RDONLY | O_NOFOLLOW), "ELOOP");
    EXPECT_EQ(open_err("lf", O_RDONLY), "OK");
    // O_PATH|O_NOFOLLOW opens the symlink itself.
    auto p = w.open_ok("lf", O_PATH | O_NOFOLLOW | O_RDWR | O_TRUNC | O_CREAT);
    ASSERT_TRUE(p);
    EXPECT_TRUE(p->is_path());
    EXPECT_EQ(p->flags(), O_PATH | O_NOFOLLOW);
    EXPECT_TRUE(S_ISLNK(p->stat().mode));
    std::byte b[4];
    EXPECT_EQ(ename_of(p->read(b)), "EBADF");
    EXPECT_EQ(ename_of(p->write(bytes("x"))), "EBADF");
    EXPECT_EQ(ename_of(p->lseek(0, SEEK_SET)), "EBADF");
    EXPECT_EQ(ename_of(p->getdents64(b)), "EBADF");
    EXPECT_EQ(ename_of(p->truncate(0)), "EBADF");
    // readlinkat(fd, "") on it reads the link.
    EXPECT_EQ(w.vfs.readlink(w.ctx(), p->path(), "").value(), "f");
    // O_PATH needs no read permission, only search on the way.
    ASSERT_TRUE(w.vfs.chmod(w.ctx(), w.cwd(), "f", 0, 0));
    auto q = w.vfs.open(w.ctx_as(Credentials::user(9, 9)), w.cwd(), "f", O_PATH, 0);
    ASSERT_TRUE(q);
    EXPECT_EQ(w.read_file("f"), "content");  // root reads anyway
    EXPECT_EQ(ename_of(w.vfs.readlink(w.ctx(), (*q)->path(), "")), "ENOENT");
    EXPECT_EQ(w.vfs.stat(w.ctx(), (*q)->path(), "", AT_EMPTY_PATH).value().size, 7u);
    // O_PATH on a directory can be a starting point.
    auto dp = w.open_ok("d", O_PATH | O_DIRECTORY);
    EXPECT_TRUE(w.vfs.mkdir(w.ctx(), dp->path(), "inside", 0755));
    EXPECT_TRUE(w.stat("d/inside"));
}

TEST_F(OpenTest, TmpFile) {
    const u64 free0 = w.frames.free_frames();
    EXPECT_EQ(open_err("d", O_TMPFILE | O_RDONLY, 0600), "EINVAL");
    EXPECT_EQ(open_err("d", (O_TMPFILE & ~O_DIRECTORY) | O_RDWR, 0600), "EINVAL");
    EXPECT_EQ(open_err("f", O_TMPFILE | O_RDWR, 0600), "ENOTDIR");
    EXPECT_EQ(open_err("d", O_TMPFILE | O_CREAT | O_RDWR, 0600), "EINVAL");
    auto t = w.open_ok("d", O_TMPFILE | O_RDWR, 0640);
    ASSERT_TRUE(t);
    Stat s = t->stat();
    EXPECT_EQ(s.nlink, 0u);
    EXPECT_EQ(s.mode, S_IFREG | 0640u);
    EXPECT_EQ(t->flags(), O_TMPFILE | O_RDWR | kOLargefile);
    EXPECT_TRUE(w.list("d").empty());
    ASSERT_TRUE(t->write(bytes(std::string(kPageSize + 1, 't'))));
    EXPECT_EQ(w.frames.free_frames(), free0 - 2);
    // Give it a name: linkat(fd, "", AT_FDCWD, "d/named", AT_EMPTY_PATH).
    ASSERT_TRUE(w.vfs.link(w.ctx(), t->path(), "", w.cwd(), "d/named", AT_EMPTY_PATH));
    EXPECT_EQ(w.stat_ok("d/named").nlink, 1u);
    EXPECT_EQ(w.stat_ok("d/named").size, kPageSize + 1);
    ASSERT_TRUE(w.vfs.unlink(w.ctx(), w.cwd(), "d/named"));
    // Linked once: not linkable again once it is gone.
    EXPECT_EQ(ename_of(w.vfs.link(w.ctx(), t->path(), "", w.cwd(), "d/again", AT_EMPTY_PATH)),
              "ENOENT");
    t.reset();
    EXPECT_EQ(w.frames.free_frames(), free0);
    // O_EXCL: never linkable.
    auto x = w.open_ok("d", O_TMPFILE | O_WRONLY | O_EXCL, 0600);
    EXPECT_EQ(ename_of(w.vfs.link(w.ctx(), x->path(), "", w.cwd(), "d/x", AT_EMPTY_PATH)), "ENOENT");
    // Without CAP_DAC_READ_SEARCH, AT_EMPTY_PATH is just an empty name.
    auto y = w.open_ok("d", O_TMPFILE | O_WRONLY, 0600);
    EXPECT_EQ(ename_of(w.vfs.link(w.ctx_as(Credentials::user(0, 0)), y->path(), "", w.cwd(), "d/y",
                                  AT_EMPTY_PATH)),
              "ENOENT");
    // Needs write permission on the directory.
    ASSERT_TRUE(w.vfs.chmod(w.ctx(), w.cwd(), "d", 0555, 0));
    EXPECT_EQ(ename_of(w.vfs.open(w.ctx_as(Credentials::user(4, 4)), w.cwd(), "d", O_TMPFILE | O_RDWR, 0600)),
              "EACCES");
}

TEST_F(OpenTest, AppendWritesAtTheEnd) {
    auto a = w.open_ok("f", O_WRONLY | O_APPEND);
    auto b = w.open_ok("f", O_RDWR);
    ASSERT_TRUE(b->write(bytes("XY")));  // overwrites "co"
    ASSERT_TRUE(a->write(bytes("++")));
    EXPECT_EQ(a->offset(), 9u);
    // pwrite on an O_APPEND file appends (a Linux quirk, see pwrite(2) BUGS).
    ASSERT_TRUE(a->pwrite(bytes("!"), 0));
    EXPECT_EQ(w.read_file("f"), "XYntent++!");
    EXPECT_EQ(a->offset(), 9u);
}

TEST_F(OpenTest, SpecialFiles) {
    ASSERT_TRUE(w.vfs.mknod(w.ctx(), w.cwd(), "fifo", S_IFIFO | 0666, 0));
    ASSERT_TRUE(w.vfs.mknod(w.ctx(), w.cwd(), "null", S_IFCHR | 0666, makedev(1, 3)));
    ASSERT_TRUE(w.vfs.mknod(w.ctx(), w.cwd(), "sock", S_IFSOCK | 0666, 0));
    EXPECT_EQ(w.stat_ok("null").rdev, makedev(1, 3));
    EXPECT_EQ(w.stat_ok("fifo").rdev, 0u);
    // Without a driver: ENXIO, as Linux says for a device nobody serves.
    EXPECT_EQ(open_err("fifo", O_RDONLY | O_NONBLOCK), "ENXIO");
    EXPECT_EQ(open_err("null", O_RDWR), "ENXIO");
    EXPECT_EQ(open_err("sock", O_RDWR), "ENXIO");
    // O_TRUNC is ignored for them.
    int calls = 0;
    struct NullOps : FileOps {
        Result<u64> read(File&, std::span<std::byte>, u64) override { return 0; }
        Result<u64> write(File&, std::span<const std::byte> s, u64) override { return s.size(); }
        bool seekable() const override { return false; }
    };
    w.vfs.set_special_opener([&](File& f) -> Result<std::shared_ptr<FileOps>> {
        ++calls;
        if (S_ISCHR(f.inode().mode()) && f.inode().rdev() == makedev(1, 3))
            return std::shared_ptr<FileOps>(std::make_shared<NullOps>());
        return err(ENXIO);
    });
    auto n = w.open_ok("null", O_RDWR | O_TRUNC);
    ASSERT_TRUE(n);
    EXPECT_EQ(n->write(bytes("discard")).value(), 7u);
    EXPECT_EQ(ename_of(n->lseek(0, SEEK_SET)), "ESPIPE");
    EXPECT_EQ(ename_of(n->pwrite(bytes("x"), 0)), "ESPIPE");
    EXPECT_EQ(open_err("fifo", O_RDONLY), "ENXIO");
    EXPECT_EQ(calls, 2);
    // mknod rules: devices need CAP_MKNOD; directories are EPERM; bad types EINVAL.
    const Credentials user = Credentials::user(1, 1);
    ASSERT_TRUE(w.vfs.chmod(w.ctx(), w.cwd(), "d", 0777, 0));
    EXPECT_EQ(ename_of(w.vfs.mknod(w.ctx_as(user), w.cwd(), "d/c", S_IFCHR | 0600, 0x103)), "EPERM");
    EXPECT_EQ(ename_of(w.vfs.mknod(w.ctx_as(user), w.cwd(), "d/b", S_IFBLK | 0600, 0)), "EPERM");
    // 0:0 is a whiteout: allowed to anyone.
    EXPECT_EQ(ename_of(w.vfs.mknod(w.ctx_as(user), w.cwd(), "d/wh", S_IFCHR | 0600, 0)), "OK");
    EXPECT_EQ(ename_of(w.vfs.mknod(w.ctx_as(user), w.cwd(), "d/p", S_IFIFO | 0600, 0)), "OK");
    EXPECT_EQ(ename_of(w.vfs.mknod(w.ctx_as(user), w.cwd(), "d/r", 0600, 0)), "OK");
    EXPECT_TRUE(S_ISREG(w.stat_ok("d/r").mode));
    EXPECT_EQ(ename_of(w.vfs.mknod(w.ctx(), w.cwd(), "d/x", S_IFDIR | 0600, 0)), "EPERM");
    EXPECT_EQ(ename_of(w.vfs.mknod(w.ctx(), w.cwd(), "d/y", 0170000 | 0600, 0)), "EINVAL");
    EXPECT_EQ(ename_of(w.vfs.mknod(w.ctx(), w.cwd(), "d/p", S_IFIFO | 0600, 0)), "EEXIST");
}

TEST_F(OpenTest, NoAtimeNeedsOwnership) {
    ASSERT_TRUE(w.vfs.chmod(w.ctx(), w.cwd(), "f", 0644, 0));
    const Credentials user = Credentials::user(8, 8);
    EXPECT_EQ(ename_of(w.vfs.open(w.ctx_as(user), w.cwd(), "f", O_RDONLY | O_NOATIME, 0)), "EPERM");
    auto f = w.vfs.open(w.ctx_as(user), w.cwd(), "f", O_RDONLY, 0);
    ASSERT_TRUE(f);
    EXPECT_EQ(ename_of((*f)->set_flags(O_NOATIME)), "EPERM");
    EXPECT_EQ(open_err("f", O_RDONLY | O_NOATIME), "OK");
}

}  // namespace
}  // namespace vk::fs::test
