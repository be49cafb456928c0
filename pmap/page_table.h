#pragma once

#include <functional>
#include <optional>

#include "base/result.h"
#include "base/types.h"
#include "pmap/frame_allocator.h"
#include "pmap/phys_memory.h"

namespace vk::pmap {

// Access rights of one page. A mapped page is always readable (x86 cannot
// express write-only or execute-only pages).
enum Prot : u32 {
    kProtRead = 1,
    kProtWrite = 2,
    kProtExec = 4,
    kProtUser = 8,  // reachable from ring 3; without it the page is supervisor-only
};

// What a present leaf entry says.
struct PteInfo {
    PhysAddr frame = 0;
    u32 prot = 0;  // Prot bits; kProtRead is always set
    bool operator==(const PteInfo&) const = default;
};

// Called for each present leaf entry a remove/protect changed, with its
// virtual address and the entry's old contents. The caller uses it to make the
// change visible to running vCPUs (TLB) and to drop its frame references.
using PteVisitor = std::function<void(u64 va, PteInfo old)>;

// x86-64 4-level page tables kept in frames of a PhysMemory: a cache of the
// kernel's memory map that may be dropped at any time and refilled on faults.
//
// An address space is a PageTable made with create_user(): its upper half
// (PML4 slots 256..511) is shared, read-only to this class, with the kernel
// template's tables, and remove/protect/drop_all never touch it, except
// slot kPrivateUpperSlot, which the template leaves empty and each user table
// owns (enter and drop_all reach it; remove and protect do not). Leaf entries
// do not hold frame references; the caller keeps a frame alive while mapped.
// Page-table frames are owned by this object, freed when empty and on
// destruction. Not thread safe: the owner (an address space) serializes calls.
//
// The kernel template must outlive every user table made from it. Because
// user roots point at the template's upper-half PDPTs, the template keeps
// those PDPTs when they become empty (only drop_all and the destructor free
// them); every other table is freed as soon as it is empty.
inline constexpr unsigned kPrivateUpperSlot = 510;  // 0xffff'ff00'0000'0000

class PageTable {
public:
    // A page table covering all 48 bits (used for the kernel template).
    static Result<PageTable> create(FrameAllocator& frames);
    // A page table whose upper half is that of `kernel` at this moment (its
    // PML4 slots 256..511 are copied: populate them before creating users).
    static Result<PageTable> create_user(FrameAllocator& frames, const PageTable& kernel);

    PageTable(PageTable&&) noexcept;
    PageTable& operator=(PageTable&&) noexcept;
    PageTable(const PageTable&) = delete;
    PageTable& operator=(const PageTable&) = delete;
    // drop_all() with no visitor, then frees the root. A caller that holds
    // references for mapped frames calls drop_all(visitor) first.
    ~PageTable();

    PhysAddr root() const { return root_; }

    // Maps the page at `va` to `frame` with `prot`, replacing any mapping (the
    // old one is reported to `replaced`, if given). A and D bits are preset so
    // the guest never writes them. Errors: EINVAL for an unaligned or
    // non-canonical va, or a va in the shared upper half of a user table;
    // ENOMEM when a table frame cannot be had (tables made for this call are
    // freed again, except a template's shared PDPT). Preconditions: `frame` is page aligned; `prot` has only
    // Prot bits and grants some access (PROT_NONE is remove(), not a prot).
    Result<void> enter(u64 va, PhysAddr frame, u32 prot, const PteVisitor& replaced = nullptr);
    // Unmaps [start, end) and frees tables that become empty. Precondition:
    // start and end are page aligned. The range is clipped to the canonical
    // halves this table owns (the lower half of a user table); start >= end
    // is an empty range, so the very last page of the address space cannot be
    // named (drop_all still covers it). Entries are cleared before they are
    // reported.
    void remove(u64 start, u64 end, const PteVisitor& removed = nullptr);
    // Sets the protection of present pages in [start, end) to `prot` and
    // reports those whose entry changed. Same range rules as remove(); `prot`
    // as for enter(). Never allocates or frees a table.
    void protect(u64 start, u64 end, u32 prot, const PteVisitor& changed = nullptr);
    // What the leaf for the page holding `va` says, or nullopt (also for a
    // non-canonical va). Reads the shared upper half of a user table too.
    std::optional<PteInfo> extract(u64 va) const;

    // Calls `visit` for each present leaf entry in [start, end), changing nothing.
    void visit(u64 start, u64 end, const PteVisitor& visit) const;
    // Drops every mapping this table owns (the user half of a user table) and
    // frees all its table frames but the root. Each dropped leaf is reported.
    void drop_all(const PteVisitor& removed = nullptr);

    // Table frames held, root included (for leak tests and statistics).
    u64 table_frames() const { return table_frames_; }

    static bool canonical(u64 va) {
        return va < 0x0000'8000'0000'0000ULL || va >= 0xffff'8000'0000'0000ULL;
    }

private:
    PageTable(FrameAllocator& frames, PhysAddr root, bool user)
        : frames_(&frames), root_(root), user_(user), table_frames_(1) {}

    struct Walk;  // what walk() does to the entries it visits (page_table.cpp)

    // The 512 entries of the table in frame `table`, through the direct map.
    u64* entries(PhysAddr table) const;
    // Visits the present entries of `table` (a level-`level` table, 3 = PML4,
    // whose first entry maps linear address `base`) that overlap [lo, hi),
    // descending into lower tables. Linear addresses are the 48 bits the
    // tables index: the upper canonical half is [2^47, 2^48).
    void walk(PhysAddr table, int level, u64 base, u64 lo, u64 hi, const Walk& w);
    // drop_all() and frees the root; leaves *this owning nothing.
    void release();

    FrameAllocator* frames_;  // nullptr once moved from: owns nothing
    PhysAddr root_;
    bool user_;  // upper half shared with the kernel template
    u64 table_frames_;
};

}  // namespace vk::pmap
