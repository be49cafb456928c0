// The initramfs unpacker: archives made by the host's cpio(1) from a real
// tree come out identical; hand-made archives probe each error; truncated
// and corrupted archives never crash and always say what is wrong.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "fs_test_util.h"
#include "vkernel/fs/cpio.h"

namespace vk::fs::test {
namespace {

std::span<const std::byte> as_bytes(const std::string& s) { return bytes(s); }

// ---- Archives by hand ----

struct Entry {
    std::string name;
    u32 mode = S_IFREG | 0644;
    std::string data;
    u32 ino = 0, uid = 0, gid = 0, nlink = 1, mtime = 0, rdevmajor = 0, rdevminor = 0;
};

std::string hex8(u32 v) {
    char b[9];
    std::snprintf(b, sizeof b, "%08X", v);
    return b;
}

std::string newc(const std::vector<Entry>& entries, bool crc = false, bool trailer = true) {
    std::string out;
    auto add = [&](const Entry& e) {
        u32 sum = 0;
        for (unsigned char c : e.data) sum += c;
        out += crc ? "070702" : "070701";
        for (u32 v : {e.ino, e.mode, e.uid, e.gid, e.nlink, e.mtime, static_cast<u32>(e.data.size()), 0u,
                      0u, e.rdevmajor, e.rdevminor, static_cast<u32>(e.name.size() + 1),
                      crc ? sum : 0u})
            out += hex8(v);
        out += e.name;
        out += '\0';
        while (out.size() % 4) out += '\0';
        out += e.data;
        while (out.size() % 4) out += '\0';
    };
    u32 ino = 100;
    for (Entry e : entries) {
        if (!e.ino) e.ino = ino++;
        add(e);
    }
    if (trailer) add(Entry{"TRAILER!!!", 0, "", 0, 0, 0, 1});
    return out;
}

struct CpioTest : ::testing::Test {
    World w{4096};
    Path target() {
        if (!w.stat("root")) w.mkdir_ok("root");
        return w.path("root");
    }
    Result<CpioStats, std::string> unpack(const std::string& archive) {
        return unpack_cpio(w.vfs, target(), as_bytes(archive));
    }
    std::string error_of(const std::string& archive) {
        auto r = unpack(archive);
        return r ? "OK" : r.error();
    }
};

TEST_F(CpioTest, HandMadeArchive) {
    const std::string a = newc({
        {".", S_IFDIR | 0700, "", 0, 0, 0, 2, 50},
        {"./bin", S_IFDIR | 0755, "", 0, 0, 0, 2, 60},
        {"bin/busybox", S_IFREG | 04755, "ELF...", 7, 0, 0, 2, 70},
        {"bin/sh", S_IFREG | 04755, "", 7, 0, 0, 2, 70},  // hard link: same ino, nlink 2
        {"/etc/passwd", S_IFREG | 0644, "root:x:0:0::/root:/bin/sh\n", 0, 0, 0, 1, 80},
        {"usr/bin/env", S_IFLNK | 0777, "../../bin/busybox", 0, 0, 0, 1, 90},
        {"dev/console", S_IFCHR | 0600, "", 0, 0, 5, 1, 95, 5, 1},
        {"dev/fifo", S_IFIFO | 0620, "", 0, 1000, 1000, 1, 96},
        {"home/user", S_IFDIR | 0750, "", 0, 1000, 100, 2, 97},
    });
    auto r = unpack(a);
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(r->dirs, 7u);  // bin, home/user, and the missing parents etc, usr, usr/bin, dev, home
    EXPECT_EQ(r->files, 2u);
    EXPECT_EQ(r->hardlinks, 1u);
    EXPECT_EQ(r->symlinks, 1u);
    EXPECT_EQ(r->specials, 2u);
    Stat root = w.stat_ok("root");
    EXPECT_EQ(root.mode, S_IFDIR | 0700u);
    EXPECT_EQ(root.mtime, (Timespec{50, 0}));
    EXPECT_EQ(w.read_file("root/bin/sh"), "ELF...");
    Stat bb = w.stat_ok("root/bin/busybox"), sh = w.stat_ok("root/bin/sh");
    EXPECT_EQ(bb.ino, sh.ino);
    EXPECT_EQ(bb.nlink, 2u);
    EXPECT_EQ(bb.mode, S_IFREG | 04755u);
    EXPECT_EQ(bb.mtime, (Timespec{70, 0}));
    EXPECT_EQ(w.read_file("root/etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
    EXPECT_EQ(w.stat_ok("root/etc").mode, S_IFDIR | 0755u);  // made for a missing parent
    EXPECT_EQ(w.vfs.readlink(w.ctx(), w.cwd(), "root/usr/bin/env").value(), "../../bin/busybox");
    EXPECT_EQ(w.stat_ok("root/usr/bin/env", AT_SYMLINK_NOFOLLOW).mtime, (Timespec{90, 0}));
    EXPECT_EQ(w.read_file("root/usr/bin/env"), "ELF...");
    Stat con = w.stat_ok("root/dev/console");
    EXPECT_EQ(con.mode, S_IFCHR | 0600u);
    EXPECT_EQ(con.rdev, makedev(5, 1));
    EXPECT_EQ(con.gid, 5u);
    Stat fifo = w.stat_ok("root/dev/fifo");
    EXPECT_EQ(fifo.mode, S_IFIFO | 0620u);
    EXPECT_EQ(fifo.uid, 1000u);
    Stat home = w.stat_ok("root/home/user");
    EXPECT_EQ(home.uid, 1000u);
    EXPECT_EQ(home.gid, 100u);
    EXPECT_EQ(home.mtime, (Timespec{97, 0}));
}

TEST_F(CpioTest, ErrorsAreSentences) {
    EXPECT_EQ(error_of(""), "OK");
    EXPECT_EQ(error_of("0707"), "initramfs: truncated header at offset 0");
    const std::string good = newc({{"f", S_IFREG | 0644, "data"}});
    EXPECT_EQ(error_of(good.substr(0, 50)), "initramfs: truncated header at offset 0");
    EXPECT_EQ(error_of(good.substr(0, 111)), "initramfs: truncated name at offset 110");
    EXPECT_EQ(error_of(good.substr(0, 114)), "initramfs: truncated data of f at offset 112");
    EXPECT_EQ(error_of(good + "07"), "initramfs: truncated header at offset " + std::to_string(good.size()));
    EXPECT_EQ(error_of("hello world, this is not an archive"),
              "initramfs: bad magic at offset 0 (not a newc cpio archive)");
    EXPECT_EQ(error_of(std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00", 8)),
              "initramfs: the archive is gzip-compressed at offset 0; give an uncompressed newc "
              "archive (gunzip it first)");
    EXPECT_EQ(error_of("070707" + std::string(200, '0')),
              "initramfs: old-style (odc) cpio header at offset 0; make it with cpio -H newc");
    std::string badhex = good;
    badhex[6 + 8 * 6 + 3] = 'g';  // filesize field
    EXPECT_EQ(error_of(badhex), "initramfs: bad header field at offset 54");
    EXPECT_EQ(error_of(newc({{"a/../../etc/shadow", S_IFREG | 0644, "x"}})),
              "initramfs: entry a/../../etc/shadow at offset 0 escapes the target directory (a \"..\" "
              "component)");
    EXPECT_EQ(error_of(newc({{"ok", S_IFREG | 0644, "1"}, {"..", S_IFDIR | 0755, ""}})),
              "initramfs: entry .. at offset 120 escapes the target directory (a \"..\" component)");
    EXPECT_TRUE(w.stat("root/ok"));  // what came before the error stays
    std::string longname(5000, 'n');
    EXPECT_EQ(error_of(newc({{longname, S_IFREG | 0644, ""}})),
              "initramfs: name too long (5001 bytes) at offset 0");
    EXPECT_EQ(error_of(newc({{std::string(300, 'n'), S_IFREG | 0644, ""}})),
              "initramfs: cannot create " + std::string(300, 'n') + ": File name too long");
    EXPECT_EQ(error_of(newc({{"weird", 0170000 | 0644, ""}})),
              "initramfs: unknown file type (mode 0170644) of weird");
    EXPECT_EQ(error_of(newc({{"f", S_IFREG | 0644, "x"}, {"f/g", S_IFREG | 0644, "y"}})),
              "initramfs: cannot create f/g: Not a directory");
    Entry nameless{"", S_IFREG | 0644, ""};
    std::string zero_name = newc({nameless}, false, false);
    zero_name.replace(6 + 8 * 11, 8, "00000000");
    EXPECT_EQ(error_of(zero_name), "initramfs: empty name at offset 0");
}

TEST_F(CpioTest, ChecksumsOfCrcArchives) {
    std::string a = newc({{"f", S_IFREG | 0644, "checked data"}, {"d", S_IFDIR | 0755, ""}}, true);
    auto r = unpack(a);
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(w.read_file("root/f"), "checked data");
    const size_t pos = a.find("checked");
    a[pos] = 'C';
    EXPECT_EQ(error_of(a), "initramfs: checksum mismatch for f at offset 0");
}

TEST_F(CpioTest, LaterEntriesAndArchivesReplaceEarlierOnes) {
    const std::string first = newc({{"etc", S_IFDIR | 0755, ""},
                                    {"etc/motd", S_IFREG | 0644, "old and long"},
                                    {"etc/link", S_IFLNK | 0777, "motd"},
                                    {"etc/was_dir", S_IFDIR | 0755, ""},
                                    {"etc/was_file", S_IFREG | 0644, "f"}});
    const std::string second = newc({{"etc/motd", S_IFREG | 0600, "new"},
                                      {"etc/link", S_IFLNK | 0777, "other"},
                                      {"etc/was_dir", S_IFREG | 0644, "now a file"},
                                      {"etc/was_file", S_IFDIR | 0700, ""}});
    // Concatenated, with zero padding between, as bootloaders do.
    auto r = unpack(first + std::string(512, '\0') + second);
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(w.read_file("root/etc/motd"), "new");
    EXPECT_EQ(w.stat_ok("root/etc/motd").mode, S_IFREG | 0600u);
    EXPECT_EQ(w.vfs.readlink(w.ctx(), w.cwd(), "root/etc/link").value(), "other");
    EXPECT_EQ(w.read_file("root/etc/was_dir"), "now a file");
    EXPECT_TRUE(S_ISDIR(w.stat_ok("root/etc/was_file").mode));
    // A directory with entries is not replaced: a clear error.
    const std::string third = newc({{"etc", S_IFREG | 0644, "x"}});
    EXPECT_EQ(error_of(third), "initramfs: cannot replace etc: Directory not empty");
}

TEST_F(CpioTest, SymlinksCannotLeadOutside) {
    // An absolute symlink resolves inside the target during the unpack.
    w.mkdir_ok("outside");
    const std::string a = newc({{"escape", S_IFLNK | 0777, "/"},
                                {"up", S_IFLNK | 0777, "../outside"},
                                {"escape/etc/file", S_IFREG | 0644, "inside"}});
    auto r = unpack(a);
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(w.read_file("root/etc/file"), "inside");
    EXPECT_EQ(ename_of(w.stat("etc")), "ENOENT");
    EXPECT_EQ(error_of(newc({{"up/x", S_IFREG | 0644, "x"}})),
              "initramfs: cannot create up/x: No such file or directory");
    EXPECT_TRUE(w.list("outside").empty());
}

TEST_F(CpioTest, OutOfSpaceIsAnError) {
    World small(64);
    small.mkdir_ok("root");
    const std::string a = newc({{"big", S_IFREG | 0644, std::string(40 * kPageSize, 'b')}});
    auto r = unpack_cpio(small.vfs, small.path("root"), as_bytes(a));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), "initramfs: cannot write big: No space left on device");
}

// ---- Archives made by cpio(1) from a real tree ----

#ifdef VK_CPIO
constexpr const char* kCpio = VK_CPIO;
#else
constexpr const char* kCpio = nullptr;
#endif

struct HostTree {
    std::string dir;
    HostTree() {
        char tmpl[] = "/tmp/vkfs-cpio-XXXXXX";
        dir = ::mkdtemp(tmpl);
    }
    ~HostTree() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
    std::string p(const std::string& rel) const { return dir + "/" + rel; }
    void file(const std::string& rel, const std::string& data, mode_t mode, time_t mtime) {
        std::ofstream(p(rel), std::ios::binary) << data;
        ASSERT_EQ(::chmod(p(rel).c_str(), mode), 0);
        times(rel, mtime);
    }
    void times(const std::string& rel, time_t mtime) {
        const struct timespec t[2] = {{mtime, 0}, {mtime, 0}};
        ASSERT_EQ(::utimensat(AT_FDCWD, p(rel).c_str(), t, AT_SYMLINK_NOFOLLOW), 0) << rel;
    }
    // `find . | cpio -o -H <format>` in the tree.
    std::string archive(const char* format) const {
        const std::string cmd =
            "cd '" + dir + "' && find . | " + kCpio + " -o --quiet -H " + format;
        FILE* f = ::popen(cmd.c_str(), "r");
        std::string out;
        char buf[65536];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
        EXPECT_EQ(::pclose(f), 0) << cmd;
        return out;
    }
};

// Every entry under `rel` as lstat and readlink see it, one line each.
void host_listing(const std::string& dir, const std::string& rel, std::map<std::string, std::string>& out,
                  std::map<std::string, ino_t>& inos) {
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        const std::string name = e.path().filename();
        struct stat st{};
        ::lstat(e.path().c_str(), &st);
        std::ostringstream line;
        line << std::oct << st.st_mode << std::dec << " n" << st.st_nlink << " " << st.st_uid << ":"
             << st.st_gid << " s" << (S_ISDIR(st.st_mode) ? 0 : st.st_size) << " m" << st.st_mtime
             << " r" << st.st_rdev;
        if (S_ISLNK(st.st_mode)) line << " -> " << std::filesystem::read_symlink(e.path()).string();
        if (S_ISREG(st.st_mode)) {
            std::ifstream in(e.path(), std::ios::binary);
            std::stringstream data;
            data << in.rdbuf();
            line << " data" << std::hash<std::string>{}(data.str());
        }
        out[rel + name] = line.str();
        inos[rel + name] = st.st_ino;
        if (S_ISDIR(st.st_mode)) host_listing(e.path(), rel + name + "/", out, inos);
    }
}

void our_listing(World& w, const std::string& dir, const std::string& rel,
                 std::map<std::string, std::string>& out, std::map<std::string, u64>& inos) {
    for (const std::string& name : w.list(dir)) {
        const std::string p = dir + "/" + name;
        Stat st = w.stat_ok(p, AT_SYMLINK_NOFOLLOW);
        std::ostringstream line;
        line << std::oct << st.mode << std::dec << " n" << st.nlink << " " << st.uid << ":" << st.gid
             << " s" << (S_ISDIR(st.mode) ? 0 : st.size) << " m" << st.mtime.sec << " r" << st.rdev;
        if (S_ISLNK(st.mode)) line << " -> " << w.vfs.readlink(w.ctx(), w.cwd(), p).value();
        if (S_ISREG(st.mode)) line << " data" << std::hash<std::string>{}(w.read_file(p));
        out[rel + name] = line.str();
        inos[rel + name] = st.ino;
        if (S_ISDIR(st.mode)) our_listing(w, p, rel + name + "/", out, inos);
    }
}

// Which names share an inode, as sets of names.
template <typename Ino>
std::set<std::set<std::string>> link_groups(const std::map<std::string, Ino>& inos) {
    std::map<Ino, std::set<std::string>> by;
    for (const auto& [n, i] : inos) by[i].insert(n);
    std::set<std::set<std::string>> out;
    for (auto& [i, names] : by)
        if (names.size() > 1) out.insert(names);
    return out;
}

class CpioToolTest : public CpioTest {
protected:
    void SetUp() override {
        if (!kCpio) GTEST_SKIP() << "cpio(1) was not found when the tests were configured";
        MakeTree();
    }
    void MakeTree() {
        const bool root = ::geteuid() == 0;
        ASSERT_EQ(::mkdir(t.p("bin").c_str(), 0755), 0);
        ASSERT_EQ(::mkdir(t.p("etc").c_str(), 0750), 0);
        ASSERT_EQ(::mkdir(t.p("empty").c_str(), 0700), 0);
        ASSERT_EQ(::mkdir(t.p("a").c_str(), 0755), 0);
        ASSERT_EQ(::mkdir(t.p("a/b").c_str(), 0755), 0);
        ASSERT_EQ(::mkdir(t.p("a/b/c").c_str(), 01777), 0);
        ASSERT_EQ(::chmod(t.p("a/b/c").c_str(), 01777), 0);
        std::mt19937 rng(42);
        std::string random(150'000, '\0');
        for (char& c : random) c = static_cast<char>(rng());
        t.file("bin/busybox", random, 04755, 1'600'000'000);
        ASSERT_EQ(::link(t.p("bin/busybox").c_str(), t.p("bin/sh").c_str()), 0);
        ASSERT_EQ(::link(t.p("bin/busybox").c_str(), t.p("bin/ls").c_str()), 0);
        t.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", 0644, 1'500'000'000);
        t.file("etc/empty-file", "", 0600, 1'400'000'000);
        t.file("a/b/c/deep", std::string(4097, 'd'), 0640, 1'300'000'000);
        ASSERT_EQ(::symlink("../bin/busybox", t.p("etc/rel").c_str()), 0);
        ASSERT_EQ(::symlink("/bin/sh", t.p("abs").c_str()), 0);
        ASSERT_EQ(::symlink("nowhere", t.p("dangling").c_str()), 0);
        ASSERT_EQ(::symlink(std::string(200, 'L').c_str(), t.p("longlink").c_str()), 0);
        ASSERT_EQ(::mkfifo(t.p("fifo").c_str(), 0640), 0);
        ASSERT_EQ(::chmod(t.p("fifo").c_str(), 0640), 0);
        if (root) {
            ASSERT_EQ(::mknod(t.p("console").c_str(), S_IFCHR | 0600, makedev(5, 1)), 0);
            ASSERT_EQ(::mknod(t.p("sda").c_str(), S_IFBLK | 0660, makedev(8, 0)), 0);
            ASSERT_EQ(::lchown(t.p("etc/passwd").c_str(), 1234, 5678), 0);
            ASSERT_EQ(::lchown(t.p("etc/rel").c_str(), 42, 43), 0);
            ASSERT_EQ(::lchown(t.p("a/b").c_str(), 1000, 1000), 0);
        }
        for (const char* l : {"etc/rel", "abs", "dangling", "longlink"}) t.times(l, 1'200'000'000);
        for (const char* d : {"a/b/c", "a/b", "a", "bin", "etc", "empty"}) t.times(d, 1'100'000'000);
        t.times("fifo", 1'000'000'000);
        t.times(".", 900'000'000);
    }
    void ExpectSameAsHost() {
        std::map<std::string, std::string> host, ours;
        std::map<std::string, ino_t> host_inos;
        std::map<std::string, u64> our_inos;
        host_listing(t.dir, "", host, host_inos);
        our_listing(w, "root", "", ours, our_inos);
        EXPECT_EQ(ours, host);
        EXPECT_EQ(link_groups(our_inos), link_groups(host_inos));
        struct stat top{};
        ::stat(t.dir.c_str(), &top);
        EXPECT_EQ(w.stat_ok("root").mode, top.st_mode);
        EXPECT_EQ(w.stat_ok("root").mtime.sec, top.st_mtime);
    }
    HostTree t;
};

TEST_F(CpioToolTest, NewcFromCpioTool) {
    const std::string a = t.archive("newc");
    ASSERT_EQ(a.substr(0, 6), "070701");
    auto r = unpack(a);
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(r->hardlinks, 2u);
    EXPECT_EQ(r->files, 4u);
    ExpectSameAsHost();
}

TEST_F(CpioToolTest, CrcFromCpioTool) {
    const std::string a = t.archive("crc");
    ASSERT_EQ(a.substr(0, 6), "070702");
    auto r = unpack(a);
    ASSERT_TRUE(r) << r.error();
    ExpectSameAsHost();
}

TEST_F(CpioToolTest, EveryTruncationFailsCleanly) {
    const std::string a = t.archive("newc");
    // Every cut around each header and name, at the ends, and some at random.
    std::vector<size_t> cuts;
    for (size_t h = a.find("070701"); h != std::string::npos; h = a.find("070701", h + 1))
        for (size_t i = h > 8 ? h - 8 : 0; i < std::min(a.size(), h + 140); ++i) cuts.push_back(i);
    for (size_t i = a.size() > 300 ? a.size() - 300 : 0; i < a.size(); ++i) cuts.push_back(i);
    std::mt19937 rng(3);
    for (int i = 0; i < 200; ++i) cuts.push_back(rng() % a.size());
    int ok = 0;
    for (size_t cut : cuts) {
        World fresh(1024);
        fresh.mkdir_ok("root");
        auto r = unpack_cpio(fresh.vfs, fresh.path("root"), as_bytes(a.substr(0, cut)));
        if (r) {
            ++ok;  // cut exactly between entries
            continue;
        }
        EXPECT_EQ(r.error().rfind("initramfs: ", 0), 0u) << r.error();
        EXPECT_NE(r.error().find("truncated"), std::string::npos) << "cut at " << cut << ": " << r.error();
    }
    EXPECT_GT(ok, 0);
}

TEST_F(CpioToolTest, CorruptedBytesNeverCrash) {
    const std::string a = t.archive("crc");
    std::mt19937 rng(7);
    int failures = 0;
    for (int round = 0; round < 400; ++round) {
        std::string b = a;
        const int flips = 1 + static_cast<int>(rng() % 8);
        for (int i = 0; i < flips; ++i) {
            // Mostly in headers (the first KiB of each 4 KiB), sometimes anywhere.
            size_t pos = rng() % b.size();
            if (rng() % 4) pos = (pos & ~size_t{4095}) % b.size() + rng() % 512;
            if (pos < b.size()) b[pos] = static_cast<char>(rng());
        }
        World fresh(1024);
        fresh.mkdir_ok("root");
        auto r = unpack_cpio(fresh.vfs, fresh.path("root"), as_bytes(b));
        if (!r) {
            ++failures;
            EXPECT_EQ(r.error().rfind("initramfs: ", 0), 0u) << r.error();
        }
    }
    EXPECT_GT(failures, 100);
}

}  // namespace
}  // namespace vk::fs::test
