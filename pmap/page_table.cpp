#include "pmap/page_table.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

#include "base/assert.h"

namespace vk::pmap {

namespace {

// x86-64 page-table entry bits (Intel SDM vol. 3, 4.5).
constexpr u64 kPteP = u64{1} << 0;
constexpr u64 kPteRw = u64{1} << 1;
constexpr u64 kPteUs = u64{1} << 2;
constexpr u64 kPteA = u64{1} << 5;
constexpr u64 kPteD = u64{1} << 6;
constexpr u64 kPtePs = u64{1} << 7;
constexpr u64 kPteNx = u64{1} << 63;
constexpr u64 kPteAddr = 0x000f'ffff'ffff'f000ULL;  // bits 12..51
// Intermediate entries grant everything; the leaf alone decides.
constexpr u64 kTableBits = kPteP | kPteRw | kPteUs | kPteA;

constexpr u64 kEntries = 512;
constexpr int kRootLevel = 3;
constexpr u64 kLowerHalfEnd = 0x0000'8000'0000'0000ULL;    // first non-canonical address
constexpr u64 kUpperHalfStart = 0xffff'8000'0000'0000ULL;  // first upper-half address
constexpr u64 kSignExtension = 0xffff'0000'0000'0000ULL;
constexpr u64 kLinearEnd = u64{1} << 48;  // end of the space the four levels index
// A user table's own slot of the upper half (PML4 510), in linear form.
constexpr u64 kPrivateLo = u64{kPrivateUpperSlot} << 39;
constexpr u64 kPrivateHi = kPrivateLo + (u64{1} << 39);

constexpr u32 kProtAll = kProtRead | kProtWrite | kProtExec | kProtUser;
constexpr u32 kProtAccess = kProtRead | kProtWrite | kProtExec;

constexpr unsigned level_shift(int level) { return kPageShift + 9 * level; }
constexpr u64 slot(u64 va, int level) { return (va >> level_shift(level)) & (kEntries - 1); }

// A range endpoint in linear (48-bit) form: the non-canonical hole collapses
// onto 2^47, so clipping to the canonical halves falls out of the ordering.
constexpr u64 linear_endpoint(u64 va) {
    if (va < kLowerHalfEnd) return va;
    if (va >= kUpperHalfStart) return va & ~kSignExtension;
    return kLowerHalfEnd;
}
constexpr u64 canonical_va(u64 linear) {
    return linear >= kLowerHalfEnd ? linear | kSignExtension : linear;
}

void check_prot(u32 prot) {
    VK_ASSERT((prot & ~kProtAll) == 0);
    VK_ASSERT((prot & kProtAccess) != 0);
}

u64 leaf_bits(u32 prot) {
    u64 bits = kPteP | kPteA;
    if (prot & kProtWrite) bits |= kPteRw | kPteD;
    if (prot & kProtUser) bits |= kPteUs;
    if (!(prot & kProtExec)) bits |= kPteNx;
    return bits;
}

PteInfo decode(u64 pte) {
    u32 prot = kProtRead;
    if (pte & kPteRw) prot |= kProtWrite;
    if (pte & kPteUs) prot |= kProtUser;
    if (!(pte & kPteNx)) prot |= kProtExec;
    return PteInfo{pte & kPteAddr, prot};
}

// vCPUs may walk these tables while we edit them: every access is a single
// untorn 64-bit load or store.
u64 load(u64* pte) { return std::atomic_ref<u64>(*pte).load(std::memory_order_relaxed); }
// Release: a new table's zeroed entries are visible before the entry linking it.
void store(u64* pte, u64 v) { std::atomic_ref<u64>(*pte).store(v, std::memory_order_release); }

bool table_empty(u64* table) {
    for (u64 i = 0; i < kEntries; ++i)
        if (load(&table[i]) != 0) return false;
    return true;
}

}  // namespace

struct PageTable::Walk {
    enum Op { kRemove, kProtect, kDrop, kVisit };
    Op op;
    u64 leaf_bits;  // kProtect: the new permission bits
    const PteVisitor& visit;
};

Result<PageTable> PageTable::create(FrameAllocator& frames) {
    const PhysAddr root = VK_TRY(frames.alloc());
    return PageTable(frames, root, false);
}

Result<PageTable> PageTable::create_user(FrameAllocator& frames, const PageTable& kernel) {
    VK_ASSERT(kernel.frames_ != nullptr && &kernel.frames_->memory() == &frames.memory());
    const PhysAddr root = VK_TRY(frames.alloc());
    PageTable table(frames, root, true);
    constexpr u64 kFirstShared = kEntries / 2;
    // SAFETY: both roots are whole table frames of 512 entries.
    // The template leaves the users' private slot empty.
    VK_ASSERT(kernel.entries(kernel.root_)[kPrivateUpperSlot] == 0);
    const u64* from = kernel.entries(kernel.root_) + kFirstShared;
    u64* to = table.entries(root) + kFirstShared;
    // The new root is not reachable by any vCPU yet: plain copies suffice.
    std::memcpy(to, from, (kEntries - kFirstShared) * sizeof(u64));
    return table;
}

PageTable::PageTable(PageTable&& o) noexcept
    : frames_(std::exchange(o.frames_, nullptr)),
      root_(std::exchange(o.root_, 0)),
      user_(o.user_),
      table_frames_(std::exchange(o.table_frames_, 0)) {}

PageTable& PageTable::operator=(PageTable&& o) noexcept {
    if (this != &o) {
        release();
        frames_ = std::exchange(o.frames_, nullptr);
        root_ = std::exchange(o.root_, 0);
        user_ = o.user_;
        table_frames_ = std::exchange(o.table_frames_, 0);
    }
    return *this;
}

PageTable::~PageTable() { release(); }

void PageTable::release() {
    if (frames_ == nullptr) return;
    drop_all();
    frames_->unref_table(root_);
    frames_ = nullptr;
    root_ = 0;
    table_frames_ = 0;
}

u64* PageTable::entries(PhysAddr table) const {
    // SAFETY: a table frame is a whole page of 512 naturally aligned u64
    // entries, inside the memory (host() checks `table`).
    return frames_->memory().host_as<u64>(table);
}

Result<void> PageTable::enter(u64 va, PhysAddr frame, u32 prot, const PteVisitor& replaced) {
    VK_ASSERT(frames_ != nullptr);
    check_prot(prot);
    VK_ASSERT((frame & ~kPteAddr) == 0);
    if (!page_aligned(va) || !canonical(va)) return err(EINVAL);
    if (user_ && va >= kLowerHalfEnd && (linear_endpoint(va) < kPrivateLo || linear_endpoint(va) >= kPrivateHi))
        return err(EINVAL);

    PhysAddr table = root_;
    for (int level = kRootLevel; level > 0; --level) {
        u64* pte = &entries(table)[slot(va, level)];
        const u64 e = load(pte);
        if (e & kPteP) {
            VK_ASSERT(!(e & kPtePs));  // this class never makes large pages
            table = e & kPteAddr;
            continue;
        }
        auto child = frames_->alloc();
        if (!child) {
            // Free the tables made above for this page: they are empty.
            if (level < kRootLevel) remove(va, va + kPageSize);
            return Unexpected{child.release_error()};
        }
        ++table_frames_;
        store(pte, *child | kTableBits);
        table = *child;
    }
    u64* pte = &entries(table)[slot(va, 0)];
    const u64 old = load(pte);
    store(pte, frame | leaf_bits(prot));
    if ((old & kPteP) && replaced) replaced(va, decode(old));
    return {};
}

void PageTable::remove(u64 start, u64 end, const PteVisitor& removed) {
    VK_ASSERT(frames_ != nullptr && page_aligned(start) && page_aligned(end));
    const u64 lo = linear_endpoint(start);
    const u64 hi = std::min(linear_endpoint(end), user_ ? kLowerHalfEnd : kLinearEnd);
    if (lo >= hi) return;
    walk(root_, kRootLevel, 0, lo, hi, Walk{Walk::kRemove, 0, removed});
}

void PageTable::protect(u64 start, u64 end, u32 prot, const PteVisitor& changed) {
    VK_ASSERT(frames_ != nullptr && page_aligned(start) && page_aligned(end));
    check_prot(prot);
    const u64 lo = linear_endpoint(start);
    const u64 hi = std::min(linear_endpoint(end), user_ ? kLowerHalfEnd : kLinearEnd);
    if (lo >= hi) return;
    walk(root_, kRootLevel, 0, lo, hi, Walk{Walk::kProtect, leaf_bits(prot), changed});
}

void PageTable::visit(u64 start, u64 end, const PteVisitor& visit) const {
    VK_ASSERT(frames_ != nullptr && page_aligned(start) && page_aligned(end) && visit);
    const u64 lo = linear_endpoint(start);
    const u64 hi = std::min(linear_endpoint(end), user_ ? kLowerHalfEnd : kLinearEnd);
    if (lo >= hi) return;
    // SAFETY: a kVisit walk only reads entries; walk() is not const because
    // the other operations write them.
    const_cast<PageTable*>(this)->walk(root_, kRootLevel, 0, lo, hi,
                                       Walk{Walk::kVisit, 0, visit});
}

void PageTable::drop_all(const PteVisitor& removed) {
    if (frames_ == nullptr) return;  // moved from
    walk(root_, kRootLevel, 0, 0, user_ ? kLowerHalfEnd : kLinearEnd,
         Walk{Walk::kDrop, 0, removed});
    if (user_) walk(root_, kRootLevel, 0, kPrivateLo, kPrivateHi, Walk{Walk::kDrop, 0, removed});
}

std::optional<PteInfo> PageTable::extract(u64 va) const {
    if (frames_ == nullptr || !canonical(va)) return std::nullopt;
    PhysAddr table = root_;
    for (int level = kRootLevel;; --level) {
        const u64 e = load(&entries(table)[slot(va, level)]);
        if (!(e & kPteP)) return std::nullopt;
        if (level == 0) return decode(e);
        table = e & kPteAddr;
    }
}

void PageTable::walk(PhysAddr table, int level, u64 base, u64 lo, u64 hi, const Walk& w) {
    u64* e = entries(table);
    const unsigned shift = level_shift(level);
    // SAFETY: base <= lo < hi <= base + 512 entries, so first <= last <= 511
    // and every e[i] below is inside this table.
    const u64 first = (lo - base) >> shift;
    const u64 last = (hi - 1 - base) >> shift;
    for (u64 i = first; i <= last; ++i) {
        const u64 pte = load(&e[i]);
        // Absent entries are skipped whole: a sparse range costs O(tables).
        if (!(pte & kPteP)) continue;
        const u64 entry_lo = base + (i << shift);
        if (level == 0) {
            if (w.op == Walk::kVisit) {
                w.visit(canonical_va(entry_lo), decode(pte));
                continue;
            }
            if (w.op == Walk::kProtect) {
                const u64 updated = (pte & kPteAddr) | w.leaf_bits;
                if (updated == pte) continue;
                store(&e[i], updated);
            } else {
                store(&e[i], 0);
            }
            if (w.visit) w.visit(canonical_va(entry_lo), decode(pte));
            continue;
        }
        VK_ASSERT(!(pte & kPtePs));
        const PhysAddr child = pte & kPteAddr;
        const u64 entry_hi = entry_lo + (u64{1} << shift);
        walk(child, level - 1, entry_lo, std::max(lo, entry_lo), std::min(hi, entry_hi), w);
        if (w.op == Walk::kProtect || w.op == Walk::kVisit) continue;
        if (w.op == Walk::kRemove) {
            // User roots point at the template's upper-half PDPTs (see class comment).
            const bool shared = !user_ && level == kRootLevel && entry_lo >= kLowerHalfEnd;
            if (shared || !table_empty(entries(child))) continue;
        }
        store(&e[i], 0);
        frames_->unref_table(child);
        --table_frames_;
    }
}

}  // namespace vk::pmap
