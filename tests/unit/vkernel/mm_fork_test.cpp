// Mm::fork on the real /dev/kvm: what the parent and the child map after a
// fork, with and without the copy-ahead of a small process's pages (taken
// only on shadow-paging KVM, PVM), and that neither side's writes reach the
// other's frames.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "pmap/frame_allocator.h"
#include "pmap/phys_memory.h"
#include "vkernel/mm.h"
#include "vmspace/machine.h"
#include "vmspace/vcpu.h"

using namespace vk;

namespace {

constexpr u64 kBase = 0x1000'0000;

class MmForkTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (::access("/dev/kvm", R_OK | W_OK) != 0) {
            if (std::getenv("CI")) FAIL() << "/dev/kvm is missing or not accessible, and CI is set";
            GTEST_SKIP() << "/dev/kvm is not available";
        }
        auto m = pmap::PhysMemory::create(64 << 20);
        ASSERT_TRUE(m) << m.error().message();
        mem_.emplace(std::move(m.value()));
        frames_.emplace(*mem_);
        auto machine = vmspace::Machine::create(*mem_, *frames_);
        ASSERT_TRUE(machine) << machine.error().message();
        machine_ = std::move(machine.value());
        // Creating a vCPU is what tells a PVM host apart.
        auto vcpu = vmspace::Vcpu::create(*machine_, 0);
        ASSERT_TRUE(vcpu) << vcpu.error().message();
        vcpu_ = std::move(vcpu.value());
        auto mm = Mm::create(*machine_, nullptr);
        ASSERT_TRUE(mm);
        mm_ = std::move(mm.value());
    }

    // A private anonymous read-write region of `pages`, every page written
    // (faulted in writable) with its index.
    void map_written(u64 pages) {
        Region r;
        r.start = kBase;
        r.end = kBase + pages * kPageSize;
        r.prot = kProtRead | kProtWrite;
        r.object = std::make_shared<VmObject>(*frames_);
        ASSERT_TRUE(mm_->map(std::move(r)));
        for (u64 i = 0; i < pages; i++) {
            ASSERT_TRUE(mm_->fault(kBase + i * kPageSize, Access::kWrite));
            const u64 v = i + 1;
            ASSERT_EQ(mm_->space().write(kBase + i * kPageSize, &v, sizeof v), sizeof v);
        }
    }

    u64 read(Mm& mm, u64 va) {
        u64 v = 0;
        EXPECT_EQ(mm.space().read(va, &v, sizeof v), sizeof v);
        return v;
    }

    std::optional<pmap::PhysMemory> mem_;
    std::optional<pmap::FrameAllocator> frames_;
    std::unique_ptr<vmspace::Machine> machine_;
    std::unique_ptr<vmspace::Vcpu> vcpu_;
    std::unique_ptr<Mm> mm_;
};

TEST_F(MmForkTest, SmallProcessKeepsItsPagesAndTheChildGetsCopiesOnPvm) {
    const u64 pages = 8;
    map_written(pages);
    auto child = mm_->fork(*machine_, true);
    ASSERT_TRUE(child);
    Mm& c = *child.value();
    for (u64 i = 0; i < pages; i++) {
        const u64 va = kBase + i * kPageSize;
        auto p = mm_->space().extract(va);
        auto q = c.space().extract(va);
        ASSERT_TRUE(p && q) << "page " << i;
        EXPECT_EQ(read(c, va), i + 1);
        if (machine_->is_pvm()) {
            // Copy-ahead: both writable, different frames.
            EXPECT_TRUE(p->prot & pmap::kProtWrite);
            EXPECT_TRUE(q->prot & pmap::kProtWrite);
            EXPECT_NE(p->frame, q->frame);
        } else {
            // Copy-on-write: one frame, read-only in both.
            EXPECT_FALSE(p->prot & pmap::kProtWrite);
            EXPECT_FALSE(q->prot & pmap::kProtWrite);
            EXPECT_EQ(p->frame, q->frame);
        }
    }
    // Writes after the fork stay on their side, whichever way was taken.
    for (u64 i = 0; i < pages; i++) {
        const u64 va = kBase + i * kPageSize;
        ASSERT_TRUE(mm_->fault(va, Access::kWrite));
        const u64 v = 100 + i;
        ASSERT_EQ(mm_->space().write(va, &v, sizeof v), sizeof v);
    }
    for (u64 i = 0; i < pages; i++) EXPECT_EQ(read(c, kBase + i * kPageSize), i + 1);
    ASSERT_TRUE(c.fault(kBase, Access::kWrite));
    const u64 v = 7;
    ASSERT_EQ(c.space().write(kBase, &v, sizeof v), sizeof v);
    EXPECT_EQ(read(*mm_, kBase), 100u);
}

TEST_F(MmForkTest, LargeProcessSharesCopyOnWrite) {
    const u64 pages = Mm::kForkCopyAhead + 1;
    map_written(pages);
    auto child = mm_->fork(*machine_, true);
    ASSERT_TRUE(child);
    Mm& c = *child.value();
    for (u64 i = 0; i < pages; i++) {
        const u64 va = kBase + i * kPageSize;
        auto p = mm_->space().extract(va);
        auto q = c.space().extract(va);
        ASSERT_TRUE(p && q) << "page " << i;
        EXPECT_FALSE(p->prot & pmap::kProtWrite);
        EXPECT_FALSE(q->prot & pmap::kProtWrite);
        EXPECT_EQ(p->frame, q->frame);
    }
    // A write breaks the sharing on one side only.
    ASSERT_TRUE(c.fault(kBase, Access::kWrite));
    const u64 v = 9;
    ASSERT_EQ(c.space().write(kBase, &v, sizeof v), sizeof v);
    EXPECT_EQ(read(*mm_, kBase), 1u);
    EXPECT_EQ(read(c, kBase), 9u);
}

TEST_F(MmForkTest, AnotherThreadForbidsCopyAhead) {
    map_written(4);
    auto child = mm_->fork(*machine_, false);
    ASSERT_TRUE(child);
    auto p = mm_->space().extract(kBase);
    auto q = child.value()->space().extract(kBase);
    ASSERT_TRUE(p && q);
    EXPECT_FALSE(p->prot & pmap::kProtWrite);
    EXPECT_EQ(p->frame, q->frame);
}

}  // namespace
