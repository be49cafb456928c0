#include "pmap/page_table.h"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <utility>
#include <vector>

namespace vk::pmap {

// Readable failure messages for the visitor's records.
void PrintTo(const PteInfo& info, std::ostream* os) {
    *os << "{frame=0x" << std::hex << info.frame << " prot=" << std::dec << info.prot << "}";
}

namespace {

// Raw x86-64 entry bits, written out again here so the tests check the
// encoding rather than repeat the implementation's constants.
constexpr u64 kP = 1ULL << 0;
constexpr u64 kRW = 1ULL << 1;
constexpr u64 kUS = 1ULL << 2;
constexpr u64 kA = 1ULL << 5;
constexpr u64 kD = 1ULL << 6;
constexpr u64 kNX = 1ULL << 63;
constexpr u64 kAddr = 0x000f'ffff'ffff'f000ULL;

constexpr u64 kPage = kPageSize;
constexpr u64 k2M = 1ULL << 21;
constexpr u64 k1G = 1ULL << 30;
constexpr u64 k512G = 1ULL << 39;
constexpr u64 kLowerEnd = 0x0000'8000'0000'0000ULL;
constexpr u64 kUpperStart = 0xffff'8000'0000'0000ULL;
constexpr u64 kLastPage = 0xffff'ffff'ffff'f000ULL;
constexpr u64 kKernelVa = 0xffff'ffff'8000'0000ULL;  // PML4 slot 511

constexpr u32 kRW_ = kProtRead | kProtWrite;
constexpr u32 kRWU = kProtRead | kProtWrite | kProtUser;
constexpr u32 kRU = kProtRead | kProtUser;
constexpr u32 kRX = kProtRead | kProtExec;

// Leaf frames are never touched by PageTable, so tests use made-up ones.
constexpr PhysAddr fake_frame(u64 n) { return 0x10'0000'0000ULL + n * kPage; }

using Event = std::pair<u64, PteInfo>;
using Events = std::vector<Event>;

PteVisitor recorder(Events& out) {
    return [&out](u64 va, PteInfo old) { out.emplace_back(va, old); };
}

// Tables a set of lower-half pages needs, root included.
u64 tables_for(const std::set<u64>& vas) {
    std::set<u64> pdpt, pd, pt;
    for (u64 va : vas) {
        pdpt.insert(va >> 39);
        pd.insert(va >> 30);
        pt.insert(va >> 21);
    }
    return 1 + pdpt.size() + pd.size() + pt.size();
}

class PageTableTest : public ::testing::Test {
protected:
    static constexpr u64 kFrames = 2048;  // 8 MiB

    static PhysMemory make_memory(u64 bytes) {
        auto mem = PhysMemory::create(bytes);
        if (!mem) ADD_FAILURE() << mem.error().message();
        return std::move(mem).value();
    }
    PageTable kernel_table() { return PageTable::create(frames_).value(); }
    PageTable user_table(const PageTable& kernel) {
        return PageTable::create_user(frames_, kernel).value();
    }

    // The raw entries on the way to `va`: PML4E, PDPTE, PDE, PTE (0 past an
    // absent one), read straight out of guest-physical memory.
    std::array<u64, 4> path(const PageTable& pt, u64 va) const {
        std::array<u64, 4> out{};
        PhysAddr table = pt.root();
        for (int level = 3, k = 0; level >= 0; --level, ++k) {
            out[k] = mem_.host_as<u64>(table)[(va >> (12 + 9 * level)) & 511];
            if (!(out[k] & kP)) break;
            table = out[k] & kAddr;
        }
        return out;
    }

    PhysMemory mem_ = make_memory(kFrames * kPage);
    FrameAllocator frames_{mem_};
};

TEST_F(PageTableTest, CreateTakesOneZeroedRoot) {
    {
        PageTable pt = kernel_table();
        EXPECT_EQ(pt.table_frames(), 1u);
        EXPECT_EQ(frames_.free_frames(), kFrames - 1);
        EXPECT_EQ(frames_.refcount(pt.root()), 1u);
        for (int i = 0; i < 512; ++i) ASSERT_EQ(mem_.host_as<u64>(pt.root())[i], 0u);
        EXPECT_FALSE(pt.extract(0).has_value());
    }
    EXPECT_EQ(frames_.free_frames(), kFrames);
}

TEST_F(PageTableTest, LeafBitsFollowProt) {
    struct Case {
        u32 prot;
        u64 bits;       // expected leaf bits besides the address
        u32 extracted;  // what extract() reports back
    };
    const Case cases[] = {
        {kProtRead, kP | kA | kNX, kProtRead},
        {kRW_, kP | kA | kRW | kD | kNX, kRW_},
        {kRX, kP | kA, kRX},
        {kRU, kP | kA | kUS | kNX, kRU},
        {kRWU | kProtExec, kP | kA | kRW | kD | kUS, kRWU | kProtExec},
        {kProtWrite, kP | kA | kRW | kD | kNX, kRW_},             // write implies read
        {kProtExec | kProtUser, kP | kA | kUS, kRX | kProtUser},  // exec implies read
    };
    PageTable pt = kernel_table();
    u64 n = 0;
    for (const Case& c : cases) {
        const u64 va = 0x40'0000 + n * kPage;
        ASSERT_TRUE(pt.enter(va, fake_frame(n), c.prot).has_value());
        const auto p = path(pt, va);
        for (int k = 0; k < 3; ++k) {
            // Intermediate entries grant everything: the leaf decides.
            EXPECT_EQ(p[k] & ~kAddr, kP | kRW | kUS | kA) << "level " << 3 - k;
        }
        EXPECT_EQ(p[3], fake_frame(n) | c.bits) << "prot " << c.prot;
        EXPECT_EQ(pt.extract(va), (PteInfo{fake_frame(n), c.extracted}));
        EXPECT_EQ(pt.extract(va + 123), (PteInfo{fake_frame(n), c.extracted}));
        ++n;
    }
    EXPECT_EQ(pt.table_frames(), 4u);
}

TEST_F(PageTableTest, EnterRejectsBadAddresses) {
    PageTable pt = kernel_table();
    EXPECT_EQ(pt.enter(0x1001, fake_frame(0), kRW_).error(), Errno{EINVAL});
    EXPECT_EQ(pt.enter(kLowerEnd, fake_frame(0), kRW_).error(), Errno{EINVAL});
    EXPECT_EQ(pt.enter(kUpperStart - kPage, fake_frame(0), kRW_).error(), Errno{EINVAL});
    EXPECT_EQ(pt.enter(0x1234'0000'0000'0000ULL, fake_frame(0), kRW_).error(), Errno{EINVAL});
    EXPECT_EQ(pt.table_frames(), 1u);
    EXPECT_FALSE(pt.extract(kLowerEnd).has_value());
}

TEST_F(PageTableTest, CanonicalEdges) {
    EXPECT_TRUE(PageTable::canonical(kLowerEnd - 1));
    EXPECT_FALSE(PageTable::canonical(kLowerEnd));
    EXPECT_FALSE(PageTable::canonical(kUpperStart - 1));
    EXPECT_TRUE(PageTable::canonical(kUpperStart));

    PageTable kernel = kernel_table();
    PageTable user = user_table(kernel);
    EXPECT_TRUE(user.enter(0x0000'7fff'ffff'f000ULL, fake_frame(1), kRWU).has_value());
    EXPECT_EQ(user.extract(0x0000'7fff'ffff'f000ULL), (PteInfo{fake_frame(1), kRWU}));
    EXPECT_EQ(user.enter(kLowerEnd, fake_frame(2), kRWU).error(), Errno{EINVAL});
    EXPECT_EQ(user.enter(kUpperStart, fake_frame(2), kRWU).error(), Errno{EINVAL});
    EXPECT_EQ(user.enter(kLastPage, fake_frame(2), kRWU).error(), Errno{EINVAL});

    EXPECT_TRUE(kernel.enter(kUpperStart, fake_frame(3), kRW_).has_value());
    EXPECT_TRUE(kernel.enter(kLastPage, fake_frame(4), kRW_).has_value());
    EXPECT_EQ(kernel.extract(kUpperStart), (PteInfo{fake_frame(3), kRW_}));
    EXPECT_EQ(kernel.extract(kLastPage), (PteInfo{fake_frame(4), kRW_}));
    EXPECT_EQ(path(kernel, kUpperStart)[3] & kAddr, fake_frame(3));
    EXPECT_EQ(path(kernel, kLastPage)[3] & kAddr, fake_frame(4));
}

TEST_F(PageTableTest, EnterReplacingReportsTheOldEntry) {
    PageTable pt = kernel_table();
    Events events;
    ASSERT_TRUE(pt.enter(0x5000, fake_frame(1), kRW_, recorder(events)).has_value());
    EXPECT_TRUE(events.empty()) << "a fresh page replaces nothing";
    ASSERT_TRUE(pt.enter(0x5000, fake_frame(2), kRU, recorder(events)).has_value());
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].first, 0x5000u);
    EXPECT_EQ(events[0].second, (PteInfo{fake_frame(1), kRW_}));
    EXPECT_EQ(pt.extract(0x5000), (PteInfo{fake_frame(2), kRU}));
    EXPECT_EQ(pt.table_frames(), 4u);
    // A replace without a visitor is fine too.
    ASSERT_TRUE(pt.enter(0x5000, fake_frame(3), kRU).has_value());
    EXPECT_EQ(pt.extract(0x5000), (PteInfo{fake_frame(3), kRU}));
}

TEST_F(PageTableTest, RemoveReportsAndFreesEmptyTables) {
    PageTable pt = kernel_table();
    const u64 free_before = frames_.free_frames();
    ASSERT_TRUE(pt.enter(0x1000, fake_frame(1), kRW_).has_value());
    ASSERT_TRUE(pt.enter(0x2000, fake_frame(2), kRX).has_value());
    EXPECT_EQ(pt.table_frames(), 4u);
    EXPECT_EQ(frames_.free_frames(), free_before - 3);

    Events events;
    pt.remove(0x1000, 0x2000, recorder(events));
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0], (Event{0x1000, {fake_frame(1), kRW_}}));
    EXPECT_FALSE(pt.extract(0x1000).has_value());
    EXPECT_EQ(pt.extract(0x2000), (PteInfo{fake_frame(2), kRX}));
    EXPECT_EQ(pt.table_frames(), 4u) << "the PT still holds 0x2000";

    events.clear();
    pt.remove(0, 0x10'0000, recorder(events));
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0], (Event{0x2000, {fake_frame(2), kRX}}));
    EXPECT_EQ(pt.table_frames(), 1u);
    EXPECT_EQ(frames_.free_frames(), free_before);
    EXPECT_EQ(mem_.host_as<u64>(pt.root())[0], 0u) << "the root's entry is cleared";

    // Removing again, or an empty range, is harmless.
    pt.remove(0, 0x10'0000, recorder(events));
    pt.remove(0x5000, 0x5000, recorder(events));
    pt.remove(0x6000, 0x5000, recorder(events));
    EXPECT_EQ(events.size(), 1u);
}

class BoundaryTest : public PageTableTest, public ::testing::WithParamInterface<u64> {};

TEST_P(BoundaryTest, RemoveAcrossTableBoundary) {
    const u64 b = GetParam();
    PageTable pt = kernel_table();
    const u64 free_before = frames_.free_frames();
    const std::set<u64> vas = {b - 2 * kPage, b - kPage, b, b + kPage};
    for (u64 va : vas) ASSERT_TRUE(pt.enter(va, fake_frame(va >> 12 & 0xffff), kRWU).has_value());
    EXPECT_EQ(pt.table_frames(), tables_for(vas));

    Events events;
    pt.remove(b - kPage, b + kPage, recorder(events));
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0], (Event{b - kPage, {fake_frame((b - kPage) >> 12 & 0xffff), kRWU}}));
    EXPECT_EQ(events[1], (Event{b, {fake_frame(b >> 12 & 0xffff), kRWU}}));
    EXPECT_TRUE(pt.extract(b - 2 * kPage).has_value());
    EXPECT_FALSE(pt.extract(b - kPage).has_value());
    EXPECT_FALSE(pt.extract(b).has_value());
    EXPECT_TRUE(pt.extract(b + kPage).has_value());
    EXPECT_EQ(pt.table_frames(), tables_for({b - 2 * kPage, b + kPage}));

    pt.remove(b + kPage, b + 2 * kPage);
    EXPECT_EQ(pt.table_frames(), tables_for({b - 2 * kPage}));
    pt.remove(b - 2 * kPage, b - kPage);
    EXPECT_EQ(pt.table_frames(), 1u);
    EXPECT_EQ(frames_.free_frames(), free_before);
}

TEST_P(BoundaryTest, RemoveWholeSpanFreesBothSides) {
    const u64 b = GetParam();
    PageTable pt = kernel_table();
    const u64 free_before = frames_.free_frames();
    for (u64 va = b - 4 * kPage; va < b + 4 * kPage; va += kPage)
        ASSERT_TRUE(pt.enter(va, fake_frame(1), kRW_).has_value());
    Events events;
    pt.remove(b - 4 * kPage, b + 4 * kPage, recorder(events));
    EXPECT_EQ(events.size(), 8u);
    EXPECT_EQ(pt.table_frames(), 1u);
    EXPECT_EQ(frames_.free_frames(), free_before);
}

TEST_P(BoundaryTest, ProtectAcrossTableBoundary) {
    const u64 b = GetParam();
    PageTable pt = kernel_table();
    const std::set<u64> vas = {b - 2 * kPage, b - kPage, b, b + kPage};
    for (u64 va : vas) ASSERT_TRUE(pt.enter(va, fake_frame(va >> 12 & 0xffff), kRWU).has_value());
    const u64 tables = pt.table_frames();
    const u64 free_before = frames_.free_frames();

    Events events;
    pt.protect(b - kPage, b + kPage, kRU, recorder(events));
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0], (Event{b - kPage, {fake_frame((b - kPage) >> 12 & 0xffff), kRWU}}));
    EXPECT_EQ(events[1], (Event{b, {fake_frame(b >> 12 & 0xffff), kRWU}}));
    EXPECT_EQ(pt.extract(b - 2 * kPage)->prot, kRWU);
    EXPECT_EQ(pt.extract(b - kPage)->prot, kRU);
    EXPECT_EQ(pt.extract(b)->prot, kRU);
    EXPECT_EQ(pt.extract(b + kPage)->prot, kRWU);
    EXPECT_EQ(path(pt, b)[3], fake_frame(b >> 12 & 0xffff) | kP | kA | kUS | kNX);

    // Nothing changes the second time, so nothing is reported.
    events.clear();
    pt.protect(b - kPage, b + kPage, kRU, recorder(events));
    EXPECT_TRUE(events.empty());
    // A wider range changes only the two pages still writable.
    pt.protect(b - 4 * kPage, b + 4 * kPage, kRU | kProtExec, recorder(events));
    EXPECT_EQ(events.size(), 4u);
    EXPECT_EQ(pt.extract(b + kPage)->prot, kRU | kProtExec);
    EXPECT_EQ(pt.table_frames(), tables);
    EXPECT_EQ(frames_.free_frames(), free_before) << "protect never allocates";
}

std::string boundary_name(const ::testing::TestParamInfo<u64>& info) {
    static const char* const kNames[] = {"2MiB", "1GiB", "512GiB", "Mixed", "Top512GiB"};
    return kNames[info.index];
}

INSTANTIATE_TEST_SUITE_P(Boundaries, BoundaryTest,
                         ::testing::Values(k2M, k1G, k512G, 3 * k512G + 5 * k1G + 7 * k2M,
                                           kLowerEnd - k512G),
                         boundary_name);

TEST_F(PageTableTest, ProtectSkipsAbsentPages) {
    PageTable pt = kernel_table();
    const u64 free_before = frames_.free_frames();
    Events events;
    pt.protect(0, kLowerEnd, kRU, recorder(events));
    EXPECT_TRUE(events.empty());
    EXPECT_EQ(pt.table_frames(), 1u);
    EXPECT_EQ(frames_.free_frames(), free_before);
    EXPECT_FALSE(pt.extract(0).has_value());
}

TEST_F(PageTableTest, DropAllReportsEveryLeafAndFreesTables) {
    PageTable pt = kernel_table();
    const u64 free_before = frames_.free_frames();
    std::map<u64, PteInfo> entered;
    const u64 vas[] = {
        0, kPage, k2M, k1G + kPage, 5 * k512G, kLowerEnd - kPage, kUpperStart, kKernelVa, kLastPage,
    };
    u64 n = 0;
    for (u64 va : vas) {
        const u32 prot = n % 2 ? kRWU : kRX;
        ASSERT_TRUE(pt.enter(va, fake_frame(n), prot).has_value());
        entered[va] = PteInfo{fake_frame(n), prot};
        ++n;
    }
    std::map<u64, PteInfo> dropped;
    pt.drop_all([&](u64 va, PteInfo old) {
        EXPECT_TRUE(dropped.emplace(va, old).second) << "reported twice: " << va;
    });
    EXPECT_EQ(dropped, entered);
    EXPECT_EQ(pt.table_frames(), 1u);
    EXPECT_EQ(frames_.free_frames(), free_before);
    for (int i = 0; i < 512; ++i) ASSERT_EQ(mem_.host_as<u64>(pt.root())[i], 0u);
    for (u64 va : vas) EXPECT_FALSE(pt.extract(va).has_value());
    // The table is usable again afterwards.
    ASSERT_TRUE(pt.enter(kKernelVa, fake_frame(1), kRW_).has_value());
    EXPECT_EQ(pt.table_frames(), 4u);
}

TEST_F(PageTableTest, DestructionFreesEveryFrame) {
    {
        PageTable kernel = kernel_table();
        ASSERT_TRUE(kernel.enter(kKernelVa, fake_frame(0), kRW_).has_value());
        PageTable user = user_table(kernel);
        for (u64 i = 0; i < 64; ++i)
            ASSERT_TRUE(user.enter(i * (k1G + k2M + kPage), fake_frame(i), kRWU).has_value());
        EXPECT_EQ(frames_.free_frames(), kFrames - user.table_frames() - kernel.table_frames());
    }
    EXPECT_EQ(frames_.free_frames(), kFrames);
}

TEST_F(PageTableTest, MovedFromOwnsNothing) {
    PageTable a = kernel_table();
    ASSERT_TRUE(a.enter(0x1000, fake_frame(1), kRW_).has_value());
    const PhysAddr root = a.root();
    PageTable b = std::move(a);
    EXPECT_EQ(a.table_frames(), 0u);
    EXPECT_EQ(b.table_frames(), 4u);
    EXPECT_EQ(b.root(), root);
    EXPECT_FALSE(a.extract(0x1000).has_value());
    a.drop_all();  // a no-op on a moved-from table
    EXPECT_EQ(frames_.free_frames(), kFrames - 4);
    { PageTable gone = std::move(a); }  // destroying an empty table frees nothing
    EXPECT_EQ(frames_.free_frames(), kFrames - 4);
    EXPECT_EQ(b.extract(0x1000), (PteInfo{fake_frame(1), kRW_}));

    // Assignment frees what the target held.
    PageTable c = kernel_table();
    ASSERT_TRUE(c.enter(k512G, fake_frame(2), kRW_).has_value());
    EXPECT_EQ(frames_.free_frames(), kFrames - 8);
    c = std::move(b);
    EXPECT_EQ(frames_.free_frames(), kFrames - 4);
    EXPECT_EQ(c.extract(0x1000), (PteInfo{fake_frame(1), kRW_}));
    EXPECT_FALSE(c.extract(k512G).has_value());
}

TEST_F(PageTableTest, UserTableSharesTheKernelUpperHalf) {
    PageTable kernel = kernel_table();
    ASSERT_TRUE(kernel.enter(kKernelVa, fake_frame(1), kRX).has_value());
    ASSERT_TRUE(kernel.enter(kUpperStart + kPage, fake_frame(2), kRW_).has_value());
    // The template's own lower half, which user tables do not see.
    ASSERT_TRUE(kernel.enter(0x1000, fake_frame(3), kRW_).has_value());
    const u64 kernel_tables = kernel.table_frames();
    PageTable user = user_table(kernel);
    EXPECT_EQ(user.table_frames(), 1u);

    const u64* kroot = mem_.host_as<u64>(kernel.root());
    const u64* uroot = mem_.host_as<u64>(user.root());
    for (int i = 0; i < 256; ++i) ASSERT_EQ(uroot[i], 0u) << i;
    for (int i = 256; i < 512; ++i) ASSERT_EQ(uroot[i], kroot[i]) << i;
    EXPECT_EQ(user.extract(kKernelVa), (PteInfo{fake_frame(1), kRX}));
    EXPECT_EQ(user.extract(kUpperStart + kPage), (PteInfo{fake_frame(2), kRW_}));
    EXPECT_FALSE(user.extract(0x1000).has_value());

    ASSERT_TRUE(user.enter(0x1000, fake_frame(4), kRWU).has_value());
    ASSERT_TRUE(user.enter(kLowerEnd - kPage, fake_frame(5), kRWU).has_value());
    EXPECT_EQ(kernel.extract(0x1000), (PteInfo{fake_frame(3), kRW_}));

    // protect and remove are clipped to the user's half.
    Events events;
    user.protect(kUpperStart, kLastPage, kProtRead, recorder(events));
    user.protect(0x2000, kLastPage, kRU, recorder(events));
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].first, kLowerEnd - kPage);
    EXPECT_EQ(kernel.extract(kKernelVa), (PteInfo{fake_frame(1), kRX}));
    EXPECT_EQ(kernel.extract(kUpperStart + kPage), (PteInfo{fake_frame(2), kRW_}));

    events.clear();
    user.remove(kLowerEnd - kPage, kLastPage, recorder(events));
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0], (Event{kLowerEnd - kPage, {fake_frame(5), kRU}}));
    EXPECT_TRUE(user.extract(kKernelVa).has_value());

    events.clear();
    user.drop_all(recorder(events));
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0], (Event{0x1000, {fake_frame(4), kRWU}}));
    EXPECT_EQ(user.table_frames(), 1u);
    for (int i = 256; i < 512; ++i) ASSERT_EQ(uroot[i], kroot[i]) << i;
    EXPECT_EQ(user.extract(kKernelVa), (PteInfo{fake_frame(1), kRX}));
    EXPECT_EQ(kernel.extract(kKernelVa), (PteInfo{fake_frame(1), kRX}));
    EXPECT_EQ(kernel.extract(0x1000), (PteInfo{fake_frame(3), kRW_}));
    EXPECT_EQ(kernel.table_frames(), kernel_tables);

    // Changes below the shared PDPTs show through every user table.
    ASSERT_TRUE(kernel.enter(kKernelVa + kPage, fake_frame(6), kRX).has_value());
    EXPECT_EQ(user.extract(kKernelVa + kPage), (PteInfo{fake_frame(6), kRX}));
}

TEST_F(PageTableTest, TemplateKeepsSharedPdptsWhenEmpty) {
    PageTable kernel = kernel_table();
    ASSERT_TRUE(kernel.enter(kKernelVa, fake_frame(1), kRX).has_value());
    PageTable user = user_table(kernel);
    Events events;
    kernel.remove(kUpperStart, kLastPage, recorder(events));
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].first, kKernelVa);
    // Root + the slot-511 PDPT, which user roots still point at.
    EXPECT_EQ(kernel.table_frames(), 2u);
    EXPECT_FALSE(user.extract(kKernelVa).has_value());
    ASSERT_TRUE(kernel.enter(kKernelVa, fake_frame(2), kRX).has_value());
    EXPECT_EQ(user.extract(kKernelVa), (PteInfo{fake_frame(2), kRX}));
    // The template's lower half is not shared and is freed as usual.
    ASSERT_TRUE(kernel.enter(0x1000, fake_frame(3), kRW_).has_value());
    const u64 tables = kernel.table_frames();
    kernel.remove(0, kLowerEnd);
    EXPECT_EQ(kernel.table_frames(), tables - 3);
}

TEST_F(PageTableTest, RangesSpanningTheHoleUseCanonicalAddresses) {
    PageTable pt = kernel_table();
    const u64 vas[] = {kPage, kLowerEnd - kPage, kUpperStart, kLastPage - kPage, kLastPage};
    for (u64 va : vas) ASSERT_TRUE(pt.enter(va, fake_frame(va >> 12 & 0xff), kRW_).has_value());
    Events events;
    pt.protect(kLowerEnd - kPage, kLastPage, kProtRead, recorder(events));
    ASSERT_EQ(events.size(), 3u);
    EXPECT_EQ(events[0].first, kLowerEnd - kPage);
    EXPECT_EQ(events[1].first, kUpperStart);
    EXPECT_EQ(events[2].first, kLastPage - kPage);
    events.clear();
    // A non-canonical start is clipped to the upper half.
    pt.remove(0x1234'0000'0000'0000ULL, kLastPage, recorder(events));
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0], (Event{kUpperStart, {fake_frame(kUpperStart >> 12 & 0xff), kProtRead}}));
    EXPECT_EQ(events[1].first, kLastPage - kPage);
    events.clear();
    pt.remove(0, kLastPage, recorder(events));
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].first, kPage);
    EXPECT_EQ(events[1].first, kLowerEnd - kPage);
    EXPECT_TRUE(pt.extract(kLastPage).has_value()) << "end is exclusive";
}

TEST_F(PageTableTest, SparseRemoveAndProtectAreFast) {
    PageTable kernel = kernel_table();
    PageTable user = user_table(kernel);
    ASSERT_TRUE(kernel.enter(kKernelVa, fake_frame(0), kRX).has_value());
    const u64 vas[] = {0, 1ULL << 46, kLowerEnd - kPage};
    for (u64 va : vas) ASSERT_TRUE(user.enter(va, fake_frame(1), kRWU).has_value());
    for (u64 va : vas) ASSERT_TRUE(kernel.enter(va, fake_frame(2), kRW_).has_value());

    const auto start = std::chrono::steady_clock::now();
    Events events;
    user.protect(0, kLowerEnd, kRU, recorder(events));
    user.remove(0, kLowerEnd, recorder(events));
    kernel.protect(0, kLastPage, kProtRead, recorder(events));
    kernel.remove(kUpperStart, kLastPage, recorder(events));
    kernel.remove(0, kLastPage, recorder(events));
    const auto elapsed = std::chrono::steady_clock::now() - start;
    // One pass per page would be 2^35 steps; per table it is a few thousand.
    EXPECT_LT(elapsed, std::chrono::milliseconds(500));
    EXPECT_EQ(events.size(), 3u + 3u + 4u + 1u + 3u);
    EXPECT_EQ(user.table_frames(), 1u);
    EXPECT_EQ(kernel.table_frames(), 2u);  // root + the shared slot-511 PDPT
}

TEST_F(PageTableTest, EnterOutOfMemoryFreesTheTablesItMade) {
    PhysMemory small = make_memory(16 * kPage);
    FrameAllocator frames(small);
    PageTable pt = PageTable::create(frames).value();
    std::vector<PhysAddr> hog;
    while (frames.free_frames() > 2) hog.push_back(frames.alloc().value());

    EXPECT_EQ(pt.enter(0x1000, fake_frame(1), kRW_).error(), Errno{ENOMEM});
    EXPECT_EQ(pt.table_frames(), 1u);
    EXPECT_EQ(frames.free_frames(), 2u);
    EXPECT_FALSE(pt.extract(0x1000).has_value());
    EXPECT_EQ(small.host_as<u64>(pt.root())[0], 0u);

    frames.unref(hog.back());
    hog.pop_back();
    ASSERT_TRUE(pt.enter(0x1000, fake_frame(1), kRW_).has_value());
    EXPECT_EQ(pt.table_frames(), 4u);
    EXPECT_EQ(frames.free_frames(), 0u);
    // Pages under existing tables need no new frame.
    ASSERT_TRUE(pt.enter(0x2000, fake_frame(2), kRW_).has_value());
    // A page in another PT fails, and keeps the tables the first page uses.
    EXPECT_EQ(pt.enter(k2M, fake_frame(3), kRW_).error(), Errno{ENOMEM});
    EXPECT_EQ(pt.table_frames(), 4u);
    EXPECT_EQ(pt.extract(0x2000), (PteInfo{fake_frame(2), kRW_}));

    for (PhysAddr pa : hog) frames.unref(pa);
    pt.drop_all();
    EXPECT_EQ(frames.free_frames(), frames.total_frames() - 1);
}

// Random operations near table boundaries, checked against a plain map.
TEST_F(PageTableTest, MatchesAModelUnderRandomOperations) {
    PageTable kernel = kernel_table();
    PageTable user = user_table(kernel);
    std::mt19937_64 rng(12345);
    const u64 bases[] = {0, k2M - 8 * kPage, k1G - 8 * kPage, k512G - 8 * kPage,
                         kLowerEnd - 16 * kPage};
    auto random_va = [&] { return bases[rng() % 5] + (rng() % 16) * kPage; };
    const u32 prots[] = {kProtRead, kRW_, kRX, kRU, kRWU, kRWU | kProtExec};
    std::map<u64, PteInfo> model;

    for (int step = 0; step < 4000; ++step) {
        Events events;
        const int op = static_cast<int>(rng() % 3);
        if (op == 0) {
            const u64 va = random_va();
            const PteInfo info{fake_frame(rng() % 1000), prots[rng() % 6]};
            ASSERT_TRUE(user.enter(va, info.frame, info.prot, recorder(events)).has_value());
            Events expected;
            if (auto it = model.find(va); it != model.end()) expected.emplace_back(va, it->second);
            ASSERT_EQ(events, expected);
            model[va] = PteInfo{info.frame, info.prot | kProtRead};
        } else {
            u64 a = random_va(), b = random_va() + kPage;
            if (a > b) std::swap(a, b);
            Events expected;
            const u32 prot = prots[rng() % 6] | kProtRead;
            for (auto it = model.lower_bound(a); it != model.end() && it->first < b;) {
                if (op == 1) {
                    expected.emplace_back(it->first, it->second);
                    it = model.erase(it);
                } else {
                    if (it->second.prot != prot) expected.emplace_back(it->first, it->second);
                    it->second.prot = prot;
                    ++it;
                }
            }
            if (op == 1)
                user.remove(a, b, recorder(events));
            else
                user.protect(a, b, prot, recorder(events));
            ASSERT_EQ(events, expected) << "step " << step << " op " << op;
        }
        std::set<u64> vas;
        for (const auto& [va, info] : model) vas.insert(va);
        ASSERT_EQ(user.table_frames(), tables_for(vas)) << "step " << step;
    }
    for (u64 base : bases)
        for (u64 va = base; va < base + 16 * kPage; va += kPage) {
            auto it = model.find(va);
            if (it == model.end())
                EXPECT_FALSE(user.extract(va).has_value());
            else
                EXPECT_EQ(user.extract(va), it->second);
        }
    std::map<u64, PteInfo> dropped;
    user.drop_all([&](u64 va, PteInfo old) { dropped[va] = old; });
    EXPECT_EQ(dropped, model);
    EXPECT_EQ(frames_.free_frames(), kFrames - 2);
}

TEST_F(PageTableTest, DeathOnBrokenPreconditions) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    PageTable pt = kernel_table();
    EXPECT_DEATH((void)pt.enter(0x1000, fake_frame(0), 0), "assertion");
    EXPECT_DEATH((void)pt.enter(0x1000, fake_frame(0), kProtUser), "assertion");
    EXPECT_DEATH((void)pt.enter(0x1000, fake_frame(0) + 8, kRW_), "assertion");
    EXPECT_DEATH(pt.remove(0x1000, 0x1800), "assertion");
    EXPECT_DEATH(pt.protect(0x1000, 0x2000, 0), "assertion");
}

}  // namespace
}  // namespace vk::pmap
