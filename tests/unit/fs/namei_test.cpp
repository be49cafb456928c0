// The path walk: ".", "..", symlinks, trailing slashes, length limits,
// *at() starting points, AT_EMPTY_PATH, chroot, getcwd and path names.

#include "fs_test_util.h"

namespace vk::fs::test {
namespace {

struct NameiTest : ::testing::Test {
    World w;
    void SetUp() override {
        w.mkdir_ok("a");
        w.mkdir_ok("a/b");
        w.write_file("a/b/f", "data");
        ASSERT_TRUE(w.vfs.symlink(w.ctx(), "b", w.cwd(), "a/lb"));        // relative
        ASSERT_TRUE(w.vfs.symlink(w.ctx(), "/a/b/f", w.cwd(), "abs"));     // absolute
        ASSERT_TRUE(w.vfs.symlink(w.ctx(), "nowhere", w.cwd(), "dangling"));
        ASSERT_TRUE(w.vfs.symlink(w.ctx(), "loop2", w.cwd(), "loop1"));
        ASSERT_TRUE(w.vfs.symlink(w.ctx(), "loop1", w.cwd(), "loop2"));
        ASSERT_TRUE(w.vfs.symlink(w.ctx(), "a/b/f", w.cwd(), "tofile"));
    }
    std::string resolve(std::string_view p, u32 flags = kLookupFollow) {
        auto r = w.vfs.resolve(w.ctx(), w.cwd(), p, flags);
        if (!r) return ename_of(r);
        return w.vfs.path_name(*r, w.fs.root);
    }
};

TEST_F(NameiTest, DotsAndSlashes) {
    EXPECT_EQ(resolve("a/b/f"), "/a/b/f");
    EXPECT_EQ(resolve("/a//b///f"), "/a/b/f");
    EXPECT_EQ(resolve("./a/./b/../b/f"), "/a/b/f");
    EXPECT_EQ(resolve("/"), "/");
    EXPECT_EQ(resolve("///"), "/");
    EXPECT_EQ(resolve("/.."), "/");  // ".." at the root stays
    EXPECT_EQ(resolve("/../../a"), "/a");
    EXPECT_EQ(resolve("a/b/.."), "/a");
    EXPECT_EQ(resolve("a/b/."), "/a/b");
    EXPECT_EQ(resolve(""), "ENOENT");
    EXPECT_EQ(resolve("", kLookupEmpty), "/");
}

TEST_F(NameiTest, Errors) {
    EXPECT_EQ(resolve("missing"), "ENOENT");
    EXPECT_EQ(resolve("missing/x"), "ENOENT");
    EXPECT_EQ(resolve("a/b/f/x"), "ENOTDIR");
    EXPECT_EQ(resolve("a/b/f/"), "ENOTDIR");
    EXPECT_EQ(resolve("a/b/f/."), "ENOTDIR");
    EXPECT_EQ(resolve("a/b/f/.."), "ENOTDIR");
    EXPECT_EQ(resolve("a/b/", kLookupFollow), "/a/b");
    EXPECT_EQ(resolve("a/b/f", kLookupDirectory), "ENOTDIR");
}

TEST_F(NameiTest, NameLengthLimits) {
    const std::string name255(255, 'n');
    const std::string name256(256, 'n');
    EXPECT_EQ(resolve(name255), "ENOENT");
    EXPECT_EQ(resolve(name256), "ENAMETOOLONG");
    EXPECT_EQ(resolve(name256 + "/x"), "ENAMETOOLONG");
    w.write_file(name255, "x");
    EXPECT_EQ(resolve(name255), "/" + name255);
    // PATH_MAX counts the NUL: 4095 bytes are fine, 4096 are too long.
    EXPECT_EQ(resolve(std::string(4094, '/') + "a"), "/a");
    EXPECT_EQ(resolve(std::string(4095, '/') + "a"), "ENAMETOOLONG");
    EXPECT_EQ(resolve(std::string(4095, '/')), "/");
    EXPECT_EQ(resolve(std::string(4096, '/')), "ENAMETOOLONG");
}

TEST_F(NameiTest, Symlinks) {
    EXPECT_EQ(resolve("a/lb/f"), "/a/b/f");
    EXPECT_EQ(resolve("a/lb"), "/a/b");
    EXPECT_EQ(resolve("a/lb", 0), "/a/lb");  // not following the last component
    EXPECT_EQ(resolve("a/lb/", 0), "/a/b");  // a trailing slash follows it
    EXPECT_EQ(resolve("abs"), "/a/b/f");
    EXPECT_EQ(resolve("tofile/"), "ENOTDIR");
    EXPECT_EQ(resolve("dangling"), "ENOENT");
    EXPECT_EQ(resolve("dangling", 0), "/dangling");
    EXPECT_EQ(resolve("dangling/x"), "ENOENT");
    EXPECT_EQ(resolve("loop1"), "ELOOP");
    EXPECT_EQ(resolve("loop1", 0), "/loop1");
    EXPECT_EQ(resolve("loop1/x"), "ELOOP");
    auto l = w.vfs.readlink(w.ctx(), w.cwd(), "a/lb");
    EXPECT_EQ(l.value(), "b");
    EXPECT_EQ(ename_of(w.vfs.readlink(w.ctx(), w.cwd(), "a/b")), "EINVAL");
    EXPECT_EQ(ename_of(w.vfs.readlink(w.ctx(), w.cwd(), "a/lb/")), "EINVAL");
}

TEST_F(NameiTest, FortySymlinksButNotFortyOne) {
    // s0 -> s1 -> ... -> s40 -> a: following s1 takes 40 links, s0 41.
    ASSERT_TRUE(w.vfs.symlink(w.ctx(), "a", w.cwd(), "s40"));
    for (int i = 39; i >= 0; --i)
        ASSERT_TRUE(w.vfs.symlink(w.ctx(), "s" + std::to_string(i + 1), w.cwd(), "s" + std::to_string(i)));
    EXPECT_EQ(resolve("s1"), "/a");
    EXPECT_EQ(resolve("s1/b/f"), "/a/b/f");
    EXPECT_EQ(resolve("s0"), "ELOOP");
    EXPECT_EQ(resolve("s0/b"), "ELOOP");
    // The budget is per lookup, shared by the middle and the end.
    ASSERT_TRUE(w.vfs.symlink(w.ctx(), "s1", w.cwd(), "a/b/back"));
    EXPECT_EQ(resolve("s1/b/back"), "ELOOP");
}

TEST_F(NameiTest, SymlinkBodiesStartWhereTheLinkIs) {
    w.mkdir_ok("x");
    w.mkdir_ok("x/y");
    ASSERT_TRUE(w.vfs.symlink(w.ctx(), "../a", w.cwd(), "x/y/up"));
    EXPECT_EQ(resolve("x/y/up/b/f"), "ENOENT");  // x/a does not exist
    ASSERT_TRUE(w.vfs.symlink(w.ctx(), "../../a", w.cwd(), "x/y/up2"));
    EXPECT_EQ(resolve("x/y/up2/b/f"), "/a/b/f");
    ASSERT_TRUE(w.vfs.symlink(w.ctx(), ".", w.cwd(), "x/self"));
    EXPECT_EQ(resolve("x/self/self/self/y"), "/x/y");
    EXPECT_EQ(ename_of(w.vfs.symlink(w.ctx(), "", w.cwd(), "x/empty")), "ENOENT");
}

TEST_F(NameiTest, StartingDirectoryAndEmptyPath) {
    const Path b = w.path("a/b");
    auto r = w.vfs.resolve(w.ctx(), b, "f", 0);
    ASSERT_TRUE(r);
    EXPECT_EQ(w.vfs.path_name(*r, w.fs.root), "/a/b/f");
    // An absolute path ignores the start.
    EXPECT_EQ(w.vfs.path_name(w.vfs.resolve(w.ctx(), b, "/a", 0).value(), w.fs.root), "/a");
    // A relative path from a non-directory: ENOTDIR; "" with AT_EMPTY_PATH names it.
    const Path f = w.path("a/b/f");
    EXPECT_EQ(ename_of(w.vfs.resolve(w.ctx(), f, "x", 0)), "ENOTDIR");
    EXPECT_EQ(ename_of(w.vfs.resolve(w.ctx(), f, "", 0)), "ENOENT");
    EXPECT_EQ(w.vfs.resolve(w.ctx(), f, "", kLookupEmpty).value(), f);
    EXPECT_TRUE(w.vfs.resolve(w.ctx(), f, "/a", 0));
    auto st = w.vfs.stat(w.ctx(), f, "", AT_EMPTY_PATH);
    ASSERT_TRUE(st);
    EXPECT_EQ(st->size, 4u);
    EXPECT_EQ(ename_of(w.vfs.stat(w.ctx(), f, "", 0)), "ENOENT");
    EXPECT_EQ(ename_of(w.vfs.stat(w.ctx(), f, "", 0x8000)), "EINVAL");
}

TEST_F(NameiTest, SearchPermission) {
    const Credentials user = Credentials::user(1000, 1000);
    ASSERT_TRUE(w.vfs.chmod(w.ctx(), w.cwd(), "a", 0744, 0));  // r for others, no x
    EXPECT_EQ(ename_of(w.vfs.resolve(w.ctx_as(user), w.cwd(), "a/b", 0)), "EACCES");
    EXPECT_EQ(ename_of(w.vfs.resolve(w.ctx_as(user), w.cwd(), "a/missing", 0)), "EACCES");
    EXPECT_EQ(ename_of(w.vfs.resolve(w.ctx_as(user), w.cwd(), "a/.", 0)), "EACCES");
    EXPECT_TRUE(w.vfs.resolve(w.ctx_as(user), w.cwd(), "a", 0));   // the dir itself is fine
    EXPECT_TRUE(w.vfs.resolve(w.ctx_as(user), w.cwd(), "a/", 0));
    // Root bypasses search permission.
    ASSERT_TRUE(w.vfs.chmod(w.ctx(), w.cwd(), "a", 0, 0));
    EXPECT_TRUE(w.vfs.resolve(w.ctx(), w.cwd(), "a/b/f", 0));
    // A symlink through a searchable path into a non-searchable one.
    EXPECT_EQ(ename_of(w.vfs.resolve(w.ctx_as(user), w.cwd(), "abs", kLookupFollow)), "EACCES");
}

TEST_F(NameiTest, ChrootConfinesDotDotAndAbsoluteLinks) {
    FsContext jail = w.fs;
    ASSERT_TRUE(w.vfs.chroot(w.ctx(), w.cwd(), "a", jail));
    jail.cwd = jail.root;
    const Context jc{jail, w.cred};
    auto name = [&](std::string_view p, u32 flags = kLookupFollow) {
        auto r = w.vfs.resolve(jc, jail.cwd, p, flags);
        return r ? w.vfs.path_name(*r, jail.root) : ename_of(r);
    };
    EXPECT_EQ(name("/"), "/");
    EXPECT_EQ(name(".."), "/");
    EXPECT_EQ(name("../../b/f"), "/b/f");
    EXPECT_EQ(name("/b/f"), "/b/f");
    EXPECT_EQ(name("b/../.."), "/");
    ASSERT_TRUE(w.vfs.symlink(jc, "/b", jail.cwd, "jl"));
    EXPECT_EQ(name("jl/f"), "/b/f");
    EXPECT_EQ(w.vfs.getcwd(jail).value(), "/");
    // The cwd of a process that left the jail's tree is unreachable.
    FsContext out = jail;
    out.cwd = w.fs.root;
    EXPECT_EQ(w.vfs.getcwd(out).value(), "(unreachable)/");
    // Only CAP_SYS_CHROOT may chroot.
    FsContext c = w.fs;
    EXPECT_EQ(ename_of(w.vfs.chroot(w.ctx_as(Credentials::user(5, 5)), w.cwd(), "a", c)), "EPERM");
    EXPECT_EQ(ename_of(w.vfs.chroot(w.ctx(), w.cwd(), "a/b/f", c)), "ENOTDIR");
}

TEST_F(NameiTest, ChdirGetcwdAndRemovedDirectories) {
    ASSERT_TRUE(w.vfs.chdir(w.ctx(), w.cwd(), "a/lb", w.fs));
    EXPECT_EQ(w.vfs.getcwd(w.fs).value(), "/a/b");
    EXPECT_EQ(w.read_file("f"), "data");
    EXPECT_EQ(ename_of(w.vfs.chdir(w.ctx(), w.cwd(), "f", w.fs)), "ENOTDIR");
    EXPECT_EQ(ename_of(w.vfs.chdir(w.ctx(), w.cwd(), "nope", w.fs)), "ENOENT");
    ASSERT_TRUE(w.vfs.chdir(w.ctx(), w.cwd(), "..", w.fs));
    EXPECT_EQ(w.vfs.getcwd(w.fs).value(), "/a");
    // fchdir: set_cwd checks type and permission.
    EXPECT_EQ(ename_of(w.vfs.set_cwd(w.ctx(), w.path("b/f"), w.fs)), "ENOTDIR");
    ASSERT_TRUE(w.vfs.chmod(w.ctx(), w.cwd(), "b", 0600, 0));
    EXPECT_EQ(ename_of(w.vfs.set_cwd(w.ctx_as(Credentials::user(1, 1)), w.path("b"), w.fs)), "EACCES");
    // Renaming a directory moves the cwd with it.
    w.mkdir_ok("c");
    ASSERT_TRUE(w.vfs.chdir(w.ctx(), w.cwd(), "c", w.fs));
    ASSERT_TRUE(w.vfs.rename(w.ctx(), w.cwd(), "/a/c", w.cwd(), "/moved", 0));
    EXPECT_EQ(w.vfs.getcwd(w.fs).value(), "/moved");
    EXPECT_EQ(resolve(".."), "/");
    // Removing it: getcwd is ENOENT, nothing new can be made, ".." still works.
    ASSERT_TRUE(w.vfs.rmdir(w.ctx(), w.fs.root, "/moved"));
    EXPECT_EQ(ename_of(w.vfs.getcwd(w.fs)), "ENOENT");
    EXPECT_EQ(ename_of(w.open("new", O_CREAT | O_WRONLY)), "ENOENT");
    EXPECT_EQ(ename_of(w.vfs.mkdir(w.ctx(), w.cwd(), "new", 0755)), "ENOENT");
    EXPECT_EQ(resolve("."), "/moved (deleted)");
    EXPECT_EQ(resolve(".."), "/");
}

TEST_F(NameiTest, PathNamesOfRemovedFiles) {
    auto f = w.open_ok("a/b/f", O_RDONLY);
    EXPECT_EQ(w.vfs.path_name(f->path(), w.fs.root), "/a/b/f");
    ASSERT_TRUE(w.vfs.rename(w.ctx(), w.cwd(), "a/b/f", w.cwd(), "a/g", 0));
    EXPECT_EQ(w.vfs.path_name(f->path(), w.fs.root), "/a/g");
    ASSERT_TRUE(w.vfs.unlink(w.ctx(), w.cwd(), "a/g"));
    EXPECT_EQ(w.vfs.path_name(f->path(), w.fs.root), "/a/g (deleted)");
}

}  // namespace
}  // namespace vk::fs::test
