#include "pmap/phys_memory.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <limits>

namespace vk::pmap {
namespace {

PhysMemory make(u64 bytes) {
    auto mem = PhysMemory::create(bytes);
    if (!mem) ADD_FAILURE() << mem.error().message();
    return std::move(mem).value();
}

TEST(PhysMemory, SizeIsRoundedUpToWholePages) {
    EXPECT_EQ(make(0).size(), kPageSize);
    EXPECT_EQ(make(1).size(), kPageSize);
    EXPECT_EQ(make(kPageSize).size(), kPageSize);
    EXPECT_EQ(make(kPageSize + 1).size(), 2 * kPageSize);
    EXPECT_EQ(make(u64{1} << 20).size(), u64{1} << 20);
}

TEST(PhysMemory, FileHasTheSizeAndIsCloseOnExec) {
    PhysMemory mem = make(3 * kPageSize + 5);
    ASSERT_GE(mem.fd(), 0);
    EXPECT_EQ(::lseek(mem.fd(), 0, SEEK_END), static_cast<off_t>(4 * kPageSize));
    EXPECT_NE(::fcntl(mem.fd(), F_GETFD) & FD_CLOEXEC, 0);
}

TEST(PhysMemory, HostIsTheDirectMapOfTheFile) {
    PhysMemory mem = make(4 * kPageSize);
    EXPECT_EQ(mem.host(0), mem.base());
    EXPECT_EQ(mem.host(2 * kPageSize + 8), mem.base() + 2 * kPageSize + 8);
    *mem.host_as<u64>(2 * kPageSize + 8) = 0x1122334455667788;
    u64 v = 0;
    ASSERT_EQ(::pread(mem.fd(), &v, sizeof v, 2 * kPageSize + 8), static_cast<ssize_t>(sizeof v));
    EXPECT_EQ(v, 0x1122334455667788u);
    // Fresh memory reads as zero.
    EXPECT_EQ(*mem.host_as<u64>(3 * kPageSize), 0u);
}

TEST(PhysMemory, DropHostMappingKeepsContents) {
    PhysMemory mem = make(4 * kPageSize);
    std::memset(mem.host(kPageSize), 0xab, 2 * kPageSize);
    mem.drop_host_mapping(kPageSize, 2 * kPageSize);
    mem.drop_host_mapping(0);  // default length: one page
    for (u64 i = 0; i < 2 * kPageSize; ++i)
        ASSERT_EQ(static_cast<u8>(mem.host(kPageSize)[i]), 0xab);
    EXPECT_EQ(static_cast<u8>(mem.host(0)[0]), 0);
}

TEST(PhysMemory, MoveKeepsTheMapping) {
    PhysMemory a = make(kPageSize);
    std::byte* base = a.base();
    *a.host_as<u32>(0) = 7;
    PhysMemory b = std::move(a);
    EXPECT_EQ(b.base(), base);
    EXPECT_EQ(*b.host_as<u32>(0), 7u);
}

TEST(PhysMemory, ImpossibleSizeIsAHostError) {
    auto mem = PhysMemory::create(std::numeric_limits<u64>::max());
    ASSERT_FALSE(mem.has_value());
    EXPECT_NE(mem.error().err, 0);
    EXPECT_NE(mem.error().message().find("vkernel-ram"), std::string::npos);
}

TEST(PhysMemoryDeathTest, HostOutOfRangeAsserts) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    PhysMemory mem = make(kPageSize);
    EXPECT_DEATH((void)mem.host(kPageSize), "pa < size_");
}

}  // namespace
}  // namespace vk::pmap
