#include "vmspace/vcpu.h"

#include <cpuid.h>

#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <initializer_list>

#include "base/assert.h"
#include "base/log.h"
#include "vmspace/kvm_abi.h"
#include "vmspace/layout.h"
#include "vmspace/fast_syscall.h"
#include "vmspace/trampoline.h"

namespace vk::vmspace {

namespace {

constexpr u64 kMsrStar = 0xc000'0081;
constexpr u64 kMsrLstar = 0xc000'0082;
constexpr u64 kMsrCstar = 0xc000'0083;
constexpr u64 kMsrSfmask = 0xc000'0084;
constexpr u64 kMsrKernelGsBase = 0xc000'0102;
constexpr u64 kMsrPvmLinearAddressRange = 0x4b56'4d11;  // reads 0x4d5650 ("PVM") on PVM

constexpr u64 kCr0 = 0x8001'0033;  // PG WP NE ET MP PE
constexpr u64 kCr4Pae = 1 << 5, kCr4Osfxsr = 1 << 9, kCr4Osxmmexcpt = 1 << 10,
              kCr4Osxsave = 1 << 18;
constexpr u64 kEfer = 0xd01;  // NXE LMA LME SCE

// Flags user code may hold (CF PF AF ZF SF TF DF OF AC ID); IF and bit 1 always set.
constexpr u64 kUserFlagsMask = 0x24'0dd5;
constexpr u64 user_flags(u64 f) { return (f & kUserFlagsMask) | 0x202; }

constexpr bool canonical(u64 va) {
    return va < 0x0000'8000'0000'0000ULL || va >= 0xffff'8000'0000'0000ULL;
}

void set_seg(kvm_segment& s, u16 sel, bool code, u8 dpl) {
    s = {};
    s.base = 0;
    s.limit = 0xffff'ffff;
    s.selector = sel;
    s.type = code ? 11 : 3;
    s.present = 1;
    s.dpl = dpl;
    s.db = code ? 0 : 1;
    s.s = 1;
    s.l = code ? 1 : 0;
    s.g = 1;
}

void kick_handler(int) {}

}  // namespace

int Vcpu::kick_signal() { return SIGRTMIN + 1; }

Result<std::unique_ptr<Vcpu>, HostError> Vcpu::create(Machine& machine, unsigned id) {
    if (id >= kMaxVcpus) return host_err("KVM_CREATE_VCPU (too many vCPUs)", EINVAL);
    // SAFETY: KVM_CREATE_VCPU takes the vCPU id by value.
    UniqueFd fd(::ioctl(machine.vm_fd(), KVM_CREATE_VCPU, static_cast<unsigned long>(id)));
    if (!fd.valid()) return host_err("KVM_CREATE_VCPU");
    auto run = VK_TRY(Mapping::map(machine.run_size(), PROT_READ | PROT_WRITE, MAP_SHARED,
                                   fd.get(), 0, "kvm_run"));
    std::unique_ptr<Vcpu> v(new Vcpu(machine, id, std::move(fd), std::move(run)));
    VK_TRY(v->setup());
    return v;
}

Vcpu::~Vcpu() = default;

u64 Vcpu::area_va() const { return kVcpuAreaVa + u64{id_} * kVcpuAreaSize; }

namespace {

Machine::XsaveLayout probe_xsave_layout(const Machine& m) {
    Machine::XsaveLayout l;
    u64 xcr0 = m.xcr0();
    if (m.is_pvm()) {
        u32 a, b, c, d;
        __cpuid(1, a, b, c, d);
        if (!(c & bit_OSXSAVE)) return l;
        u32 lo, hi;
        asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        xcr0 = (u64{hi} << 32) | lo;
    }
    for (u32 i = 2; i < 63; ++i) {
        if (!(xcr0 & (1ULL << i))) continue;
        u32 size, offset, c, d;
        __cpuid_count(0xd, i, size, offset, c, d);  // in the standard format
        if (u64{size} + offset > sizeof(Vcpu::FpuState)) continue;
        l.features |= 1ULL << i;
        l.size = std::max<u32>(l.size, size + offset);
    }
    return l;
}

}  // namespace

Result<void, HostError> Vcpu::setup() {
    auto& mem = machine_.memory();
    auto& frames = machine_.frames();
    auto alloc = [&]() -> Result<pmap::PhysAddr, HostError> {
        auto f = frames.alloc();
        if (!f) return host_err("allocating vCPU structures", ENOMEM);
        return f.value();
    };
    auto map = [&](u64 va, pmap::PhysAddr pa, u32 prot) -> Result<void, HostError> {
        if (!machine_.enter_kernel(va, pa, prot))
            return host_err("mapping vCPU structures", ENOMEM);
        return {};
    };
    using pmap::kProtRead;
    using pmap::kProtWrite;

    // The frames stay mapped in the machine's template for its lifetime; the
    // machine's page table frees nothing it maps, so they are simply kept.
    const u64 base = area_va();
    const pmap::PhysAddr gdt = VK_TRY(alloc());
    write_gdt(mem.host(gdt), base + kAreaTss);
    VK_TRY(map(base + kAreaGdt, gdt, kProtRead | kProtWrite));
    std::byte* tss_pages[kTssPages];
    for (u64 i = 0; i < kTssPages; i++) {
        const pmap::PhysAddr f = VK_TRY(alloc());
        tss_pages[i] = mem.host(f);
        VK_TRY(map(base + kAreaTss + i * kPageSize, f, kProtRead | kProtWrite));
    }
    for (u64 i = 0; i < kStackPages; i++) {
        const pmap::PhysAddr f = VK_TRY(alloc());
        VK_TRY(map(base + kAreaStack + i * kPageSize, f, kProtRead | kProtWrite));
        stack_frame_ = f;  // the last page holds the top of the stack
    }
    const u64 rsp0 = base + kAreaStack + kStackPages * kPageSize;
    write_tss(tss_pages, rsp0);

    // CPUID as KVM supports it.
    // SAFETY: cpuid() points at a kvm_cpuid2 with nent entries.
    if (::ioctl(fd_.get(), abi::kSetCpuid2, machine_.cpuid()) < 0) return host_err("KVM_SET_CPUID2");

    // Special registers: 64-bit long mode, paging through the kernel template.
    kvm_sregs s{};
    // SAFETY: KVM_GET_SREGS fills a kvm_sregs.
    if (::ioctl(fd_.get(), KVM_GET_SREGS, &s) < 0) return host_err("KVM_GET_SREGS");
    s.cr0 = kCr0;
    s.cr4 = kCr4Pae | kCr4Osfxsr | kCr4Osxmmexcpt | (machine_.xcr0() ? kCr4Osxsave : 0);
    s.efer = kEfer;
    s.cr3 = machine_.kernel_table().root();
    set_seg(s.cs, kUserCs, true, 3);
    set_seg(s.ss, kUserDs, false, 3);
    set_seg(s.ds, kUserDs, false, 3);
    set_seg(s.es, kUserDs, false, 3);
    set_seg(s.fs, kUserDs, false, 3);
    set_seg(s.gs, kUserDs, false, 3);
    s.tr = {};
    s.tr.base = base + kAreaTss;
    s.tr.limit = 104 + 8192;
    s.tr.selector = kTssSel;
    s.tr.type = 11;  // busy 64-bit TSS
    s.tr.present = 1;
    s.ldt = {};
    s.ldt.type = 2;
    s.ldt.present = 1;
    s.ldt.unusable = 1;
    s.gdt.base = base + kAreaGdt;
    s.gdt.limit = kTssSel + 16 - 1;
    s.idt.base = kIdtVa;
    s.idt.limit = 256 * 16 - 1;
    // SAFETY: KVM_SET_SREGS reads a kvm_sregs.
    if (::ioctl(fd_.get(), KVM_SET_SREGS, &s) < 0) return host_err("KVM_SET_SREGS");

    // PVM answers this MSR with its signature; on other KVMs it does not exist.
    abi::WithEntries<abi::MsrsHeader, kvm_msr_entry, 1> probe;
    probe.hdr.nmsrs = 1;
    probe.entries[0].index = kMsrPvmLinearAddressRange;
    // SAFETY: KVM_GET_MSRS fills the entries following the header.
    if (::ioctl(fd_.get(), abi::kGetMsrs, &probe) == 1 && probe.entries[0].data == 0x4d5650)
        machine_.set_pvm(true);

    // Under PVM, LSTAR may point at this vCPU's own fast syscall page.
    u64 lstar = kSyscallPageVa;
    if (machine_.fast_syscalls() && id_ < kFastSlots) {
        // Every address space maps the page there (VmSpace::create).
        VK_TRY(machine_.add_fast_vcpu(id_));
        fast_va_ = kFastBaseVa + u64{id_} * kFastBlock;
        lstar = fast_va_;
    }

    // syscall: LSTAR to the trampoline; sysret returns to 0x33/0x2b.
    abi::WithEntries<abi::MsrsHeader, kvm_msr_entry, 5> msrs;
    const std::pair<u32, u64> values[] = {
        {kMsrStar, (u64{kUserCs32 - 3} << 48) | (u64{kKernelCs} << 32)},
        {kMsrLstar, lstar},
        {kMsrCstar, kSyscallPageVa},
        {kMsrSfmask, 0x4'7700},  // TF DF IF IOPL NT AC, as Linux
        {kMsrKernelGsBase, 0},
    };
    msrs.hdr.nmsrs = 5;
    for (int i = 0; i < 5; i++) {
        msrs.entries[i].index = values[i].first;
        msrs.entries[i].data = values[i].second;
    }
    // SAFETY: KVM_SET_MSRS reads nmsrs entries following the header.
    if (::ioctl(fd_.get(), abi::kSetMsrs, &msrs) != 5) return host_err("KVM_SET_MSRS", EINVAL);

    machine_.set_xsave_layout(probe_xsave_layout(machine_));

    if (machine_.xcr0()) {
        kvm_xcrs xcrs{};
        xcrs.nr_xcrs = 1;
        xcrs.xcrs[0].xcr = 0;
        xcrs.xcrs[0].value = machine_.xcr0();
        // SAFETY: KVM_SET_XCRS reads a kvm_xcrs.
        if (::ioctl(fd_.get(), KVM_SET_XCRS, &xcrs) < 0) return host_err("KVM_SET_XCRS");
    }
    kvm_fpu fpu{};
    fpu.fcw = 0x37f;
    fpu.mxcsr = 0x1f80;
    // SAFETY: KVM_SET_FPU reads a kvm_fpu.
    if (::ioctl(fd_.get(), KVM_SET_FPU, &fpu) < 0) return host_err("KVM_SET_FPU");

    run_area()->kvm_valid_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
    // The sync area holds nothing valid until the first exit; seed its sregs.
    run_area()->s.regs.sregs = s;
    return {};
}

Result<void, HostError> Vcpu::prepare_thread() {
    static const bool installed = [] {
        struct sigaction sa{};
        sa.sa_handler = kick_handler;
        sigemptyset(&sa.sa_mask);
        ::sigaction(kick_signal(), &sa, nullptr);
        return true;
    }();
    (void)installed;
    // Block the kick signal in this thread except inside KVM_RUN, so a kick
    // that arrives between runs stays pending and ends the next one at once.
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, kick_signal());
    pthread_sigmask(SIG_BLOCK, &block, nullptr);
    sigset_t during;
    pthread_sigmask(SIG_BLOCK, nullptr, &during);
    sigdelset(&during, kick_signal());
    abi::WithEntries<abi::SignalMaskHeader, u8, 8> mask;
    mask.hdr.len = 8;  // the kernel's sigset is 64 bits
    std::memcpy(mask.entries, &during, 8);
    // SAFETY: KVM_SET_SIGNAL_MASK reads len bytes following the header.
    if (::ioctl(fd_.get(), abi::kSetSignalMask, &mask) < 0) return host_err("KVM_SET_SIGNAL_MASK");
    thread_ = pthread_self();
    thread_set_.store(true, std::memory_order_release);
    return {};
}

Result<void, HostError> Vcpu::save_fpu(FpuState& out, const VmSpace* space) const {
    static_assert(sizeof(FpuState) == sizeof(abi::Xsave));
    if (space && machine_.fast_fpu()) {
        // The stub saved it on the way out of the last syscall, and no guest
        // code has run since (the flag is cleared before every entry).
        const FastSlot* slot = space->fast_slot(id_);
        if (slot && slot->fpu_saved) {
            std::memcpy(out.region, space->fast_area(id_), machine_.xsave_layout().size);
            return {};
        }
    }
    // SAFETY: KVM_GET_XSAVE fills the 4 KiB area.
    if (::ioctl(fd_.get(), abi::kGetXsave, out.region) < 0) return host_err("KVM_GET_XSAVE");
    return {};
}

Result<void, HostError> Vcpu::load_fpu(const FpuState& in, const VmSpace* space) {
    fpu_staged_space_ = 0;
    fpu_staged_ = nullptr;
    if (space && machine_.fast_fpu() && fast_va_) {
        if (std::byte* area = space->fast_area(id_)) {
            // The guest restores it (XRSTOR in the fast page) as run() enters.
            std::memcpy(area, in.region, machine_.xsave_layout().size);
            fpu_staged_space_ = space->id();
            fpu_staged_ = &in;
            return {};
        }
    }
    // SAFETY: KVM_SET_XSAVE reads the 4 KiB area.
    if (::ioctl(fd_.get(), abi::kSetXsave, in.region) < 0) return host_err("KVM_SET_XSAVE");
    return {};
}

Result<u64, HostError> Vcpu::read_msr(u32 index) const {
    abi::WithEntries<abi::MsrsHeader, kvm_msr_entry, 1> msrs;
    msrs.hdr.nmsrs = 1;
    msrs.entries[0].index = index;
    // SAFETY: KVM_GET_MSRS fills the nmsrs entries following the header.
    if (::ioctl(fd_.get(), abi::kGetMsrs, &msrs) != 1) return host_err("KVM_GET_MSRS", EINVAL);
    return msrs.entries[0].data;
}

void Vcpu::init_fpu(FpuState& out) {
    std::memset(&out, 0, sizeof out);
    // The legacy FXSAVE area: FCW at byte 0, MXCSR at byte 24; XSTATE_BV at
    // byte 512 says x87 and SSE state are present, the rest is in init state.
    out.region[0] = 0x37f;
    out.region[6] = 0x1f80;
    out.region[128] = 3;
}

bool Vcpu::exception_pending() const {
    kvm_vcpu_events ev{};
    // SAFETY: KVM_GET_VCPU_EVENTS fills the struct.
    if (::ioctl(fd_.get(), KVM_GET_VCPU_EVENTS, &ev) < 0) return false;
    return ev.exception.injected || ev.exception.pending;
}

void Vcpu::eat_kicks() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, kick_signal());
    const struct timespec zero{0, 0};
    while (::sigtimedwait(&set, nullptr, &zero) > 0) {
    }
}

void Vcpu::kick() {
    if (thread_set_.load(std::memory_order_acquire)) pthread_kill(thread_, kick_signal());
}

void Vcpu::load_gprs(const UserRegs& u) {
    kvm_regs& r = run_area()->s.regs.regs;
    r.rax = u.rax; r.rbx = u.rbx; r.rcx = u.rcx; r.rdx = u.rdx;
    r.rsi = u.rsi; r.rdi = u.rdi; r.rbp = u.rbp;
    r.r8 = u.r8; r.r9 = u.r9; r.r10 = u.r10; r.r11 = u.r11;
    r.r12 = u.r12; r.r13 = u.r13; r.r14 = u.r14; r.r15 = u.r15;
}

void Vcpu::save_gprs(UserRegs& u) const {
    const kvm_regs& r = run_area()->s.regs.regs;
    u.rax = r.rax; u.rbx = r.rbx; u.rcx = r.rcx; u.rdx = r.rdx;
    u.rsi = r.rsi; u.rdi = r.rdi; u.rbp = r.rbp;
    u.r8 = r.r8; u.r9 = r.r9; u.r10 = r.r10; u.r11 = r.r11;
    u.r12 = r.r12; u.r13 = r.r13; u.r14 = r.r14; u.r15 = r.r15;
}

void Vcpu::load_full(VmSpace& space, const UserRegs& u) {
    kvm_run* run = run_area();
    kvm_sregs& s = run->s.regs.sregs;
    set_seg(s.cs, kUserCs, true, 3);
    set_seg(s.ss, kUserDs, false, 3);
    s.fs.base = u.fs_base;
    s.gs.base = u.gs_base;
    s.cr3 = space.root();
    load_gprs(u);
    kvm_regs& r = run->s.regs.regs;
    r.rsp = u.rsp;
    r.rip = u.rip;
    r.rflags = user_flags(u.rflags);
    run->kvm_dirty_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
    ++full_loads_;
    loaded_space_ = space.id();
    loaded_gen_ = space.tlb_generation();
    loaded_fs_ = u.fs_base;
    loaded_gs_ = u.gs_base;
}

bool Vcpu::in_restore(u64 rip) const {
    const FastSyscallLayout& l = vk_fast_syscall_layout;
    return fast_va_ && rip >= fast_va_ + l.restore && rip < fast_va_ + l.size;
}

Vcpu::FastStop Vcpu::fast_stop(u64 rip) const {
    const FastSyscallLayout& l = vk_fast_syscall_layout;
    if (!fast_va_ || rip < fast_va_ || rip - fast_va_ >= l.syscall_end) return FastStop::kOutside;
    const u64 off = rip - fast_va_;
    if (off < l.prologue_end) return FastStop::kEntry;
    return off < l.done ? FastStop::kRedo : FastStop::kDone;
}

void Vcpu::back_to_syscall(const FastSlot& slot, UserRegs& regs) const {
    const FastSyscallLayout& l = vk_fast_syscall_layout;
    const u64 off = regs.rip - fast_va_;
    if (off >= l.slow_stashed && off < l.fast) {
        regs.rax = slot.rax;
        regs.rdx = slot.rdx;
    }
    regs.rip = regs.rcx - 2;  // the `syscall` instruction (0f 05)
    regs.rflags = regs.r11;
}

void Vcpu::leave_fast_page(FastStop where, const FastSlot& slot, UserRegs& regs) const {
    if (where == FastStop::kDone) {
        const u64 off = regs.rip - fast_va_;
        if (off <= vk_fast_syscall_layout.result) regs.rax = regs.r8;
    }
    // rax holds the call's number (kRedo) or its result (kDone); rsp was
    // never touched; the rest comes back from the stash.
    regs.r8 = slot.r8;
    regs.r9 = slot.r9;
    regs.r11 = slot.r11;
    regs.rcx = slot.rcx;
    regs.rip = slot.rcx;
    regs.rflags = slot.r11;
}

Result<void, HostError> Vcpu::complete_pending_io() {
    // KVM finishes an I/O exit (and writes an `in`'s result into rax) at the
    // start of the next KVM_RUN; with immediate_exit it does only that.
    kvm_run* run = run_area();
    run->kvm_dirty_regs = 0;
    run->immediate_exit = 1;
    // SAFETY: KVM_RUN takes no argument.
    const int rc = ::ioctl(fd_.get(), KVM_RUN, 0);
    run->immediate_exit = 0;
    if (rc < 0 && errno != EINTR) return host_err("KVM_RUN (completing I/O)");
    return {};
}

Result<Trap, HostError> Vcpu::run(VmSpace& space, UserRegs& regs) {
    if (!thread_set_.load(std::memory_order_acquire)) VK_TRY(prepare_thread());
    kvm_run* run = run_area();
    kvm_regs& r = run->s.regs.regs;

    bool full = stop_ == Stop::kFresh || loaded_space_ != space.id() ||
                loaded_gen_ != space.tlb_generation() || regs.fs_base != loaded_fs_ ||
                regs.gs_base != loaded_gs_ || !canonical(regs.rip);
    if (!full) {
        switch (stop_) {
        case Stop::kSyscallUser:
        case Stop::kUser:
            // Already in ring 3 with the right CR3: only the registers change.
            load_gprs(regs);
            r.rsp = regs.rsp;
            r.rip = regs.rip;
            r.rflags = user_flags(regs.rflags);
            run->kvm_dirty_regs = KVM_SYNC_X86_REGS;
            break;
        case Stop::kSyscallKernel:
            // sysretq takes rip from rcx and flags from r11; use it only when the
            // thread's registers agree (the normal syscall return).
            if (regs.rcx == regs.rip && user_flags(regs.r11) == user_flags(regs.rflags)) {
                load_gprs(regs);
                r.r11 = user_flags(regs.rflags);
                r.rsp = regs.rsp;
                run->kvm_dirty_regs = KVM_SYNC_X86_REGS;
            } else {
                full = true;
            }
            break;
        case Stop::kException: {
            // Resume through the stub's iretq with the frame rewritten.
            const u64 top_off = kPageSize;  // the stack top is the end of stack_frame_
            u64 frame[5] = {regs.rip, kUserCs, user_flags(regs.rflags), regs.rsp, kUserDs};
            std::memcpy(machine_.memory().host(stack_frame_) + top_off - 40, frame, sizeof frame);
            load_gprs(regs);
            run->kvm_dirty_regs = KVM_SYNC_X86_REGS;
            break;
        }
        case Stop::kFresh:
            full = true;
            break;
        }
    }
    // FPU state staged by load_fpu: the guest restores it through the fast
    // page's restore entry, which then jumps to the thread's rip (rip, rax
    // and rdx wait in the slot). Staged for another space (not expected):
    // the ioctl after all.
    bool restoring = false;
    if (fpu_staged_) {
        if (fpu_staged_space_ == space.id()) {
            restoring = true;
        } else if (::ioctl(fd_.get(), abi::kSetXsave, fpu_staged_->region) < 0) {
            return host_err("KVM_SET_XSAVE");
        }
        fpu_staged_space_ = 0;
        fpu_staged_ = nullptr;
    }
    if (restoring) full = true;
    if (full) load_full(space, regs);
    if (fast_va_) {
        FastSlot* slot = space.fast_slot(id_);
        VK_ASSERT(slot != nullptr);  // every space maps the fast pages of every fast vCPU
        slot->fpu_saved = 0;         // guest code runs from here on
        if (restoring) {
            slot->rcx = regs.rip;
            slot->rax = regs.rax;
            slot->rdx = regs.rdx;
            r.rip = fast_va_ + vk_fast_syscall_layout.restore;
        }
    }

    for (;;) {
        // SAFETY: KVM_RUN takes no argument; state travels through the run area.
        const int rc = ::ioctl(fd_.get(), KVM_RUN, 0);
        const kvm_sregs& s = run->s.regs.sregs;
        const bool user_mode = (s.cs.selector & 3) == 3;
        // The guest may have moved its FS base itself (wrfsbase: the fast
        // arch_prctl, or a program's own): it is the thread's now.
        if (s.fs.base != loaded_fs_) regs.fs_base = loaded_fs_ = s.fs.base;
        if (rc < 0 || run->exit_reason == KVM_EXIT_INTR) {
            if (rc < 0 && errno != EINTR && errno != EAGAIN) return host_err("KVM_RUN");
            run->kvm_dirty_regs = 0;
            // The kick stays pending (it is blocked outside KVM_RUN) and would
            // end every later KVM_RUN at once: take it now, as QEMU does.
            eat_kicks();
            if (!user_mode) continue;  // inside a stub: finish the trap first
            if (in_restore(r.rip)) continue;  // the FPU restore entry: let it finish
            // A fault the guest took just as the kick came is still to be
            // delivered: let it be (it exits through the stub at once).
            // Another thread loaded in its place would get it, with this
            // thread's CR2 (seen as a bogus SIGSEGV after a preemption).
            if (exception_pending()) continue;
            const FastStop where = fast_stop(r.rip);
            save_gprs(regs);
            regs.rsp = r.rsp;
            regs.rip = r.rip;
            regs.rflags = r.rflags;
            stop_ = Stop::kUser;
            if (where == FastStop::kEntry) {
                // PVM notices a kick as a `syscall` enters the page: the
                // thread is back on its `syscall`, which it makes again.
                back_to_syscall(*space.fast_slot(id_), regs);
            } else if (where != FastStop::kOutside) {
                leave_fast_page(where, *space.fast_slot(id_), regs);
                if (where == FastStop::kRedo) return Trap{TrapKind::kSyscall};
            }
            return Trap{TrapKind::kInterrupted};
        }
        run->kvm_dirty_regs = 0;
        switch (run->exit_reason) {
        case KVM_EXIT_IO:
            if (run->io.port == kSyscallPort && run->io.direction == KVM_EXIT_IO_OUT) {
                save_gprs(regs);
                regs.rsp = r.rsp;
                regs.rip = r.rcx;     // the CPU put the return address in rcx
                regs.rflags = r.r11;  // and the flags in r11
                if (user_mode) {
                    stop_ = Stop::kSyscallUser;
                    syscall_user_ = true;
                } else {
                    stop_ = Stop::kSyscallKernel;
                }
                return Trap{TrapKind::kSyscall};
            }
            if (run->io.port == kFastDonePort && run->io.direction == KVM_EXIT_IO_OUT &&
                user_mode && fast_stop(r.rip) == FastStop::kDone) {
                // A fast call is done (result in r8) and a signal is pending.
                save_gprs(regs);
                regs.rsp = r.rsp;
                regs.rip = r.rip;
                regs.rax = r.r8;  // past `result`: leave_fast_page keeps rax
                leave_fast_page(FastStop::kDone, *space.fast_slot(id_), regs);
                stop_ = Stop::kSyscallUser;
                return Trap{TrapKind::kInterrupted};
            }
            if (run->io.port == kExceptionPort && run->io.direction == KVM_EXIT_IO_OUT &&
                !user_mode) {
                u64 f[7];  // vector, error code, rip, cs, rflags, rsp, ss
                std::memcpy(f, machine_.memory().host(stack_frame_) + kPageSize - 56, sizeof f);
                if ((f[3] & 3) != 3) {
                    return host_err(fmt::format("guest kernel-mode exception {} at {:#x} "
                                                "(vkernel bug)",
                                                f[0], f[2]),
                                    EFAULT);
                }
                save_gprs(regs);
                regs.rip = f[2];
                regs.rflags = f[4];
                regs.rsp = f[5];
                stop_ = Stop::kException;
                if (in_restore(f[2])) {
                    // XRSTOR refused the area (the process wrote over its own
                    // data page): the fault is the thread's, at its own rip.
                    const FastSlot& slot = *space.fast_slot(id_);
                    regs.rip = slot.rcx;
                    regs.rax = slot.rax;
                    regs.rdx = slot.rdx;
                    stop_ = Stop::kFresh;
                    VK_TRY(complete_pending_io());
                    Trap t;
                    t.kind = TrapKind::kException;
                    t.vector = static_cast<u8>(f[0]);
                    t.error_code = f[1];
                    return t;
                }
                if (const FastStop where = fast_stop(f[2]); where != FastStop::kOutside) {
                    // Only the user pointers of a call not yet made can fault
                    // in the fast syscall page: the host makes the call.
                    if (where != FastStop::kRedo && where != FastStop::kEntry)
                        return host_err(fmt::format("exception {} (error {:#x}, cr2 {:#x}) in the "
                                                    "fast syscall page at {:#x} (vkernel bug)",
                                                    f[0], f[1], s.cr2, f[2]),
                                        EFAULT);
                    if (where == FastStop::kEntry) {
                        back_to_syscall(*space.fast_slot(id_), regs);
                        regs.rip = regs.rcx;  // the host makes the call
                    } else {
                        leave_fast_page(where, *space.fast_slot(id_), regs);
                    }
                    return Trap{TrapKind::kSyscall};
                }
                Trap t;
                t.vector = static_cast<u8>(f[0]);
                t.error_code = f[1];
                if (t.vector == kVecPageFault) {
                    t.kind = TrapKind::kPageFault;
                    t.address = s.cr2;
                } else {
                    t.kind = TrapKind::kException;
                }
                return t;
            }
            if (user_mode) {
                // User code may reach other ports only where the TSS bitmap
                // lets it (it does not), or with `in` on our port: that is
                // #GP to the guest, as on a real CPU without I/O permission.
                save_gprs(regs);
                regs.rsp = r.rsp;
                regs.rip = r.rip;
                regs.rflags = r.rflags;
                VK_TRY(complete_pending_io());
                stop_ = Stop::kFresh;
                Trap t;
                t.kind = TrapKind::kException;
                t.vector = kVecGeneralProtection;
                return t;
            }
            return host_err(fmt::format("unexpected guest I/O to port {:#x} at {:#x}",
                                        run->io.port, r.rip),
                            EIO);
        case KVM_EXIT_SHUTDOWN:
            return host_err(fmt::format("guest triple fault at {:#x} (vkernel bug)", r.rip),
                            EFAULT);
        case KVM_EXIT_FAIL_ENTRY:
            return host_err(fmt::format("KVM_RUN: entry failed, reason {:#x}",
                                        run->fail_entry.hardware_entry_failure_reason),
                            EINVAL);
        case KVM_EXIT_INTERNAL_ERROR:
            return host_err(fmt::format("KVM_RUN: internal error {}", run->internal.suberror),
                            EIO);
        case KVM_EXIT_HLT:
            return host_err(fmt::format("guest halted at {:#x} (vkernel bug)", r.rip), EIO);
        default:
            return host_err(fmt::format("KVM_RUN: unexpected exit reason {} at {:#x}",
                                        run->exit_reason, r.rip),
                            EIO);
        }
    }
}

}  // namespace vk::vmspace
