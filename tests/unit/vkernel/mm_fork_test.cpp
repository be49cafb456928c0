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
#include "tests/unit/kvm_test.h"
#include "vkernel/mm.h"
#include "vmspace/machine.h"
#include "vmspace/vcpu.h"

using namespace vk;

namespace {

constexpr u64 kBase = 0x1000'0000;

class MmForkTest : public KvmTest {
protected:
    void SetUp() override {
        KvmTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
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

    // After fork: every page mapped on both sides with its contents, and
    // either copied ahead (both writable, different frames) or shared
    // copy-on-write (one frame, read-only in both).
    void expect_forked(Mm& child, u64 pages, bool copied) {
        for (u64 i = 0; i < pages; i++) {
            const u64 va = kBase + i * kPageSize;
            auto p = mm_->space().extract(va);
            auto q = child.space().extract(va);
            ASSERT_TRUE(p && q) << "page " << i;
            EXPECT_EQ(read(child, va), i + 1);
            EXPECT_EQ(bool(p->prot & pmap::kProtWrite), copied) << "page " << i;
            EXPECT_EQ(bool(q->prot & pmap::kProtWrite), copied) << "page " << i;
            EXPECT_EQ(p->frame != q->frame, copied) << "page " << i;
        }
    }

    u64 read(Mm& mm, u64 va) {
        u64 v = 0;
        EXPECT_EQ(mm.space().read(va, &v, sizeof v), sizeof v);
        return v;
    }

    std::unique_ptr<Mm> mm_;
};

TEST_F(MmForkTest, SmallProcessKeepsItsPagesAndTheChildGetsCopiesOnPvm) {
    const u64 pages = 8;
    map_written(pages);
    auto child = mm_->fork(*machine_, true);
    ASSERT_TRUE(child);
    Mm& c = *child.value();
    expect_forked(c, pages, machine_->is_pvm());  // copy-ahead only on PVM
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
    expect_forked(c, pages, false);
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
    expect_forked(*child.value(), 4, false);
}

}  // namespace
