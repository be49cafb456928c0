// The vDSO: its clock arithmetic (vdso/vvar.h, the same inline functions
// the guest runs) and the steering of its lines (vdso_clock), driven with
// simulated clocks; the embedded image's ELF structure; and, on /dev/kvm,
// the [vvar]/[vdso] mappings and a calibration against the host's clock.

#include <elf.h>
#include <gtest/gtest.h>
#include <time.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "pmap/frame_allocator.h"
#include "pmap/phys_memory.h"
#include "tests/unit/kvm_test.h"
#include "vkernel/mm.h"
#include "vkernel/vdso.h"
#include "vmspace/machine.h"
#include "vmspace/vcpu.h"

using namespace vk;
using vdso_clock::Sample;

namespace {

constexpr u32 kShift = vdso_clock::kShift;

// ---- the guest's formulas ------------------------------------------------

TEST(VdsoMath, LineIsBasePlusScaledDelta) {
    const vk_vvar_line l{1'000'000'000, vdso_clock::mult_for(0.5)};  // 2 GHz
    EXPECT_EQ(vdso_clock::line_ns(l, 1000, kShift, 1000), 1'000'000'000u);
    EXPECT_EQ(vdso_clock::line_ns(l, 1000, kShift, 3000), 1'000'001'000u);
    // A TSC behind cycle_last (another CPU's read) does not go back.
    EXPECT_EQ(vdso_clock::line_ns(l, 1000, kShift, 10), 1'000'000'000u);
}

TEST(VdsoMath, LongDeltasDoNotOverflow) {
    // A day at 3 GHz: delta * mult needs more than 64 bits.
    const double ns_per_cycle = 1 / 3.0;
    const vk_vvar_line l{5, vdso_clock::mult_for(ns_per_cycle)};
    const u64 day_cycles = 3'000'000'000ULL * 86'400;
    const u64 ns = vdso_clock::line_ns(l, 0, kShift, day_cycles);
    EXPECT_NEAR(static_cast<double>(ns), 86'400e9 + 5, 86'400e9 * 1e-9);
}

TEST(VdsoMath, MultiplierIsPreciseToAFractionOfAPpm) {
    for (double ghz : {0.8, 1.0, 2.594, 3.7, 5.2}) {
        const double r = 1 / ghz;
        const u64 m = vdso_clock::mult_for(r);
        EXPECT_NEAR(static_cast<double>(m) / 4294967296.0 / r, 1.0, 1e-9) << ghz;
    }
}

TEST(VdsoMath, CoarseClocksFollowTheHostsTickGrid) {
    const u64 res = 4'000'000, phase = 2'906'855, lag = 1'100'000;
    // Just before the tick for the grid point 102'906'855 comes...
    EXPECT_EQ(vk_vvar_coarse(102'906'855 + lag - 1, res, phase, lag), 98'906'855u);
    // ... and from then on.
    EXPECT_EQ(vk_vvar_coarse(102'906'855 + lag, res, phase, lag), 102'906'855u);
    EXPECT_EQ(vk_vvar_coarse(106'906'854 + lag, res, phase, lag), 102'906'855u);
    // Never ahead of the fine clock, and a multiple of res from phase.
    std::mt19937_64 rng(7);
    for (int i = 0; i < 10000; i++) {
        const u64 ns = 10'000'000 + rng() % (1ULL << 50);
        const u64 c = vk_vvar_coarse(ns, res, phase, lag);
        EXPECT_LE(c, ns);
        EXPECT_EQ((c + res - phase) % res, 0u);
        EXPECT_LT(ns - c, res + lag);
    }
    // Without a tick resolution the clock is the fine one.
    EXPECT_EQ(vk_vvar_coarse(123, 1, 0, 0), 123u);
}

// ---- steering ----------------------------------------------------------------

TEST(VdsoSteer, FirstPublicationJumpsOntoTheHostClock) {
    const vk_vvar_line none{0, 0};
    const Sample host{1'000'000, 5'000'000'000};
    const auto l = vdso_clock::steer(none, 0, kShift, 1'000'400, host, 0.5, 2'000'000'000);
    EXPECT_EQ(l.base_ns, 5'000'000'200u);
    EXPECT_EQ(l.mult, vdso_clock::mult_for(0.5));
}

TEST(VdsoSteer, ContinuousAtTheUpdateAndOnTheHostAfterThePeriod) {
    const double r = 0.4;
    // The line runs 200 ppm fast and is 50 µs ahead of the host at the update.
    const vk_vvar_line cur{1'000'000'000, vdso_clock::mult_for(r * 1.0002)};
    const u64 cycle_last = 0, now = 2'500'000'000;  // 1 s of cycles later
    const u64 line_now = vdso_clock::line_ns(cur, cycle_last, kShift, now);
    const Sample host{now, line_now - 50'000};
    const u64 period = 2'500'000'000;
    const auto next = vdso_clock::steer(cur, cycle_last, kShift, now, host, r, period);
    EXPECT_EQ(next.base_ns, line_now);  // no step at the update
    const u64 then = vdso_clock::line_ns(next, now, kShift, now + period);
    const u64 host_then = host.ns + static_cast<u64>(std::llround(static_cast<double>(period) * r));
    EXPECT_NEAR(static_cast<double>(then), static_cast<double>(host_then), 2.0);
    EXPECT_LT(next.mult, vdso_clock::mult_for(r));  // slowed down, not stepped back
}

TEST(VdsoSteer, SlewIsBoundedAndALargeLagIsAStepForward) {
    const double r = 0.4;
    const vk_vvar_line cur{10'000'000'000, vdso_clock::mult_for(r)};
    const u64 now = 1'000'000;
    const u64 line_now = vdso_clock::line_ns(cur, 0, kShift, now);
    // 100 ms ahead of the host: slowed by the largest slew only.
    auto ahead = vdso_clock::steer(cur, 0, kShift, now, {now, line_now - 100'000'000}, r, 2'500'000'000);
    EXPECT_EQ(ahead.base_ns, line_now);
    EXPECT_EQ(ahead.mult, vdso_clock::mult_for(r * (1 - vdso_clock::kMaxSlew)));
    // 2 ms behind: jumps forward onto the host clock.
    auto behind = vdso_clock::steer(cur, 0, kShift, now, {now, line_now + 2'000'000}, r, 2'500'000'000);
    EXPECT_EQ(behind.base_ns, line_now + 2'000'000);
    EXPECT_EQ(behind.mult, vdso_clock::mult_for(r));
}

TEST(VdsoSteer, RateNeedsDistanceBetweenSamples) {
    EXPECT_EQ(vdso_clock::rate_between({1000, 1000}, {2000, 1500}), 0);       // 500 ns apart
    EXPECT_EQ(vdso_clock::rate_between({2000, 1000}, {1000, 9'000'000}), 0);  // TSC went back
    EXPECT_DOUBLE_EQ(vdso_clock::rate_between({0, 0}, {1'000'000, 400'000}), 0.4);
}

// A simulated host: a TSC at an unknown, slowly wandering rate (NTP moving
// the host clock's frequency), samples with jitter, updates about every
// second, some of them late. The line must never go back and must stay
// within 1 ms of the host clock; after a few updates, within 100 µs (a
// frequency step shows until the rate's baseline has moved past it).
TEST(VdsoSteer, SimulatedHostStaysCloseAndMonotonic) {
    std::mt19937_64 rng(42);
    std::uniform_real_distribution<double> jitter(-60, 60);  // ns, sample uncertainty
    double true_rate = 1 / 2.594;                            // ns per cycle
    // The host clock as a function of the TSC, integrated piecewise.
    u64 tsc = 123'456'789'000, host_ns = 19'000'000'000'000;
    auto advance = [&](u64 cycles) {
        tsc += cycles;
        host_ns += static_cast<u64>(std::llround(static_cast<double>(cycles) * true_rate));
    };
    auto sample = [&] { return Sample{tsc, static_cast<u64>(static_cast<double>(host_ns) + jitter(rng))}; };

    // Start: two samples 300 µs apart give the first, rough rate.
    std::vector<Sample> history{sample()};
    advance(static_cast<u64>(300'000 / true_rate));
    Sample s = sample();
    double rate = vdso_clock::rate_between(history.front(), s);
    history.push_back(s);
    vk_vvar_line line{0, 0};
    u64 cycle_last = 0;
    const u64 period = static_cast<u64>(1e9 / rate);
    line = vdso_clock::steer(line, cycle_last, kShift, tsc, s, rate, period);
    cycle_last = tsc;

    u64 last_read = 0;
    double worst_late = 0;
    for (int update = 1; update <= 60; update++) {
        // NTP changes the host clock's frequency now and then (±50 ppm).
        if (update % 7 == 0) true_rate *= 1 + (static_cast<double>(rng() % 101) - 50) * 1e-6;
        // About a second of reads, the update sometimes 30% late.
        const double secs = update % 5 == 0 ? 1.3 : 1.0;
        const u64 steps = 1000;
        const u64 step = static_cast<u64>(secs * 1e9 / true_rate / steps);
        for (u64 i = 0; i < steps; i++) {
            advance(step);
            const u64 g = vdso_clock::line_ns(line, cycle_last, kShift, tsc);
            ASSERT_GE(g, last_read) << "went back at update " << update;
            last_read = g;
            const double off = std::fabs(static_cast<double>(g) - static_cast<double>(host_ns));
            ASSERT_LT(off, 1e6) << "more than 1 ms off at update " << update;
            if (update > 5) worst_late = std::max(worst_late, off);
        }
        s = sample();
        history.push_back(s);
        if (history.size() > 5) history.erase(history.begin());
        if (const double r = vdso_clock::rate_between(history.front(), s); r > 0) rate = r;
        advance(2000);  // the update itself, a little later than the sample
        line = vdso_clock::steer(line, cycle_last, kShift, tsc, s, rate, static_cast<u64>(1e9 / rate));
        ASSERT_GE(vdso_clock::line_ns(line, tsc, kShift, tsc), last_read);
        cycle_last = tsc;
    }
    EXPECT_LT(worst_late, 100'000) << "ns off the host clock once settled";
}

// ---- the embedded image ---------------------------------------------------------

TEST(VdsoImage, IsALoaderFreeSharedObjectWithLinuxsNames) {
    const auto img = vdso_image();
    ASSERT_GE(img.size(), sizeof(Elf64_Ehdr));
    const auto* base = reinterpret_cast<const unsigned char*>(img.data());
    Elf64_Ehdr eh;
    std::memcpy(&eh, base, sizeof eh);
    ASSERT_EQ(std::memcmp(eh.e_ident, ELFMAG, SELFMAG), 0);
    EXPECT_EQ(eh.e_type, ET_DYN);
    EXPECT_EQ(eh.e_machine, EM_X86_64);
    ASSERT_LE(eh.e_phoff + u64{eh.e_phnum} * sizeof(Elf64_Phdr), img.size());
    int loads = 0;
    const Elf64_Phdr* dyn_ph = nullptr;
    std::vector<Elf64_Phdr> ph(eh.e_phnum);
    std::memcpy(ph.data(), base + eh.e_phoff, ph.size() * sizeof(Elf64_Phdr));
    for (const auto& p : ph) {
        if (p.p_type == PT_LOAD) {
            loads++;
            EXPECT_EQ(p.p_vaddr, 0u);
            EXPECT_EQ(p.p_offset, 0u);
            EXPECT_EQ(p.p_flags, static_cast<u32>(PF_R | PF_X));
            EXPECT_LE(p.p_filesz, img.size());
        }
        if (p.p_type == PT_DYNAMIC) dyn_ph = &p;
    }
    EXPECT_EQ(loads, 1);
    ASSERT_NE(dyn_ph, nullptr);
    // Linked at 0 and mapped whole: addresses are offsets into the image.
    u64 symtab = 0, strtab = 0, hash = 0, gnu_hash = 0, versym = 0, verdef = 0;
    for (u64 off = dyn_ph->p_offset; off + sizeof(Elf64_Dyn) <= dyn_ph->p_offset + dyn_ph->p_filesz;
         off += sizeof(Elf64_Dyn)) {
        Elf64_Dyn d;
        std::memcpy(&d, base + off, sizeof d);
        if (d.d_tag == DT_NULL) break;
        EXPECT_NE(d.d_tag, DT_NEEDED);
        EXPECT_NE(d.d_tag, DT_RELA);
        EXPECT_NE(d.d_tag, DT_REL);
        EXPECT_NE(d.d_tag, DT_JMPREL);
        EXPECT_NE(d.d_tag, DT_TEXTREL);
        if (d.d_tag == DT_SYMTAB) symtab = d.d_un.d_ptr;
        if (d.d_tag == DT_STRTAB) strtab = d.d_un.d_ptr;
        if (d.d_tag == DT_HASH) hash = d.d_un.d_ptr;
        if (d.d_tag == DT_GNU_HASH) gnu_hash = d.d_un.d_ptr;
        if (d.d_tag == DT_VERSYM) versym = d.d_un.d_ptr;
        if (d.d_tag == DT_VERDEF) verdef = d.d_un.d_ptr;
    }
    ASSERT_TRUE(symtab && strtab && hash && versym && verdef);
    EXPECT_NE(gnu_hash, 0u);
    u32 nchain;
    std::memcpy(&nchain, base + hash + 4, 4);
    // The version the symbols are defined in.
    Elf64_Verdef vd;
    std::memcpy(&vd, base + verdef, sizeof vd);
    u16 linux26 = 0;
    for (u64 at = verdef;;) {
        std::memcpy(&vd, base + at, sizeof vd);
        Elf64_Verdaux va;
        std::memcpy(&va, base + at + vd.vd_aux, sizeof va);
        if (std::string(reinterpret_cast<const char*>(base + strtab + va.vda_name)) == "LINUX_2.6")
            linux26 = vd.vd_ndx;
        if (!vd.vd_next) break;
        at += vd.vd_next;
    }
    ASSERT_NE(linux26, 0);
    for (const char* name : {"__vdso_clock_gettime", "__vdso_gettimeofday", "__vdso_time",
                             "__vdso_clock_getres", "clock_gettime", "gettimeofday", "time",
                             "clock_getres"}) {
        bool found = false;
        for (u32 i = 1; i < nchain; i++) {
            Elf64_Sym s;
            std::memcpy(&s, base + symtab + i * sizeof s, sizeof s);
            if (std::strcmp(reinterpret_cast<const char*>(base + strtab + s.st_name), name) != 0) continue;
            u16 ver;
            std::memcpy(&ver, base + versym + i * 2, 2);
            EXPECT_EQ(ver & 0x7fff, linux26) << name;
            EXPECT_EQ(ELF64_ST_TYPE(s.st_info), STT_FUNC) << name;
            EXPECT_NE(s.st_shndx, SHN_UNDEF) << name;
            EXPECT_LT(s.st_value, img.size()) << name;
            found = true;
        }
        EXPECT_TRUE(found) << name;
    }
}

// ---- on /dev/kvm: the mappings and a calibration ------------------------------

class VdsoKvmTest : public KvmTest {
protected:
    VdsoKvmTest() : KvmTest(32 << 20) {}
    void SetUp() override {
        KvmTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        vmspace::Vcpu* vcpus[] = {vcpu_.get()};
        vdso_ = Vdso::create(*machine_, vcpus);
        ASSERT_NE(vdso_, nullptr);
        auto mm = Mm::create(*machine_, nullptr);
        ASSERT_TRUE(mm);
        mm_ = std::move(mm.value());
        mm_->mmap_base = 0x7f00'0000'0000ULL;
    }
    void TearDown() override {
        mm_.reset();
        vdso_.reset();
    }

    std::unique_ptr<Vdso> vdso_;
    std::unique_ptr<Mm> mm_;
};

TEST_F(VdsoKvmTest, MapsVvarAndTheImageThatSurviveDontneed) {
    EXPECT_EQ(Vdso::of(*machine_), vdso_.get());
    auto at = vdso_->map_into(*mm_);
    ASSERT_TRUE(at);
    const Region* vvar = mm_->find(at.value() - kPageSize);
    const Region* text = mm_->find(at.value());
    ASSERT_TRUE(vvar && text);
    EXPECT_EQ(vvar->name, "[vvar]");
    EXPECT_EQ(vvar->prot, kProtRead);
    EXPECT_EQ(vvar->max_prot, kProtRead);
    EXPECT_EQ(text->name, "[vdso]");
    EXPECT_EQ(text->prot, kProtRead | kProtExec);
    EXPECT_EQ(text->end - text->start, page_round_up(vdso_image().size()));
    // Entered at once: no fault needed to read either.
    EXPECT_TRUE(mm_->space().extract(at.value() - kPageSize));
    EXPECT_TRUE(mm_->space().extract(at.value()));
    char magic[4] = {};
    ASSERT_EQ(mm_->space().read(at.value(), magic, 4), 4u);
    EXPECT_EQ(std::memcmp(magic, ELFMAG, 4), 0);
    // [vvar] cannot become writable.
    EXPECT_FALSE(mm_->protect(at.value() - kPageSize, at.value(), kProtRead | kProtWrite));
    // MADV_DONTNEED of the image brings its bytes back, not zeros.
    ASSERT_TRUE(mm_->discard(at.value(), at.value() + kPageSize));
    ASSERT_TRUE(mm_->fault(at.value(), Access::kRead));
    ASSERT_EQ(mm_->space().read(at.value(), magic, 4), 4u);
    EXPECT_EQ(std::memcmp(magic, ELFMAG, 4), 0);
    // Every process maps the one [vvar] object (fork keeps shared regions'
    // objects; tests/guest/vdso_test checks a fork child's clocks).
    EXPECT_TRUE(vvar->shared);
    EXPECT_FALSE(text->shared);
}

TEST_F(VdsoKvmTest, CalibratedLineReadsTheHostClock) {
    if (!vdso_->uses_tsc()) GTEST_SKIP() << "no usable TSC: " << vdso_->why_not();
    usleep(2000);  // a rate needs samples some distance apart
    vdso_->update();
    const vk_vvar v = vdso_->published();
    ASSERT_EQ(v.mode, VK_VVAR_MODE_TSC);
    for (int i = 0; i < 5; i++) {
        usleep(20'000);
        timespec before{}, after{};
        ::clock_gettime(CLOCK_MONOTONIC, &before);
        auto tsc = vcpu_->read_msr(0x10);  // the guest's TSC, as the vDSO reads it
        ::clock_gettime(CLOCK_MONOTONIC, &after);
        ASSERT_TRUE(tsc);
        const u64 g = vdso_clock::line_ns(v.line[VK_VVAR_LINE_MONO], v.cycle_last, v.shift, tsc.value());
        const double lo = before.tv_sec * 1e9 + before.tv_nsec, hi = after.tv_sec * 1e9 + after.tv_nsec;
        EXPECT_GT(static_cast<double>(g), lo - 1e6);
        EXPECT_LT(static_cast<double>(g), hi + 1e6);
    }
}

}  // namespace
