// vmspace on the real /dev/kvm: every trap kind, register round trips,
// isolation, TLB coherence after host edits, kicks from another thread.

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "guest_code.h"
#include "tests/unit/kvm_test.h"
#include "pmap/frame_allocator.h"
#include "pmap/phys_memory.h"
#include "vmspace/layout.h"
#include "vmspace/machine.h"
#include "vmspace/vcpu.h"
#include "vmspace/vmspace.h"

using namespace vk;
using namespace vk::vmspace;
using pmap::kProtExec;
using pmap::kProtRead;
using pmap::kProtWrite;

namespace {

constexpr u64 kCode = 0x40'0000;
constexpr u64 kData = 0x60'0000;
constexpr u64 kStack = 0x7fff'0000;

class VmspaceTest : public KvmTest {
protected:
    void SetUp() override {
        KvmTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        space_ = new_space();
    }

    std::unique_ptr<VmSpace> new_space() {
        auto s = VmSpace::create(*machine_);
        EXPECT_TRUE(s);
        return std::move(s.value());
    }

    pmap::PhysAddr frame() {
        auto f = frames_->alloc();
        EXPECT_TRUE(f);
        return f.value();
    }

    // Copies `code` to a fresh frame mapped at kCode in `s`; sets rip/rsp.
    void load(VmSpace& s, GuestCode code) {
        const auto f = frame();
        std::memcpy(mem_->host(f), code.start, code.size);
        ASSERT_TRUE(s.enter(kCode, f, kProtRead | kProtExec));
        const auto st = frame();
        ASSERT_TRUE(s.enter(kStack - kPageSize, st, kProtRead | kProtWrite));
        regs_ = {};
        regs_.rip = kCode;
        regs_.rsp = kStack;
    }

    Trap run(VmSpace& s) {
        auto t = vcpu_->run(s, regs_);
        EXPECT_TRUE(t) << t.error().message();
        return t ? t.value() : Trap{};
    }
    Trap run() { return run(*space_); }

    std::unique_ptr<VmSpace> space_;
    UserRegs regs_;
};

TEST_F(VmspaceTest, SyscallTrapsAndResumes) {
    load(*space_, VK_CODE(g_syscall_loop));
    regs_.rax = 39;
    for (int i = 0; i < 100; i++) {
        Trap t = run();
        ASSERT_EQ(t.kind, TrapKind::kSyscall);
        EXPECT_EQ(regs_.rax, 39u + i);
        EXPECT_EQ(regs_.rip, kCode + 2);  // past the 2-byte syscall
        EXPECT_EQ(regs_.rcx, regs_.rip);
        regs_.rax++;
    }
}

TEST_F(VmspaceTest, GeneralRegistersSurviveBitForBit) {
    load(*space_, VK_CODE(g_regs));
    ASSERT_EQ(run().kind, TrapKind::kSyscall);
    UserRegs want = regs_;
    u64 v = 0x0123'4567'89ab'cdefULL;
    for (u64* p : {&want.rax, &want.rbx, &want.rdx, &want.rsi, &want.rdi, &want.rbp, &want.r8,
                   &want.r9, &want.r10, &want.r12, &want.r13, &want.r14, &want.r15}) {
        *p = v;
        v = v * 6364136223846793005ULL + 1442695040888963407ULL;
    }
    want.rflags = 0x202 | 0x1 | 0x40 | 0x80 | 0x800 | 0x400;  // CF ZF SF OF DF
    regs_ = want;
    ASSERT_EQ(run().kind, TrapKind::kSyscall);
    for (int i = 0; i < 16; i++) {
        if (i == 2 || i == 11 || i == 6) continue;  // rcx, r11 clobbered by syscall; rsp checked below
        EXPECT_EQ((&regs_.rax)[i], (&want.rax)[i]) << "register index " << i;
    }
    EXPECT_EQ(regs_.rsp, want.rsp);
    EXPECT_EQ(regs_.rflags & 0xcd5, want.rflags & 0xcd5);
    EXPECT_EQ(regs_.r11 & 0xcd5, want.rflags & 0xcd5);
}

TEST_F(VmspaceTest, FlagsReachTheGuest) {
    load(*space_, VK_CODE(g_flags));
    regs_.rflags = 0x202 | 0x1 | 0x800;
    ASSERT_EQ(run().kind, TrapKind::kSyscall);
    EXPECT_EQ(regs_.rax & 0xcd5, 0x801u);
    EXPECT_TRUE(regs_.rax & 0x200);  // IF stays set
}

TEST_F(VmspaceTest, XmmRegistersSurviveExits) {
    load(*space_, VK_CODE(g_xmm));
    const auto in = frame(), out = frame();
    ASSERT_TRUE(space_->enter(kData, in, kProtRead));
    ASSERT_TRUE(space_->enter(kData + kPageSize, out, kProtRead | kProtWrite));
    for (int i = 0; i < 48; i++) mem_->host(in)[i] = std::byte(i * 7 + 3);
    regs_.rdi = kData;
    regs_.rsi = kData + kPageSize;
    ASSERT_EQ(run().kind, TrapKind::kSyscall);
    ASSERT_EQ(run().kind, TrapKind::kSyscall);
    EXPECT_EQ(std::memcmp(mem_->host(in), mem_->host(out), 48), 0);
}

TEST_F(VmspaceTest, FsBaseIsPerThread) {
    load(*space_, VK_CODE(g_fs));
    const auto d = frame();
    ASSERT_TRUE(space_->enter(kData, d, kProtRead));
    const u64 v1 = 0x1111, v2 = 0x2222;
    std::memcpy(mem_->host(d) + 64, &v1, 8);
    std::memcpy(mem_->host(d) + 128, &v2, 8);
    regs_.fs_base = kData + 64;
    ASSERT_EQ(run().kind, TrapKind::kSyscall);
    EXPECT_EQ(regs_.rax, v1);
    EXPECT_EQ(regs_.fs_base, kData + 64);
    UserRegs other = regs_;
    other.rip = kCode;
    other.fs_base = kData + 128;
    regs_ = other;
    ASSERT_EQ(run().kind, TrapKind::kSyscall);
    EXPECT_EQ(regs_.rax, v2);
}

TEST_F(VmspaceTest, PageFaultsReportAddressAndKind) {
    load(*space_, VK_CODE(g_load));
    regs_.rdi = 0x1234'5678;
    Trap t = run();
    ASSERT_EQ(t.kind, TrapKind::kPageFault);
    EXPECT_EQ(t.vector, kVecPageFault);
    EXPECT_EQ(t.address, 0x1234'5678u);
    EXPECT_FALSE(t.present());
    EXPECT_FALSE(t.write());
    EXPECT_TRUE(t.user());
    EXPECT_EQ(regs_.rip, kCode);
    // Map it and resume: the load completes.
    const auto d = frame();
    const u64 val = 0xfeedfacecafebeefULL;
    std::memcpy(mem_->host(d) + 0x678, &val, 8);
    ASSERT_TRUE(space_->enter(0x1234'5000, d, kProtRead));
    ASSERT_EQ(run().kind, TrapKind::kSyscall);
    EXPECT_EQ(regs_.rax, val);
}

TEST_F(VmspaceTest, WriteToReadOnlyPageIsProtectionFault) {
    load(*space_, VK_CODE(g_store));
    const auto d = frame();
    ASSERT_TRUE(space_->enter(kData, d, kProtRead));
    regs_.rdi = kData + 8;
    regs_.rsi = 42;
    Trap t = run();
    ASSERT_EQ(t.kind, TrapKind::kPageFault);
    EXPECT_EQ(t.address, kData + 8);
    EXPECT_TRUE(t.present());
    EXPECT_TRUE(t.write());
    EXPECT_TRUE(t.user());
}

TEST_F(VmspaceTest, ExecuteFromNxPageIsFetchFault) {
    load(*space_, VK_CODE(g_jump));
    const auto d = frame();
    ASSERT_TRUE(space_->enter(kData, d, kProtRead | kProtWrite));
    regs_.rdi = kData;
    Trap t = run();
    ASSERT_EQ(t.kind, TrapKind::kPageFault);
    EXPECT_EQ(t.address, kData);
    EXPECT_TRUE(t.present());
    EXPECT_TRUE(t.exec());
}

TEST_F(VmspaceTest, KernelHalfIsUnreachable) {
    load(*space_, VK_CODE(g_load));
    regs_.rdi = kIdtVa;
    Trap t = run();
    ASSERT_EQ(t.kind, TrapKind::kPageFault);
    EXPECT_EQ(t.address, kIdtVa);
    EXPECT_TRUE(t.present());
    EXPECT_TRUE(t.user());
    // The syscall trampoline page is user-executable but read-only.
    load(*space_, VK_CODE(g_store));
    regs_.rdi = kSyscallPageVa;
    t = run();
    ASSERT_EQ(t.kind, TrapKind::kPageFault);
    EXPECT_TRUE(t.write());
    EXPECT_TRUE(t.present());
}

TEST_F(VmspaceTest, ExceptionVectors) {
    struct Case {
        GuestCode code;
        u8 vector;
        u64 rip_off;
    };
    const Case cases[] = {
        {VK_CODE(g_ud2), kVecInvalidOpcode, 0},
        {VK_CODE(g_div0), kVecDivide, 6},
        {VK_CODE(g_int3), kVecBreakpoint, 1},  // a trap: rip is past int3
        {VK_CODE(g_hlt), kVecGeneralProtection, 0},
    };
    for (const auto& c : cases) {
        auto s = new_space();
        load(*s, c.code);
        Trap t = run(*s);
        ASSERT_EQ(t.kind, TrapKind::kException) << int(c.vector) << " addr " << std::hex << t.address << " err " << t.error_code << " rip " << regs_.rip;
        EXPECT_EQ(t.vector, c.vector);
        EXPECT_EQ(regs_.rip, kCode + c.rip_off) << int(c.vector);
        if (c.vector == kVecGeneralProtection) {
            EXPECT_EQ(t.error_code, 0u);
        }
    }
}

// A hostile guest's port I/O is #GP to it, never an error of the vmspace, and
// leaves the vCPU usable for the next thread with its registers intact.
TEST_F(VmspaceTest, ForbiddenPortIoIsGeneralProtection) {
    for (GuestCode code : {VK_CODE(g_in), VK_CODE(g_out_other)}) {
        auto s = new_space();
        load(*s, code);
        regs_.rax = 0x1234;
        Trap t = run(*s);
        ASSERT_EQ(t.kind, TrapKind::kException);
        EXPECT_EQ(t.vector, kVecGeneralProtection);
        EXPECT_EQ(regs_.rip, kCode);
    }
    load(*space_, VK_CODE(g_regs));
    regs_.rax = 0x5555;
    ASSERT_EQ(run().kind, TrapKind::kSyscall);
    EXPECT_EQ(regs_.rax, 0x5555u);
}

TEST_F(VmspaceTest, ResumeAfterBreakpoint) {
    load(*space_, VK_CODE(g_int3));
    ASSERT_EQ(run().kind, TrapKind::kException);
    ASSERT_EQ(run().kind, TrapKind::kSyscall);
}

TEST_F(VmspaceTest, AddressSpacesAreIsolated) {
    auto other = new_space();
    load(*space_, VK_CODE(g_load));
    load(*other, VK_CODE(g_load));
    const auto a = frame(), b = frame();
    const u64 va = 1, vb = 2;
    std::memcpy(mem_->host(a), &va, 8);
    std::memcpy(mem_->host(b), &vb, 8);
    ASSERT_TRUE(space_->enter(kData, a, kProtRead));
    ASSERT_TRUE(other->enter(kData, b, kProtRead));
    regs_.rdi = kData;
    UserRegs r2 = regs_;
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(run(*space_).kind, TrapKind::kSyscall);
        EXPECT_EQ(regs_.rax, va);
        std::swap(regs_, r2);
        ASSERT_EQ(run(*other).kind, TrapKind::kSyscall);
        EXPECT_EQ(regs_.rax, vb);
        std::swap(regs_, r2);
    }
    // A page entered only in one space faults in the other.
    const auto c = frame();
    ASSERT_TRUE(space_->enter(kData + kPageSize, c, kProtRead));
    std::swap(regs_, r2);
    regs_.rdi = kData + kPageSize;
    Trap t = run(*other);
    ASSERT_EQ(t.kind, TrapKind::kPageFault);
    EXPECT_FALSE(t.present());
}

// DESIGN.md: on shadow-paging KVM the guest must see host PTE edits of pages it
// has already touched: remap, unmap, protection downgrade.
TEST_F(VmspaceTest, TlbCoherenceAfterRemapUnmapProtect) {
    load(*space_, VK_CODE(g_load));
    const auto a = frame(), b = frame();
    const u64 va = 0xaaaa, vb = 0xbbbb;
    std::memcpy(mem_->host(a), &va, 8);
    std::memcpy(mem_->host(b), &vb, 8);
    ASSERT_TRUE(space_->enter(kData, a, kProtRead | kProtWrite));
    regs_.rdi = kData;
    for (int round = 0; round < 20; round++) {
        ASSERT_EQ(run().kind, TrapKind::kSyscall);
        ASSERT_EQ(regs_.rax, va) << "round " << round;
        // remap to b
        ASSERT_TRUE(space_->enter(kData, b, kProtRead | kProtWrite));
        ASSERT_EQ(run().kind, TrapKind::kSyscall);
        ASSERT_EQ(regs_.rax, vb) << "stale translation after remap, round " << round;
        // unmap: must fault, and freeing the now-empty tables must not leave
        // stale intermediate entries either
        space_->remove(kData, kData + kPageSize);
        Trap t = run();
        ASSERT_EQ(t.kind, TrapKind::kPageFault) << "stale translation after unmap, round " << round;
        ASSERT_EQ(t.address, kData);
        ASSERT_TRUE(space_->enter(kData, a, kProtRead | kProtWrite));
    }
    // protection downgrade: a write after the page went read-only faults
    load(*space_, VK_CODE(g_store));
    ASSERT_TRUE(space_->enter(kData, a, kProtRead | kProtWrite));
    regs_.rdi = kData;
    regs_.rsi = 7;
    ASSERT_EQ(run().kind, TrapKind::kSyscall);
    space_->protect(kData, kData + kPageSize, kProtRead);
    Trap t = run();
    ASSERT_EQ(t.kind, TrapKind::kPageFault) << "stale writable translation after protect";
    EXPECT_TRUE(t.write());
    EXPECT_TRUE(t.present());
}

// Regression: a destroyed space's root and table frames were reused by the next
// space while the shadow MMU still translated through them, so the new space
// ran the old space's code.
TEST_F(VmspaceTest, StaleTranslationAfterSpaceReuse) {
    for (u64 round = 1; round <= 10; round++) {
        auto s = new_space();
        load(*s, VK_CODE(g_load));
        const auto d = frame();
        std::memcpy(mem_->host(d), &round, 8);
        ASSERT_TRUE(s->enter(kData, d, kProtRead));
        regs_.rdi = kData;
        ASSERT_EQ(run(*s).kind, TrapKind::kSyscall) << "round " << round;
        ASSERT_EQ(regs_.rax, round) << "stale translation from a destroyed space";
        s.reset();
        frames_->unref(d);
    }
}

TEST_F(VmspaceTest, DropAllRefillsOnFaults) {
    load(*space_, VK_CODE(g_load));
    const auto a = frame();
    const u64 va = 77;
    std::memcpy(mem_->host(a), &va, 8);
    ASSERT_TRUE(space_->enter(kData, a, kProtRead));
    regs_.rdi = kData;
    ASSERT_EQ(run().kind, TrapKind::kSyscall);
    space_->drop_all();
    EXPECT_EQ(space_->table_frames(), 1u);
    Trap t = run();
    ASSERT_EQ(t.kind, TrapKind::kPageFault);
    EXPECT_EQ(t.address, kCode + 5);  // the next instruction: even the code is gone
    EXPECT_TRUE(t.exec());
}

TEST_F(VmspaceTest, KickInterruptsASpinningGuest) {
    load(*space_, VK_CODE(g_spin));
    std::thread kicker([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        vcpu_->kick();
    });
    const auto t0 = std::chrono::steady_clock::now();
    Trap t = run();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - t0)
                        .count();
    kicker.join();
    ASSERT_EQ(t.kind, TrapKind::kInterrupted);
    EXPECT_LT(ms, 1000);
    EXPECT_EQ(regs_.rip, kCode);
    // A kick between runs makes the next run return at once, without losing state.
    vcpu_->kick();
    t = run();
    EXPECT_EQ(t.kind, TrapKind::kInterrupted);
    EXPECT_EQ(regs_.rip, kCode);
}

TEST_F(VmspaceTest, ReadWriteStopAtFirstUnmappedPage) {
    const auto a = frame(), b = frame();
    ASSERT_TRUE(space_->enter(kData, a, kProtRead | kProtWrite));
    ASSERT_TRUE(space_->enter(kData + kPageSize, b, kProtRead));
    char buf[3 * 4096];
    std::memset(buf, 'x', sizeof buf);
    EXPECT_EQ(space_->write(kData + 100, buf, sizeof buf), kPageSize - 100);  // b is read-only
    EXPECT_EQ(space_->write_force(kData + 100, buf, sizeof buf), 2 * kPageSize - 100);
    EXPECT_EQ(space_->read(kData + 4000, buf, sizeof buf), 2 * kPageSize - 4000);
    EXPECT_EQ(space_->read(kData + 2 * kPageSize, buf, 10), 0u);
    EXPECT_EQ(space_->read(kIdtVa, buf, 10), 0u);  // supervisor pages are not user memory
    EXPECT_EQ(space_->read(~0ULL - 5, buf, 10), 0u);
}

}  // namespace
