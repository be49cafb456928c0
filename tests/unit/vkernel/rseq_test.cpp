// Tests for the rseq decisions (vkernel/rseq.h): descriptor checks, the
// fixup of a thread's RIP, the ids written into the area and the rules of
// rseq(2) itself, on a fake guest memory. Linux's kernel/rseq.c is the
// reference; tests/guest/rseq_test.c checks the same against the host.

#include "vkernel/rseq.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace vk {
namespace {

constexpr u64 kTop = 0x7fff'ffff'f000ULL;  // Linux's TASK_SIZE on x86-64
constexpr u32 kSig = 0x53053053;

// Guest memory at [base, base + size); the rest is unmapped. Pages can be
// made read-only; writes are counted.
class FakeGuest {
public:
    FakeGuest(u64 base, u64 size) : base_(base), mem_(size, 0) {}

    bool contains(u64 a, u64 n) const {
        return a >= base_ && n <= mem_.size() && a - base_ <= mem_.size() - n;
    }
    Result<void> read(u64 a, void* p, u64 n) const {
        if (!contains(a, n)) return err(EFAULT);
        std::memcpy(p, &mem_[a - base_], n);
        return {};
    }
    Result<void> write(u64 a, const void* p, u64 n) {
        if (read_only_ || !contains(a, n)) return err(EFAULT);
        std::memcpy(&mem_[a - base_], p, n);
        writes_++;
        return {};
    }
    template <typename T>
    T get(u64 a) const {
        T v{};
        EXPECT_TRUE(read(a, &v, sizeof v).has_value());
        return v;
    }
    template <typename T>
    void put(u64 a, const T& v) {
        VK_ASSERT(contains(a, sizeof v));
        std::memcpy(&mem_[a - base_], &v, sizeof v);
    }
    void set_read_only(bool ro) { read_only_ = ro; }
    int writes() const { return writes_; }

    GuestReader reader() const {
        return [this](u64 a, void* p, u64 n) { return read(a, p, n); };
    }
    GuestWriter writer() {
        return [this](u64 a, const void* p, u64 n) { return write(a, p, n); };
    }

private:
    u64 base_;
    std::vector<u8> mem_;
    bool read_only_ = false;
    int writes_ = 0;
};

// A layout for the fixup tests: the area, a descriptor, the signature
// before the abort handler, and the section's code addresses.
constexpr u64 kBase = 0x10000;
constexpr u64 kArea = kBase;            // struct rseq
constexpr u64 kDesc = kBase + 0x100;    // struct rseq_cs
constexpr u64 kAbort = kBase + 0x204;   // signature at 0x200
constexpr u64 kStart = 0x40'1000, kLen = 0x20;

class RseqFixup : public ::testing::Test {
protected:
    RseqFixup() : g(kBase, 0x1000) {
        st.area = kArea;
        st.len = 32;
        st.sig = kSig;
        g.put<u64>(kArea + kRseqOffRseqCs, kDesc);
        g.put(kDesc, RseqCs{0, 0, kStart, kLen, kAbort});
        g.put<u32>(kAbort - 4, kSig);
    }
    Result<u64> fixup(u64 ip) { return rseq_ip_fixup(st, ip, kTop, g.reader(), g.writer()); }
    u64 cs_field() const { return g.get<u64>(kArea + kRseqOffRseqCs); }

    FakeGuest g;
    RseqState st;
};

TEST(RseqCheck, AcceptsAValidDescriptor) {
    EXPECT_TRUE(rseq_check_cs(RseqCs{0, 0, kStart, kLen, kAbort}, kTop).has_value());
    // abort_ip right after the section, or right before it: outside.
    EXPECT_TRUE(rseq_check_cs(RseqCs{0, 0, kStart, kLen, kStart + kLen}, kTop).has_value());
    EXPECT_TRUE(rseq_check_cs(RseqCs{0, 0, kStart, kLen, kStart - 1}, kTop).has_value());
    // An empty section covers nothing.
    EXPECT_TRUE(rseq_check_cs(RseqCs{0, 0, kStart, 0, kStart}, kTop).has_value());
}

TEST(RseqCheck, RefusesWhatLinuxRefuses) {
    auto einval = [](const RseqCs& cs) {
        auto r = rseq_check_cs(cs, kTop);
        return !r && r.error().code == EINVAL;
    };
    EXPECT_TRUE(einval(RseqCs{1, 0, kStart, kLen, kAbort}));              // version
    EXPECT_TRUE(einval(RseqCs{0, 0, kTop, 0, kAbort}));                   // start above
    EXPECT_TRUE(einval(RseqCs{0, 0, kTop - 0x10, 0x10, kAbort}));         // end at the top
    EXPECT_TRUE(einval(RseqCs{0, 0, kStart, kLen, kTop}));                // abort above
    EXPECT_TRUE(einval(RseqCs{0, 0, kStart, ~0ULL - 0x10, kAbort}));      // wraps
    EXPECT_TRUE(einval(RseqCs{0, 0, kStart, kLen, kStart}));              // abort at start
    EXPECT_TRUE(einval(RseqCs{0, 0, kStart, kLen, kStart + kLen - 1}));   // abort inside
}

TEST(RseqCheck, InCsIsHalfOpen) {
    const RseqCs cs{0, 0, kStart, kLen, kAbort};
    EXPECT_FALSE(rseq_in_cs(cs, kStart - 1));
    EXPECT_TRUE(rseq_in_cs(cs, kStart));
    EXPECT_TRUE(rseq_in_cs(cs, kStart + kLen - 1));
    EXPECT_FALSE(rseq_in_cs(cs, kStart + kLen));
}

TEST_F(RseqFixup, NoDescriptorChangesNothing) {
    g.put<u64>(kArea + kRseqOffRseqCs, 0);
    st.event = true;
    auto r = fixup(kStart + 4);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r.value(), kStart + 4);
    EXPECT_EQ(g.writes(), 0);
    EXPECT_TRUE(st.event);
}

TEST_F(RseqFixup, OutsideTheSectionClearsThePointerOnly) {
    st.event = true;
    auto r = fixup(kStart + kLen);  // just past the commit
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r.value(), kStart + kLen);
    EXPECT_EQ(cs_field(), 0u);
    EXPECT_TRUE(st.event);  // Linux's event mask stays until a section is decided on
}

TEST_F(RseqFixup, InsideWithAnEventAborts) {
    st.event = true;
    auto r = fixup(kStart);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r.value(), kAbort);
    EXPECT_EQ(cs_field(), 0u);
    EXPECT_FALSE(st.event);
}

TEST_F(RseqFixup, InsideWithoutAnEventGoesOn) {
    st.event = false;
    auto r = fixup(kStart + kLen - 1);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r.value(), kStart + kLen - 1);
    EXPECT_EQ(cs_field(), kDesc);
}

TEST_F(RseqFixup, BadDescriptorsAreErrors) {
    st.event = true;
    auto code = [this](u64 ip) {
        auto r = fixup(ip);
        return r ? 0 : r.error().code;
    };
    // The signature is checked inside the section and outside it.
    g.put<u32>(kAbort - 4, kSig + 1);
    EXPECT_EQ(code(kStart), EINVAL);
    EXPECT_EQ(code(0x1234), EINVAL);
    g.put<u32>(kAbort - 4, kSig);
    // Deprecated flags, in the descriptor or in the area, inside a section.
    g.put(kDesc, RseqCs{0, 1, kStart, kLen, kAbort});
    EXPECT_EQ(code(kStart), EINVAL);
    g.put(kDesc, RseqCs{0, 0, kStart, kLen, kAbort});
    g.put<u32>(kArea + kRseqOffFlags, 2);
    EXPECT_EQ(code(kStart), EINVAL);
    g.put<u32>(kArea + kRseqOffFlags, 0);
    // A version Linux does not know.
    g.put(kDesc, RseqCs{1, 0, kStart, kLen, kAbort});
    EXPECT_EQ(code(kStart), EINVAL);
    // Pointers out of user space, or to nothing.
    g.put<u64>(kArea + kRseqOffRseqCs, kTop);
    EXPECT_EQ(code(kStart), EINVAL);
    g.put<u64>(kArea + kRseqOffRseqCs, 0x9000);
    EXPECT_EQ(code(kStart), EFAULT);
    // A signature that cannot be read.
    g.put<u64>(kArea + kRseqOffRseqCs, kDesc);
    g.put(kDesc, RseqCs{0, 0, kStart, kLen, 0x2});
    EXPECT_EQ(code(kStart), EFAULT);
    // An area that is gone.
    st.area = 0x9000;
    EXPECT_EQ(code(kStart), EFAULT);
}

TEST(RseqIds, WriteAndReset) {
    FakeGuest g(kBase, 0x1000);
    ASSERT_TRUE(rseq_write_ids(kArea, 3, 1, g.writer()).has_value());
    EXPECT_EQ(g.get<u32>(kArea + 0), 3u);   // cpu_id_start
    EXPECT_EQ(g.get<u32>(kArea + 4), 3u);   // cpu_id
    EXPECT_EQ(g.get<u32>(kArea + 20), 0u);  // node_id
    EXPECT_EQ(g.get<u32>(kArea + 24), 1u);  // mm_cid
    g.put<u64>(kArea + kRseqOffRseqCs, 0x5555);
    ASSERT_TRUE(rseq_reset_ids(kArea, g.writer()).has_value());
    EXPECT_EQ(g.get<u32>(kArea + 0), 0u);
    EXPECT_EQ(g.get<u32>(kArea + 4), kRseqCpuIdUninitialized);
    EXPECT_EQ(g.get<u32>(kArea + 20), 0u);
    EXPECT_EQ(g.get<u32>(kArea + 24), 0u);
    EXPECT_EQ(g.get<u64>(kArea + kRseqOffRseqCs), 0x5555u);  // not the kernel's to touch
}

class RseqSyscall : public ::testing::Test {
protected:
    RseqSyscall() : g(kBase, 0x1000) {}
    int call(u64 area, u32 len, u32 flags, u32 sig, u32 cpu = 1) {
        auto r = rseq_syscall(st, area, len, flags, sig, cpu, kTop, g.reader(), g.writer());
        return r ? 0 : r.error().code;
    }
    FakeGuest g;
    RseqState st;
};

TEST_F(RseqSyscall, RegistrationChecks) {
    EXPECT_EQ(call(kArea, 31, 0, kSig), EINVAL);
    EXPECT_EQ(call(kArea, 0, 0, kSig), EINVAL);
    EXPECT_EQ(call(kArea + 16, 32, 0, kSig), EINVAL);
    EXPECT_EQ(call(kArea + 8, 64, 0, kSig), EINVAL);
    EXPECT_EQ(call(kArea, 32, 2, kSig), EINVAL);
    EXPECT_EQ(call(kArea, 32, kRseqFlagUnregister, kSig), EINVAL);  // none registered
    EXPECT_EQ(call(0xffff'8000'0000'0000ULL, 32, 0, kSig), EFAULT);
    EXPECT_EQ(call(kTop - 32, 64, 0, kSig), EFAULT);                // ends past the top
    EXPECT_EQ(call(0x9000, 32, 0, kSig), EFAULT);                   // unmapped
    g.set_read_only(true);
    EXPECT_EQ(call(kArea, 32, 0, kSig), EFAULT);                    // cannot take the ids
    EXPECT_EQ(st.area, 0u);
}

TEST_F(RseqSyscall, RegisterClearsStalePointerAndWritesIds) {
    g.put<u64>(kArea + kRseqOffRseqCs, 0x1234);
    g.put<u32>(kArea + 4, 0x7777);
    ASSERT_EQ(call(kArea, 32, 0, kSig, 2), 0);
    EXPECT_EQ(st.area, kArea);
    EXPECT_EQ(st.len, 32u);
    EXPECT_EQ(st.sig, kSig);
    EXPECT_FALSE(st.resume);
    EXPECT_EQ(g.get<u64>(kArea + kRseqOffRseqCs), 0u);
    EXPECT_EQ(g.get<u32>(kArea + 0), 2u);
    EXPECT_EQ(g.get<u32>(kArea + 4), 2u);
}

TEST_F(RseqSyscall, SecondRegistrationAndUnregistration) {
    ASSERT_EQ(call(kArea, 32, 0, kSig), 0);
    EXPECT_EQ(call(kArea, 32, 0, kSig), EBUSY);
    EXPECT_EQ(call(kArea, 32, 0, kSig + 1), EPERM);
    EXPECT_EQ(call(kArea, 64, 0, kSig), EINVAL);
    EXPECT_EQ(call(kArea + 0x40, 32, 0, kSig), EINVAL);
    EXPECT_EQ(call(kArea + 0x40, 32, 0, kSig + 1), EINVAL);
    EXPECT_EQ(call(kArea, 32, kRseqFlagUnregister, kSig + 1), EPERM);
    EXPECT_EQ(call(kArea, 64, kRseqFlagUnregister, kSig), EINVAL);
    EXPECT_EQ(call(kArea + 0x40, 32, kRseqFlagUnregister, kSig), EINVAL);
    EXPECT_EQ(call(kArea, 32, kRseqFlagUnregister | 2, kSig), EINVAL);
    ASSERT_EQ(call(kArea, 32, kRseqFlagUnregister, kSig), 0);
    EXPECT_EQ(st.area, 0u);
    EXPECT_EQ(g.get<u32>(kArea + 4), kRseqCpuIdUninitialized);
    // A longer area, unregistered with its own length.
    ASSERT_EQ(call(kArea + 0x40, 64, 0, kSig), 0);
    EXPECT_EQ(call(kArea + 0x40, 32, kRseqFlagUnregister, kSig), EINVAL);
    EXPECT_EQ(call(kArea + 0x40, 64, kRseqFlagUnregister, kSig), 0);
}

TEST(RseqFork, ThreadsStartEmptyProcessesKeepIt) {
    RseqState parent;
    parent.area = kArea;
    parent.len = 32;
    parent.sig = kSig;
    const RseqState thread = rseq_fork(parent, true);
    EXPECT_EQ(thread.area, 0u);
    EXPECT_FALSE(thread.resume);
    const RseqState child = rseq_fork(parent, false);
    EXPECT_EQ(child.area, kArea);
    EXPECT_EQ(child.sig, kSig);
    EXPECT_TRUE(child.resume);
    EXPECT_TRUE(child.event);
}

TEST(RseqState, SwitchMarksOnlyRegisteredThreads) {
    RseqState none;
    none.note_switch();
    EXPECT_FALSE(none.resume);
    RseqState reg;
    reg.area = kArea;
    reg.note_switch();
    EXPECT_TRUE(reg.resume);
    EXPECT_TRUE(reg.event);
}

}  // namespace
}  // namespace vk
