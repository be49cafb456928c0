#include "pmap/frame_allocator.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstring>
#include <set>
#include <thread>
#include <vector>

namespace vk::pmap {
namespace {

PhysMemory make(u64 bytes) {
    auto mem = PhysMemory::create(bytes);
    if (!mem) ADD_FAILURE() << mem.error().message();
    return std::move(mem).value();
}

bool all_zero(const PhysMemory& mem, PhysAddr pa) {
    const std::byte* p = mem.host(pa);
    for (u64 i = 0; i < kPageSize; ++i)
        if (p[i] != std::byte{0}) return false;
    return true;
}

TEST(FrameAllocator, CountsFramesFromFirst) {
    PhysMemory mem = make(64 * kPageSize);
    FrameAllocator all(mem);
    EXPECT_EQ(all.total_frames(), 64u);
    EXPECT_EQ(all.free_frames(), 64u);
    EXPECT_EQ(&all.memory(), &mem);

    FrameAllocator upper(mem, 16 * kPageSize);
    EXPECT_EQ(upper.total_frames(), 48u);
    for (int i = 0; i < 48; ++i) {
        auto pa = upper.alloc_uninit();
        ASSERT_TRUE(pa.has_value());
        EXPECT_GE(*pa, 16 * kPageSize);
        EXPECT_LT(*pa, mem.size());
    }
    EXPECT_EQ(upper.alloc_uninit().error(), Errno{ENOMEM});
}

TEST(FrameAllocator, AllocZeroesReusedFrames) {
    PhysMemory mem = make(8 * kPageSize);
    FrameAllocator frames(mem);
    const PhysAddr a = frames.alloc().value();
    EXPECT_TRUE(all_zero(mem, a));
    std::memset(mem.host(a), 0x5a, kPageSize);
    EXPECT_EQ(frames.unref(a), 0u);
    // The free list is LIFO, so the dirty frame comes straight back.
    const PhysAddr b = frames.alloc().value();
    EXPECT_EQ(b, a);
    EXPECT_TRUE(all_zero(mem, b));
    frames.unref(b);
}

TEST(FrameAllocator, RefcountsFreeAtZero) {
    PhysMemory mem = make(8 * kPageSize);
    FrameAllocator frames(mem);
    const PhysAddr pa = frames.alloc().value();
    EXPECT_EQ(frames.refcount(pa), 1u);
    EXPECT_EQ(frames.free_frames(), 7u);
    frames.ref(pa);
    frames.ref(pa);
    EXPECT_EQ(frames.refcount(pa), 3u);
    EXPECT_EQ(frames.unref(pa), 2u);
    EXPECT_EQ(frames.unref(pa), 1u);
    EXPECT_EQ(frames.free_frames(), 7u);
    EXPECT_EQ(frames.unref(pa), 0u);
    EXPECT_EQ(frames.refcount(pa), 0u);
    EXPECT_EQ(frames.free_frames(), 8u);
}

TEST(FrameAllocator, ExhaustionIsEnomemAndRecovers) {
    PhysMemory mem = make(32 * kPageSize);
    FrameAllocator frames(mem);
    std::set<PhysAddr> got;
    for (int i = 0; i < 32; ++i) {
        auto pa = i % 2 ? frames.alloc() : frames.alloc_uninit();
        ASSERT_TRUE(pa.has_value()) << i;
        EXPECT_TRUE(got.insert(*pa).second) << "frame handed out twice";
    }
    EXPECT_EQ(frames.free_frames(), 0u);
    EXPECT_EQ(frames.alloc().error(), Errno{ENOMEM});
    EXPECT_EQ(frames.alloc_uninit().error(), Errno{ENOMEM});

    const PhysAddr victim = *std::next(got.begin(), 7);
    frames.unref(victim);
    EXPECT_EQ(frames.free_frames(), 1u);
    auto again = frames.alloc();
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(*again, victim);
    EXPECT_EQ(frames.alloc().error(), Errno{ENOMEM});

    for (PhysAddr pa : got) EXPECT_EQ(frames.unref(pa), 0u);
    EXPECT_EQ(frames.free_frames(), 32u);
}

// A big memory must not be touched up front: only frames handed out are.
TEST(FrameAllocator, UntouchedFramesStayUnpopulated) {
    constexpr u64 kFrames = 16384;  // 64 MiB
    PhysMemory mem = make(kFrames * kPageSize);
    FrameAllocator frames(mem);
    for (int i = 0; i < 8; ++i) ASSERT_TRUE(frames.alloc().has_value());
    std::vector<unsigned char> resident(kFrames);
    ASSERT_EQ(::mincore(mem.base(), mem.size(), resident.data()), 0);
    u64 count = 0;
    for (unsigned char r : resident) count += r & 1;
    EXPECT_LE(count, 8u);
}

TEST(FrameAllocator, ConcurrentAllocAndFree) {
    PhysMemory mem = make(256 * kPageSize);
    FrameAllocator frames(mem);
    auto worker = [&] {
        for (int round = 0; round < 200; ++round) {
            std::vector<PhysAddr> mine;
            for (int i = 0; i < 64; ++i) mine.push_back(frames.alloc_uninit().value());
            for (PhysAddr pa : mine) {
                frames.ref(pa);
                frames.unref(pa);
                ASSERT_EQ(frames.unref(pa), 0u);
            }
        }
    };
    std::thread a(worker), b(worker);
    a.join();
    b.join();
    EXPECT_EQ(frames.free_frames(), 256u);
}

TEST(FrameAllocatorDeathTest, RefOrUnrefOfFreeFrameAsserts) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    PhysMemory mem = make(8 * kPageSize);
    FrameAllocator frames(mem);
    const PhysAddr pa = frames.alloc().value();
    frames.unref(pa);
    EXPECT_DEATH(frames.ref(pa), "assertion");
    EXPECT_DEATH(frames.unref(pa), "assertion");
    EXPECT_DEATH(frames.ref(8 * kPageSize), "assertion");  // outside the memory
    EXPECT_DEATH(frames.ref(kPageSize + 8), "assertion");  // not a frame address
}

TEST(FrameAllocator, TableFramesWaitInQuarantineForAShadowFlush) {
    PhysMemory mem = make(64 * kPageSize);
    FrameAllocator a(mem);
    int flushes = 0;
    std::size_t held_at_flush = 0;
    a.quarantine_tables([&] { ++flushes; held_at_flush = a.quarantined(); }, 3);
    std::vector<PhysAddr> tables;
    for (int i = 0; i < 3; ++i) tables.push_back(a.alloc().value());
    const u64 free_before = a.free_frames();
    a.unref_table(tables[0]);
    a.unref_table(tables[1]);
    // Held back: counted free, but not reused until the hypervisor forgot them.
    EXPECT_EQ(a.quarantined(), 2u);
    EXPECT_EQ(a.free_frames(), free_before + 2);
    EXPECT_EQ(flushes, 0);
    for (int i = 0; i < 8; ++i) {
        const PhysAddr p = a.alloc_uninit().value();
        EXPECT_NE(p, tables[0]);
        EXPECT_NE(p, tables[1]);
    }
    a.unref_table(tables[2]);  // the batch is full: one flush, then all free
    EXPECT_EQ(flushes, 1);
    EXPECT_EQ(held_at_flush, 0u) << "the frames leave the quarantine before the flush";
    EXPECT_EQ(a.quarantined(), 0u);
    EXPECT_EQ(a.shadow_flushes(), 1u);
    EXPECT_EQ(a.free_frames(), free_before - 8 + 3);
}

TEST(FrameAllocator, QuarantineIsFlushedRatherThanFailingAnAllocation) {
    PhysMemory mem = make(8 * kPageSize);
    FrameAllocator a(mem);
    int flushes = 0;
    a.quarantine_tables([&] { ++flushes; }, 100);
    std::vector<PhysAddr> got;
    while (auto p = a.alloc_uninit()) got.push_back(*p);
    ASSERT_EQ(got.size(), 8u);
    a.unref_table(got[5]);
    EXPECT_EQ(flushes, 0);
    auto again = a.alloc_uninit();
    ASSERT_TRUE(again.has_value()) << "ENOMEM while a quarantined frame could be freed";
    EXPECT_EQ(*again, got[5]);
    EXPECT_EQ(flushes, 1);
    EXPECT_EQ(a.alloc_uninit().error(), Errno{ENOMEM});
}

TEST(FrameAllocator, WithoutQuarantineTableFramesAreFreedAtOnce) {
    PhysMemory mem = make(8 * kPageSize);
    FrameAllocator a(mem);
    const PhysAddr t = a.alloc().value();
    const u64 before = a.free_frames();
    a.unref_table(t);
    EXPECT_EQ(a.free_frames(), before + 1);
    EXPECT_EQ(a.quarantined(), 0u);
}

TEST(FrameAllocator, ReclaimRunsBeforeEnomem) {
    PhysMemory mem = make(4 * kPageSize);
    FrameAllocator a(mem);
    std::vector<PhysAddr> got;
    while (auto p = a.alloc_uninit()) got.push_back(*p);
    ASSERT_EQ(got.size(), 4u);
    int calls = 0;
    a.set_reclaim([&] {
        ++calls;
        if (calls == 1) a.unref(got[2]);  // the first reclaim frees one frame
    });
    auto p = a.alloc_uninit();
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(*p, got[2]);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(a.alloc_uninit().error(), Errno{ENOMEM}) << "a reclaim that frees nothing";
    EXPECT_EQ(calls, 2);
}

}  // namespace
}  // namespace vk::pmap
