// The executable image cache (vkernel/image_cache.h) over tmpfs and hostfs
// files, without KVM: hits give the same frames, copies of the templates
// copy on write, changed files are stale, the bounds hold, and every frame
// comes back.

#include "vkernel/image_cache.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "pmap/frame_allocator.h"
#include "pmap/phys_memory.h"
#include "vkernel/fs/file.h"
#include "vkernel/fs/tmpfs.h"
#include "vkernel/fs/vfs.h"
#include "vkernel/hostfs.h"
#include "vkernel/mm.h"

namespace vk {
namespace {

using Bytes = std::shared_ptr<const std::vector<std::byte>>;

class ImageCacheTest : public ::testing::Test {
protected:
    static constexpr u64 kFrames = 512;

    fs::Context ctx() const { return fs::Context{fsc_, cred_}; }

    // Makes (or rewrites in place) `name` with `pages` pages, page i filled
    // with the byte seed + i; returns its inode.
    std::shared_ptr<fs::Inode> write_file(const std::string& name, u64 pages, char seed) {
        auto f = vfs_.open(ctx(), vfs_.root(), name, O_WRONLY | O_CREAT | O_TRUNC, 0755);
        EXPECT_TRUE(f);
        if (!f) return nullptr;
        for (u64 i = 0; i < pages; i++) {
            const std::vector<std::byte> page(kPageSize, std::byte(seed + i));
            EXPECT_TRUE(f.value()->write(page));
        }
        return f.value()->inode().shared_from_this();
    }
    std::shared_ptr<fs::Inode> inode_of(const std::string& path) {
        auto where = vfs_.resolve(ctx(), vfs_.root(), path, fs::kLookupFollow);
        EXPECT_TRUE(where) << path;
        return where ? where->inode_ptr() : nullptr;
    }
    static Bytes read_all(fs::Inode& inode) {
        auto out = std::make_shared<std::vector<std::byte>>(inode.size());
        auto n = inode.read(0, *out);
        EXPECT_TRUE(n);
        out->resize(n ? *n : 0);
        return out;
    }
    // Adds `inode` as read now, with one segment over all of it.
    static std::shared_ptr<const CachedImage> add_whole(ImageCache& cache,
                                                        const std::shared_ptr<fs::Inode>& inode) {
        const fs::Stat st = inode->stat();
        Bytes bytes = read_all(*inode);
        const SegmentBytes seg{0, bytes->size()};
        return cache.add(inode, st, bytes, std::span<const SegmentBytes>(&seg, 1));
    }
    char byte_at(pmap::PhysAddr pa, u64 off = 0) {
        return static_cast<char>(mem_.host(pa)[off]);
    }

    pmap::PhysMemory mem_ = pmap::PhysMemory::create(kFrames * kPageSize).value();
    pmap::FrameAllocator frames_{mem_};
    fs::Vfs vfs_{fs::Tmpfs::create(frames_)};
    fs::FsContext fsc_ = vfs_.initial_context();
    fs::Credentials cred_ = fs::Credentials::root();
};

TEST_F(ImageCacheTest, HitAfterMissGivesTheSameFrames) {
    ImageCache cache(frames_);
    auto inode = write_file("/prog", 3, 'a');
    const fs::Stat st = inode->stat();
    Bytes bytes = read_all(*inode);
    // Two segments as a loader makes them: text from the start, data with a
    // lead into its first page and a file part that ends mid-page.
    const SegmentBytes segs[] = {{0, 2 * kPageSize}, {2 * kPageSize, 100}};
    auto added = cache.add(inode, st, bytes, std::span<const SegmentBytes>(segs));
    ASSERT_TRUE(added);
    ASSERT_EQ(added->segments.size(), 2u);
    EXPECT_TRUE(added->elf);
    EXPECT_EQ(cache.pages(), 3u);
    EXPECT_EQ(cache.bytes_held(), 3 * kPageSize);
    // Every file page is made, filled from the bytes; nothing past the file part.
    const VmObject& text = *added->segments[0];
    const VmObject& data = *added->segments[1];
    EXPECT_EQ(text.resident(), 2u);
    EXPECT_EQ(data.resident(), 1u);
    EXPECT_EQ(byte_at(text.lookup(0).value()), 'a');
    EXPECT_EQ(byte_at(text.lookup(1).value()), 'b');
    EXPECT_EQ(byte_at(data.lookup(0).value(), 99), 'c');
    EXPECT_EQ(byte_at(data.lookup(0).value(), 100), '\0') << "beyond the file part: zero";

    auto hit = cache.find(*inode);
    ASSERT_TRUE(hit);
    EXPECT_EQ(hit, added);
    EXPECT_EQ(hit->bytes, bytes) << "a hit gives the bytes read before, not a new read";
    EXPECT_EQ(hit->segments[0]->lookup(0), text.lookup(0));
    EXPECT_EQ(hit->segments[0]->lookup(1), text.lookup(1));
    EXPECT_EQ(hit->segments[1]->lookup(0), data.lookup(0));
    // ... and the same again through the inode a new lookup finds.
    auto again = cache.find(*inode_of("/prog"));
    EXPECT_EQ(again, added);
}

TEST_F(ImageCacheTest, CopyOfATemplateCopiesOnWrite) {
    ImageCache cache(frames_);
    auto image = add_whole(cache, write_file("/prog", 2, 'a'));
    ASSERT_TRUE(image);
    const VmObject& tmpl = *image->segments[0];
    const pmap::PhysAddr shared = tmpl.lookup(0).value();

    auto copy = tmpl.cow_copy();
    EXPECT_EQ(copy->lookup(0), shared) << "a copy shares the template's frames";
    EXPECT_EQ(frames_.refcount(shared), 2u);
    // What a process's write fault does (mprotect'ed text written, or data).
    auto mine = copy->make_private(0);
    ASSERT_TRUE(mine);
    EXPECT_NE(mine.value(), shared);
    mem_.host(mine.value())[0] = std::byte{'X'};
    EXPECT_EQ(tmpl.lookup(0), shared);
    EXPECT_EQ(byte_at(shared), 'a') << "the template's frame never changes";
    EXPECT_EQ(byte_at(mine.value()), 'X');
    EXPECT_EQ(frames_.refcount(shared), 1u);
    // The next process still gets the template's contents.
    auto next = tmpl.cow_copy();
    EXPECT_EQ(byte_at(next->page(0).value().pa), 'a');
}

TEST_F(ImageCacheTest, RewrittenFileIsStale) {
    ImageCache cache(frames_);
    auto inode = write_file("/prog", 2, 'a');
    ASSERT_TRUE(add_whole(cache, inode));
    ASSERT_TRUE(cache.find(*inode));

    // In place, same size: only the time stamps tell.
    auto f = vfs_.open(ctx(), vfs_.root(), "/prog", O_WRONLY, 0);
    ASSERT_TRUE(f);
    const std::vector<std::byte> z(10, std::byte{'z'});
    ASSERT_TRUE(f.value()->pwrite(z, 0));
    EXPECT_EQ(inode->size(), 2 * kPageSize);
    EXPECT_FALSE(cache.find(*inode));
    EXPECT_EQ(cache.entries(), 0u) << "a stale entry is dropped";
    EXPECT_EQ(cache.pages(), 0u);

    // Read again, cached again; then a size change (O_TRUNC and a shorter file).
    ASSERT_TRUE(add_whole(cache, inode));
    ASSERT_TRUE(cache.find(*inode));
    write_file("/prog", 1, 'q');
    EXPECT_FALSE(cache.find(*inode));
}

TEST_F(ImageCacheTest, EachStatFieldCounts) {
    auto inode = write_file("/prog", 1, 'a');
    Bytes bytes = read_all(*inode);
    const fs::Stat now = inode->stat();
    auto changed = [&](auto change) {
        ImageCache cache(frames_);
        fs::Stat st = now;
        change(st);
        EXPECT_TRUE(cache.add(inode, st, bytes, std::nullopt));
        return !cache.find(*inode);
    };
    EXPECT_FALSE(changed([](fs::Stat&) {})) << "unchanged: a hit";
    EXPECT_TRUE(changed([](fs::Stat& s) { s.size += 1; }));
    EXPECT_TRUE(changed([](fs::Stat& s) { s.mtime.nsec ^= 1; }));
    EXPECT_TRUE(changed([](fs::Stat& s) { s.ctime.sec -= 1; }));
    EXPECT_TRUE(changed([](fs::Stat& s) { s.ino += 1; }));
    EXPECT_TRUE(changed([](fs::Stat& s) { s.dev += 1; }));
}

TEST_F(ImageCacheTest, SharedMappingMakesItStale) {
    // A write through a MAP_SHARED mapping changes no time stamp.
    ImageCache cache(frames_);
    auto inode = write_file("/prog", 1, 'a');
    ASSERT_TRUE(add_whole(cache, inode));
    const fs::Stat before = inode->stat();
    {
        auto shared = VmObject::file_shared(frames_, inode);
        auto pa = shared->page(0);
        ASSERT_TRUE(pa);
        mem_.host(pa->pa)[0] = std::byte{'W'};
    }
    EXPECT_EQ(inode->stat().mtime, before.mtime) << "only the shared object tells";
    EXPECT_EQ(inode->stat().ctime, before.ctime);
    EXPECT_FALSE(cache.find(*inode)) << "mapped shared since the entry was made, now unmapped";

    // Cached again, with what was written; a private mapping is no reason.
    auto image = add_whole(cache, inode);
    ASSERT_TRUE(image);
    EXPECT_EQ(byte_at(image->segments[0]->lookup(0).value()), 'W');
    auto priv = VmObject::file_private(frames_, inode);
    EXPECT_EQ(cache.find(*inode), image);

    auto shared = VmObject::file_shared(frames_, inode);
    EXPECT_FALSE(cache.find(*inode)) << "mapped shared now";
    EXPECT_FALSE(add_whole(cache, inode)) << "not cached while mapped shared";
    EXPECT_EQ(cache.entries(), 0u);
}

TEST_F(ImageCacheTest, LeastRecentlyUsedGoesFirst) {
    ImageCache cache(frames_, ImageCache::Limits{.max_entries = 3, .max_pages = 100});
    std::vector<std::shared_ptr<fs::Inode>> files;
    for (int i = 0; i < 5; i++) files.push_back(write_file("/p" + std::to_string(i), 1, 'a'));
    for (int i = 0; i < 3; i++) ASSERT_TRUE(add_whole(cache, files[i]));
    EXPECT_EQ(cache.entries(), 3u);
    ASSERT_TRUE(cache.find(*files[0]));  // now p1 is the least recently used
    ASSERT_TRUE(add_whole(cache, files[3]));
    EXPECT_EQ(cache.entries(), 3u);
    EXPECT_FALSE(cache.find(*files[1]));
    EXPECT_TRUE(cache.find(*files[2]));
    EXPECT_TRUE(cache.find(*files[0]));
    EXPECT_TRUE(cache.find(*files[3]));
    ASSERT_TRUE(add_whole(cache, files[4]));  // p2 goes
    EXPECT_FALSE(cache.find(*files[2]));
    EXPECT_EQ(cache.pages(), 3u);
}

TEST_F(ImageCacheTest, PageBudget) {
    ImageCache cache(frames_, ImageCache::Limits{.max_pages = 8});
    auto a = write_file("/a", 3, 'a');
    auto b = write_file("/b", 3, 'b');
    auto c = write_file("/c", 4, 'c');
    auto big = write_file("/big", 5, 'x');
    ASSERT_TRUE(add_whole(cache, a));
    ASSERT_TRUE(add_whole(cache, b));
    EXPECT_EQ(cache.pages(), 6u);
    // More than half the budget: not cached, nothing evicted, no frame kept.
    const u64 free_before = frames_.free_frames();
    EXPECT_FALSE(add_whole(cache, big));
    EXPECT_EQ(cache.entries(), 2u);
    EXPECT_EQ(frames_.free_frames(), free_before);
    // 4 more pages: the least recently used (a) makes room.
    ASSERT_TRUE(add_whole(cache, c));
    EXPECT_EQ(cache.pages(), 7u);
    EXPECT_FALSE(cache.find(*a));
    EXPECT_TRUE(cache.find(*b));
    EXPECT_TRUE(cache.find(*c));
    // The default budget is 1/16 of the frames.
    EXPECT_EQ(ImageCache(frames_).limits().max_pages, kFrames / 16);
}

TEST_F(ImageCacheTest, ByteBudget) {
    ImageCache cache(frames_, ImageCache::Limits{.max_pages = 100, .max_bytes = 4 * kPageSize});
    auto a = write_file("/a", 2, 'a');
    auto b = write_file("/b", 1, 'b');
    auto c = write_file("/c", 2, 'c');
    auto big = write_file("/big", 3, 'x');
    ASSERT_TRUE(add_whole(cache, a));
    ASSERT_TRUE(add_whole(cache, b));
    EXPECT_FALSE(add_whole(cache, big)) << "more than half the byte budget";
    ASSERT_TRUE(add_whole(cache, c));
    EXPECT_EQ(cache.bytes_held(), 3 * kPageSize);
    EXPECT_FALSE(cache.find(*a));
}

TEST_F(ImageCacheTest, ClearGivesEveryFrameBack) {
    std::vector<std::shared_ptr<fs::Inode>> files;
    for (int i = 0; i < 4; i++) files.push_back(write_file("/p" + std::to_string(i), 3, 'a'));
    const u64 free0 = frames_.free_frames();
    ImageCache cache(frames_);
    for (auto& f : files) ASSERT_TRUE(add_whole(cache, f));
    EXPECT_EQ(frames_.free_frames(), free0 - 12);
    {
        // A process's copy keeps what it maps, and only that, after a clear.
        auto image = cache.find(*files[0]);
        ASSERT_TRUE(image);
        auto copy = image->segments[0]->cow_copy();
        image.reset();
        cache.clear();
        EXPECT_EQ(cache.entries(), 0u);
        EXPECT_EQ(cache.pages(), 0u);
        EXPECT_EQ(cache.bytes_held(), 0u);
        EXPECT_EQ(frames_.free_frames(), free0 - 3);
        EXPECT_EQ(byte_at(copy->lookup(2).value()), 'c');
    }
    EXPECT_EQ(frames_.free_frames(), free0);
    // Destroying a cache gives them back too.
    {
        ImageCache other(frames_);
        ASSERT_TRUE(add_whole(other, files[1]));
        EXPECT_LT(frames_.free_frames(), free0);
    }
    EXPECT_EQ(frames_.free_frames(), free0);
}

TEST_F(ImageCacheTest, OutOfFramesWhileFillingIsNoEntry) {
    auto inode = write_file("/prog", 8, 'a');
    const u64 free0 = frames_.free_frames();
    // Leave 5 frames: the templates need 8.
    std::vector<pmap::PhysAddr> held;
    while (frames_.free_frames() > 5) held.push_back(frames_.alloc().value());
    ImageCache cache(frames_, ImageCache::Limits{.max_pages = 100});
    EXPECT_FALSE(add_whole(cache, inode));
    EXPECT_EQ(cache.entries(), 0u);
    EXPECT_EQ(frames_.free_frames(), 5u) << "the frames made before it ran out are back";
    for (auto pa : held) frames_.unref(pa);
    EXPECT_EQ(frames_.free_frames(), free0);
    EXPECT_TRUE(add_whole(cache, inode));
}

TEST_F(ImageCacheTest, NoTemplatesWhenFramesRunLow) {
    auto inode = write_file("/prog", 2, 'a');
    std::vector<pmap::PhysAddr> held;
    while (frames_.free_frames() > 40) held.push_back(frames_.alloc().value());
    ImageCache cache(frames_, ImageCache::Limits{.max_pages = 100, .min_free_frames = 41});
    EXPECT_FALSE(add_whole(cache, inode));
    EXPECT_EQ(frames_.free_frames(), 40u) << "not one frame taken";
    // A script takes no frames: still cached.
    EXPECT_TRUE(cache.add(inode, inode->stat(), read_all(*inode), std::nullopt));
    frames_.unref(held.back());
    EXPECT_TRUE(add_whole(cache, inode));
    held.pop_back();
    for (auto pa : held) frames_.unref(pa);
    // The default: as many free frames as the page budget.
    EXPECT_EQ(ImageCache(frames_).limits().min_free_frames, kFrames / 16);
}

TEST_F(ImageCacheTest, ScriptsKeepBytesOnly) {
    ImageCache cache(frames_);
    auto f = vfs_.open(ctx(), vfs_.root(), "/s", O_WRONLY | O_CREAT, 0755);
    ASSERT_TRUE(f);
    const std::string text = "#!/bin/sh\necho hi\n";
    ASSERT_TRUE(f.value()->write(std::as_bytes(std::span(text.data(), text.size()))));
    auto inode = f.value()->inode().shared_from_this();
    const u64 free0 = frames_.free_frames();
    auto image = cache.add(inode, inode->stat(), read_all(*inode), std::nullopt);
    ASSERT_TRUE(image);
    EXPECT_FALSE(image->elf);
    EXPECT_TRUE(image->segments.empty());
    EXPECT_EQ(cache.pages(), 0u);
    EXPECT_EQ(frames_.free_frames(), free0);
    EXPECT_EQ(cache.find(*inode), image);
}

TEST_F(ImageCacheTest, RemovedTmpfsFileIsNotKeptAlive) {
    // A removed file's frames go back when its last user lets go, cache or not.
    auto* tmpfs = dynamic_cast<fs::Tmpfs*>(&vfs_.root().mount->fs());
    ASSERT_NE(tmpfs, nullptr);
    const u64 used0 = tmpfs->pages_used();
    ImageCache cache(frames_);
    {
        auto inode = write_file("/gone", 4, 'a');
        ASSERT_TRUE(add_whole(cache, inode));
    }
    EXPECT_EQ(tmpfs->pages_used(), used0 + 4);
    ASSERT_TRUE(vfs_.unlink(ctx(), vfs_.root(), "/gone"));
    EXPECT_EQ(tmpfs->pages_used(), used0);
    // Its entry goes at the next walk.
    auto other = write_file("/other", 1, 'a');
    EXPECT_FALSE(cache.find(*other));
    EXPECT_EQ(cache.entries(), 0u);
    EXPECT_EQ(cache.pages(), 0u);
}

// hostfs: the inode is held (hostfs keeps live inodes only weakly), and a
// host file rewritten between two lookups is stale.
class ImageCacheHostTest : public ImageCacheTest {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/vk_image_cache_test.XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        host_ = tmpl;
        auto h = HostFs::create(host_);
        ASSERT_TRUE(h) << h.error().message();
        ASSERT_TRUE(vfs_.mkdir(ctx(), vfs_.root(), "/mnt", 0755));
        ASSERT_TRUE(vfs_.mount(ctx(), vfs_.root(), "/mnt", std::move(h.value()), MS_RDONLY, host_));
    }
    void TearDown() override { std::filesystem::remove_all(host_); }
    void write_host(const std::string& name, const std::string& text) {
        std::ofstream(host_ + "/" + name, std::ios::trunc) << text;
    }
    std::string host_;
};

TEST_F(ImageCacheHostTest, HostFileRewrittenIsStale) {
    write_host("prog", std::string(5000, 'a'));
    // Changed a moment ago: its time stamps could not show a rewrite in the
    // same clock tick, so it is not cached yet.
    EXPECT_FALSE(add_whole(*std::make_unique<ImageCache>(frames_), inode_of("/mnt/prog")));
    std::this_thread::sleep_for(std::chrono::milliseconds(150));

    ImageCache cache(frames_);
    const fs::Inode* first = nullptr;
    {
        auto inode = inode_of("/mnt/prog");
        first = inode.get();
        ASSERT_TRUE(add_whole(cache, inode));
    }
    // Nobody but the cache holds the inode: a new lookup must find the same one.
    auto inode = inode_of("/mnt/prog");
    EXPECT_EQ(inode.get(), first);
    auto image = cache.find(*inode);
    ASSERT_TRUE(image);
    EXPECT_EQ(static_cast<char>((*image->bytes)[0]), 'a');

    write_host("prog", std::string(5000, 'b'));  // in place, same size
    EXPECT_FALSE(cache.find(*inode_of("/mnt/prog")));
    EXPECT_EQ(cache.entries(), 0u);
}

}  // namespace
}  // namespace vk
