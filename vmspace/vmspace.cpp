#include "vmspace/vmspace.h"

#include <algorithm>
#include <cstring>

#include "vmspace/layout.h"

namespace vk::vmspace {

using pmap::PteInfo;

namespace {
std::atomic<u64> g_next_space_id{1};
}  // namespace

Result<std::unique_ptr<VmSpace>> VmSpace::create(Machine& machine) {
    auto table = VK_TRY(pmap::PageTable::create_user(machine.frames(), machine.kernel_table()));
    std::unique_ptr<VmSpace> s(new VmSpace(machine, std::move(table), g_next_space_id.fetch_add(1)));
    if (machine.fast_syscalls()) {
        const u64 xfeatures = machine.fast_fpu() ? machine.xsave_layout().features : 0;
        for (unsigned i = 0; i < machine.fast_vcpus(); i++) {
            // Zeroed: no thread's slot says anything until the kernel fills it.
            const pmap::PhysAddr f = VK_TRY(machine.frames().alloc());
            s->fast_data_.push_back(f);
            s->fast_slot(i)->xfeatures = xfeatures;
        }
        VK_TRY(s->ensure_fast_pages());
    }
    return s;
}

Result<void> VmSpace::ensure_fast_pages() {
    if (fast_data_.empty() || fast_mapped_) return {};
    // Guest-visible in ring 3: the fast syscall page runs there under PVM.
    for (unsigned i = 0; i < fast_data_.size(); i++) {
        const u64 va = kFastBaseVa + u64{i} * kFastBlock;
        VK_TRY(table_.enter(va, machine_.fast_code_frame(),
                            pmap::kProtRead | pmap::kProtExec | pmap::kProtUser));
        VK_TRY(table_.enter(va + kPageSize, fast_data_[i],
                            pmap::kProtRead | pmap::kProtWrite | pmap::kProtUser));
    }
    fast_mapped_ = true;
    return {};
}

FastSlot* VmSpace::fast_slot(unsigned vcpu) const {
    if (vcpu >= fast_data_.size()) return nullptr;
    // SAFETY: the data page is a whole frame we own; the slot starts it.
    return reinterpret_cast<FastSlot*>(machine_.memory().host(fast_data_[vcpu]));
}

std::byte* VmSpace::fast_area(unsigned vcpu) const {
    if (vcpu >= fast_data_.size()) return nullptr;
    // SAFETY: the area lies inside the data page, after the slot.
    return machine_.memory().host(fast_data_[vcpu]) + kFastAreaOffset;
}

VmSpace::~VmSpace() {
    // On PVM a dead space's stale shadow entries need no flush frame by
    // frame: its table frames, root included, wait in the allocator's
    // quarantine until KVM has forgotten every shadow page, so nothing can
    // reach those entries again (DESIGN.md, "This machine's KVM").
    if (machine_.is_pvm())
        table_.drop_all();
    else
        drop_all();
    for (const pmap::PhysAddr f : fast_data_) machine_.frames().unref(f);
}

void VmSpace::invalidate(const PteInfo& old) {
    if (machine_.is_pvm())
        stale_.push_back(old.frame);
    else
        tlb_gen_.fetch_add(1, std::memory_order_acq_rel);
}

void VmSpace::flush_invalidated() {
    if (stale_.empty()) return;
    // Shadow paging never sees host PTE writes; dropping the host mapping of
    // the old frames makes KVM drop its shadow entries for them (DESIGN.md).
    // Every removed leaf goes through here, so no shadow entry survives that
    // could translate through a page-table frame we later reuse. Contiguous
    // frames are dropped with one call.
    std::sort(stale_.begin(), stale_.end());
    u64 start = stale_[0], end = start + kPageSize;
    for (std::size_t i = 1; i < stale_.size(); i++) {
        if (stale_[i] < end) continue;
        if (stale_[i] != end) {
            machine_.memory().drop_host_mapping(start, end - start);
            start = stale_[i];
        }
        end = stale_[i] + kPageSize;
    }
    machine_.memory().drop_host_mapping(start, end - start);
    stale_.clear();
}

Result<void> VmSpace::enter(u64 va, pmap::PhysAddr frame, u32 prot,
                            const pmap::PteVisitor& replaced) {
    prot |= pmap::kProtUser;
    auto r = table_.enter(va, frame, prot, [&](u64 v, PteInfo old) {
        // The same frame with more rights needs no flush: the guest's next
        // access faults into KVM, which re-reads the entry.
        if (old.frame != frame || (old.prot & ~prot)) invalidate(old);
        if (replaced) replaced(v, old);
    });
    flush_invalidated();
    return r;
}

void VmSpace::remove(u64 start, u64 end, const pmap::PteVisitor& removed) {
    table_.remove(start, end, [&](u64 v, PteInfo old) {
        invalidate(old);
        if (removed) removed(v, old);
    });
    flush_invalidated();
}

void VmSpace::protect(u64 start, u64 end, u32 prot, const pmap::PteVisitor& changed) {
    prot |= pmap::kProtUser;
    table_.protect(start, end, prot, [&](u64 v, PteInfo old) {
        // Only a downgrade can leave a stale, more permissive translation.
        if ((old.prot & ~prot) & (pmap::kProtWrite | pmap::kProtExec | pmap::kProtUser))
            invalidate(old);
        if (changed) changed(v, old);
    });
    flush_invalidated();
}

void VmSpace::drop_all(const pmap::PteVisitor& removed) {
    table_.drop_all([&](u64 v, PteInfo old) {
        invalidate(old);
        if (removed && v < kFastBaseVa) removed(v, old);
    });
    flush_invalidated();
    // Mapped again before the next run (ensure_fast_pages): this may be
    // the allocator's reclaim, which must not allocate.
    fast_mapped_ = false;
}

u64 VmSpace::copy(u64 va, void* buf, u64 len, bool to_guest, u32 need) const {
    u64 done = 0;
    auto* p = static_cast<std::byte*>(buf);
    while (done < len) {
        const u64 cur = va + done;
        if (cur < va || cur >= kUserTop) break;  // wrapped, or beyond user space
        auto pte = table_.extract(page_round_down(cur));
        if (!pte || (pte->prot & need) != need) break;
        const u64 off = cur & (kPageSize - 1);
        const u64 n = std::min(len - done, kPageSize - off);
        std::byte* host = machine_.memory().host(pte->frame) + off;
        // SAFETY: host..host+n lies inside one frame of the direct map.
        if (to_guest)
            std::memcpy(host, p + done, n);
        else
            std::memcpy(p + done, host, n);
        done += n;
    }
    return done;
}

u64 VmSpace::read(u64 va, void* dst, u64 len) const {
    return copy(va, dst, len, false, pmap::kProtUser);
}

u64 VmSpace::write(u64 va, const void* src, u64 len) {
    return copy(va, const_cast<void*>(src), len, true, pmap::kProtUser | pmap::kProtWrite);
}

u64 VmSpace::write_force(u64 va, const void* src, u64 len) {
    return copy(va, const_cast<void*>(src), len, true, pmap::kProtUser);
}

}  // namespace vk::vmspace
