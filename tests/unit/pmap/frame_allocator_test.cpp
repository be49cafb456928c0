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

}  // namespace
}  // namespace vk::pmap
