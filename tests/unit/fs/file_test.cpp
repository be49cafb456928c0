// Open file descriptions: read/write/pread/pwrite/lseek, getdents64,
// F_SETFL, access time, poll.

#include <dirent.h>
#include <poll.h>
#include <sys/statvfs.h>

#include <algorithm>

#include "fs_test_util.h"

namespace vk::fs::test {
namespace {

struct FileTest : ::testing::Test {
    World w;
};

TEST_F(FileTest, ReadWriteAndOffsets) {
    auto f = w.open_ok("f", O_RDWR | O_CREAT);
    EXPECT_EQ(f->write(bytes("hello world")).value(), 11u);
    EXPECT_EQ(f->offset(), 11u);
    std::vector<std::byte> buf(5);
    EXPECT_EQ(f->read(buf).value(), 0u);  // at the end
    EXPECT_EQ(f->lseek(-5, SEEK_END).value(), 6);
    EXPECT_EQ(f->read(buf).value(), 5u);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(buf.data()), 5), "world");
    EXPECT_EQ(f->lseek(0, SEEK_CUR).value(), 11);
    EXPECT_EQ(f->lseek(-100, SEEK_CUR).error().code, EINVAL);
    EXPECT_EQ(f->lseek(0, 7).error().code, EINVAL);
    EXPECT_EQ(f->lseek(1000, SEEK_SET).value(), 1000);  // past the end is fine
    EXPECT_EQ(f->read(buf).value(), 0u);
    EXPECT_EQ(ename_of(f->lseek(INT64_MAX, SEEK_CUR)), "EINVAL");
    // pread/pwrite leave the offset alone.
    EXPECT_EQ(f->pwrite(bytes("HELLO"), 0).value(), 5u);
    EXPECT_EQ(f->offset(), 1000u);
    EXPECT_EQ(f->pread(buf, 0).value(), 5u);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(buf.data()), 5), "HELLO");
    EXPECT_EQ(ename_of(f->pread(buf, -1)), "EINVAL");
    EXPECT_EQ(ename_of(f->pwrite(bytes("x"), -1)), "EINVAL");
    // Writing past the end leaves a hole.
    ASSERT_TRUE(f->write(bytes("!")));
    EXPECT_EQ(f->stat().size, 1001u);
    // rw_verify_area: the end of the I/O must fit in loff_t.
    EXPECT_EQ(ename_of(f->pwrite(bytes("x"), INT64_MAX)), "EINVAL");
    EXPECT_EQ(ename_of(f->pread(buf, INT64_MAX - 2)), "EINVAL");
    EXPECT_EQ(f->pwrite(bytes("x"), INT64_MAX - 1).value(), 1u);
    EXPECT_EQ(f->stat().size, static_cast<u64>(INT64_MAX));
    ASSERT_TRUE(f->truncate(1001));
    // Zero-length I/O is fine and changes nothing.
    EXPECT_EQ(f->write({}).value(), 0u);
    EXPECT_EQ(f->read({}).value(), 0u);
}

TEST_F(FileTest, DirectoriesAreNotReadWithRead) {
    w.mkdir_ok("d");
    auto d = w.open_ok("d", O_RDONLY);
    std::vector<std::byte> buf(16);
    EXPECT_EQ(ename_of(d->read(buf)), "EISDIR");
    EXPECT_EQ(ename_of(d->pread(buf, 0)), "EISDIR");
    auto f = w.open_ok("f", O_RDWR | O_CREAT);
    EXPECT_EQ(ename_of(f->getdents64(buf)), "ENOTDIR");
}

TEST_F(FileTest, Getdents64) {
    w.mkdir_ok("d");
    w.mkdir_ok("d/sub");
    w.write_file("d/file", "");
    ASSERT_TRUE(w.vfs.symlink(w.ctx(), "x", w.cwd(), "d/link"));
    ASSERT_TRUE(w.vfs.mknod(w.ctx(), w.cwd(), "d/fifo", S_IFIFO | 0644, 0));
    auto d = w.open_ok("d", O_RDONLY | O_DIRECTORY);
    std::vector<std::byte> buf(4096);
    const u64 n = d->getdents64(buf).value();
    auto ents = parse_dirents(std::span(buf).first(n));
    ASSERT_EQ(ents.size(), 6u);
    EXPECT_EQ(ents[0].name, ".");
    EXPECT_EQ(ents[0].ino, w.stat_ok("d").ino);
    EXPECT_EQ(ents[0].type, DT_DIR);
    EXPECT_EQ(ents[1].name, "..");
    EXPECT_EQ(ents[1].ino, w.stat_ok("/").ino);
    std::vector<std::pair<std::string, u8>> rest;
    for (size_t i = 2; i < ents.size(); ++i) rest.emplace_back(ents[i].name, ents[i].type);
    EXPECT_EQ(rest, (std::vector<std::pair<std::string, u8>>{
                        {"sub", DT_DIR}, {"file", DT_REG}, {"link", DT_LNK}, {"fifo", DT_FIFO}}));
    EXPECT_EQ(ents[2].ino, w.stat_ok("d/sub").ino);
    EXPECT_EQ(d->getdents64(buf).value(), 0u);  // the end
    // Each d_off resumes after its record.
    ASSERT_TRUE(d->lseek(ents[3].off, SEEK_SET));
    auto tail = parse_dirents(std::span(buf).first(d->getdents64(buf).value()));
    ASSERT_EQ(tail.size(), 2u);
    EXPECT_EQ(tail[0].name, "link");
    // Rewind.
    EXPECT_EQ(d->lseek(0, SEEK_SET).value(), 0);
    EXPECT_EQ(parse_dirents(std::span(buf).first(d->getdents64(buf).value())).size(), 6u);
    EXPECT_EQ(ename_of(d->lseek(0, SEEK_END)), "EINVAL");
    EXPECT_EQ(ename_of(d->lseek(-1, SEEK_SET)), "EINVAL");
}

TEST_F(FileTest, Getdents64SmallBuffersAndChangesDuringListing) {
    w.mkdir_ok("d");
    for (int i = 0; i < 100; ++i) w.write_file("d/entry" + std::to_string(i), "");
    auto d = w.open_ok("d", O_RDONLY);
    // Too small for one record: EINVAL.
    std::vector<std::byte> tiny(23);
    EXPECT_EQ(ename_of(d->getdents64(tiny)), "EINVAL");
    // Room for exactly one record at a time ("." needs 24 bytes).
    std::vector<std::byte> one(dirent64_size(7));
    std::vector<std::string> names;
    bool deleted = false;
    for (;;) {
        auto n = d->getdents64(one);
        ASSERT_TRUE(n) << ename_of(n);
        if (*n == 0) break;
        for (auto& e : parse_dirents(std::span(one).first(*n))) names.push_back(e.name);
        if (names.size() == 10 && !deleted) {
            // Entries removed or added mid-listing do not disturb the rest.
            ASSERT_TRUE(w.vfs.unlink(w.ctx(), w.cwd(), "d/entry50"));
            ASSERT_TRUE(w.vfs.unlink(w.ctx(), w.cwd(), "d/entry2"));  // already listed
            w.write_file("d/late", "");
            deleted = true;
        }
    }
    EXPECT_EQ(names.size(), 2 + 100 - 1 + 1u);
    EXPECT_EQ(std::count(names.begin(), names.end(), "entry50"), 0);
    EXPECT_EQ(std::count(names.begin(), names.end(), "entry2"), 1);
    EXPECT_EQ(std::count(names.begin(), names.end(), "late"), 1);
    EXPECT_EQ(std::count(names.begin(), names.end(), "entry99"), 1);
}

TEST_F(FileTest, RemovedDirectoryCannotBeListed) {
    w.mkdir_ok("d");
    auto d = w.open_ok("d", O_RDONLY);
    ASSERT_TRUE(w.vfs.rmdir(w.ctx(), w.cwd(), "d"));
    std::vector<std::byte> buf(1024);
    EXPECT_EQ(ename_of(d->getdents64(buf)), "ENOENT");
}

TEST_F(FileTest, SetFlags) {
    auto f = w.open_ok("f", O_RDWR | O_CREAT | O_SYNC);
    ASSERT_TRUE(f->set_flags(O_APPEND | O_NONBLOCK | O_RDONLY | O_CREAT | O_DIRECTORY));
    // Only the settable status flags change; the access mode never does.
    EXPECT_EQ(f->flags(), O_RDWR | O_APPEND | O_NONBLOCK | O_SYNC | kOLargefile);
    EXPECT_TRUE(f->nonblocking());
    EXPECT_TRUE(f->writable());
    ASSERT_TRUE(f->set_flags(0));
    EXPECT_EQ(f->flags(), O_RDWR | O_SYNC | kOLargefile);
    auto p = w.open_ok("f", O_PATH);
    EXPECT_EQ(ename_of(p->set_flags(O_APPEND)), "EBADF");
}

TEST_F(FileTest, AccessTimeFollowsRelatime) {
    w.write_file("f", "abc");
    const Timespec old{1000, 0};
    const Timespec recent{2000, 0};
    // atime older than mtime: a read updates it.
    const Timespec t1[2] = {old, recent};
    ASSERT_TRUE(w.vfs.utimens(w.ctx(), w.cwd(), "f", t1, 0));
    std::vector<std::byte> buf(8);
    auto f = w.open_ok("f", O_RDONLY);
    ASSERT_TRUE(f->read(buf));
    const Timespec after = w.stat_ok("f").atime;
    EXPECT_GT(after, recent);
    // atime newer than mtime and ctime and less than a day old: kept.
    ASSERT_TRUE(f->pread(buf, 0));
    EXPECT_EQ(w.stat_ok("f").atime, after);
    // O_NOATIME: never.
    ASSERT_TRUE(w.vfs.utimens(w.ctx(), w.cwd(), "f", t1, 0));
    auto g = w.open_ok("f", O_RDONLY | O_NOATIME);
    ASSERT_TRUE(g->read(buf));
    EXPECT_EQ(w.stat_ok("f").atime, old);
    // Writes update mtime and ctime, not atime.
    auto h = w.open_ok("f", O_WRONLY);
    ASSERT_TRUE(h->write(bytes("z")));
    EXPECT_EQ(w.stat_ok("f").atime, old);
    EXPECT_GT(w.stat_ok("f").mtime, recent);
    // Reading a directory updates its atime too.
    w.mkdir_ok("d");
    ASSERT_TRUE(w.vfs.utimens(w.ctx(), w.cwd(), "d", t1, 0));
    auto d = w.open_ok("d", O_RDONLY);
    std::vector<std::byte> dbuf(512);
    ASSERT_TRUE(d->getdents64(dbuf));
    EXPECT_GT(w.stat_ok("d").atime, recent);
}

TEST_F(FileTest, NoAtimeMount) {
    w.mkdir_ok("m");
    ASSERT_TRUE(w.vfs.mount(w.ctx(), w.cwd(), "m", Tmpfs::create(w.frames), MS_NOATIME, "tmpfs"));
    w.write_file("m/f", "abc");
    const Timespec t[2] = {{1, 0}, {2, 0}};
    ASSERT_TRUE(w.vfs.utimens(w.ctx(), w.cwd(), "m/f", t, 0));
    std::vector<std::byte> buf(8);
    ASSERT_TRUE(w.open_ok("m/f", O_RDONLY)->read(buf));
    EXPECT_EQ(w.stat_ok("m/f").atime, (Timespec{1, 0}));
    EXPECT_TRUE(w.vfs.statfs(w.ctx(), w.cwd(), "m").value().flags & ST_NOATIME);
}

TEST_F(FileTest, PollAndIoctlDefaults) {
    auto f = w.open_ok("f", O_RDWR | O_CREAT);
    EXPECT_EQ(f->poll(), static_cast<u32>(POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM));
    EXPECT_EQ(ename_of(f->ioctl(0x5401, 0)), "ENOTTY");
    EXPECT_TRUE(f->fsync(false));
    auto p = w.open_ok("f", O_PATH);
    EXPECT_EQ(p->poll(), static_cast<u32>(POLLNVAL));
    EXPECT_EQ(ename_of(p->fsync(true)), "EBADF");
    EXPECT_EQ(ename_of(p->ioctl(0x5401, 0)), "EBADF");
}

TEST_F(FileTest, ReleaseRunsWhenTheLastReferenceGoes) {
    struct CountingOps : FileOps {
        int* released;
        explicit CountingOps(int* r) : released(r) {}
        void release(File&) override { ++*released; }
    };
    int released = 0;
    ASSERT_TRUE(w.vfs.mknod(w.ctx(), w.cwd(), "dev", S_IFCHR | 0666, 0x501));
    w.vfs.set_special_opener([&](File&) -> Result<std::shared_ptr<FileOps>> {
        return std::shared_ptr<FileOps>(std::make_shared<CountingOps>(&released));
    });
    auto f = w.open_ok("dev", O_RDWR);
    FdTable t;
    ASSERT_TRUE(t.install(f, false, 8));
    ASSERT_TRUE(t.dup(0, 8));
    f.reset();
    ASSERT_TRUE(t.close(0));
    EXPECT_EQ(released, 0);
    ASSERT_TRUE(t.close(1));
    EXPECT_EQ(released, 1);
    std::vector<std::byte> buf(4);
    auto g = w.open_ok("dev", O_RDWR);
    EXPECT_EQ(ename_of(g->read(buf)), "EINVAL");  // no read operation
}

}  // namespace
}  // namespace vk::fs::test
