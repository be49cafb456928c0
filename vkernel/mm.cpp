#include "vkernel/mm.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "vkernel/user_memory.h"

namespace vk {

namespace {

u32 pmap_prot(u32 prot) {
    u32 p = pmap::kProtRead;
    if (prot & kProtWrite) p |= pmap::kProtWrite;
    if (prot & kProtExec) p |= pmap::kProtExec;
    return p;
}

bool allows(u32 prot, Access a) {
    switch (a) {
    case Access::kRead: return prot & (kProtRead | kProtWrite | kProtExec);  // x86: mapped is readable
    case Access::kWrite: return prot & kProtWrite;
    case Access::kExec: return prot & kProtExec;
    }
    return false;
}

}  // namespace

std::shared_ptr<FileMappings> FileMappings::of(fs::Inode& inode) {
    if (!inode.mappings) inode.mappings = std::make_shared<FileMappings>();
    auto fm = std::dynamic_pointer_cast<FileMappings>(inode.mappings);
    VK_ASSERT(fm != nullptr);
    return fm;
}

void FileMappings::unmap_pages(u64 first, u64 last, bool even_private) {
    if (first >= last) return;
    // Page tables first, then the private copies, then (by the caller) the
    // file's frames: no page table ever points at a freed frame.
    for (Mm* mm : mms) mm->unmap_file_pages(*this, first, last);
    if (even_private)
        for (VmObject* o : privates) o->drop_pages(first, last);
}

std::shared_ptr<VmObject> VmObject::file_private(pmap::FrameAllocator& frames,
                                                 std::shared_ptr<fs::Inode> inode) {
    auto o = std::make_shared<VmObject>(frames);
    if (inode->has_page_cache()) {
        o->fmap_ = FileMappings::of(*inode);
        o->fmap_->privates.insert(o.get());
    }
    o->inode_ = std::move(inode);
    return o;
}

std::shared_ptr<VmObject> VmObject::file_shared(pmap::FrameAllocator& frames,
                                                std::shared_ptr<fs::Inode> inode) {
    VK_ASSERT(inode->has_page_cache());
    auto fm = FileMappings::of(*inode);
    if (auto o = fm->shared.lock()) return o;
    auto o = std::make_shared<VmObject>(frames);
    o->inode_ = std::move(inode);
    o->fmap_ = fm;
    o->shared_file_ = true;
    fm->shared = o;
    return o;
}

VmObject::~VmObject() {
    if (fmap_ && !shared_file_) fmap_->privates.erase(this);
    for (auto& [idx, pa] : pages_) frames_.unref(pa);
}

bool VmObject::beyond_eof(u64 index) const {
    if (!inode_) return false;
    return index >= page_round_up(inode_->size()) / kPageSize;
}

Result<pmap::PhysAddr> VmObject::read_copy(u64 index) {
    const pmap::PhysAddr pa = VK_TRY(frames_.alloc_uninit());
    // SAFETY: a frame we just allocated; the span is its 4 KiB.
    std::byte* dst = frames_.memory().host(pa);
    u64 got = 0;
    while (got < kPageSize) {
        auto n = inode_->read(index * kPageSize + got, std::span<std::byte>(dst + got, kPageSize - got));
        if (!n) {
            frames_.unref(pa);
            return Unexpected{n.error()};
        }
        if (n.value() == 0) break;
        got += n.value();
    }
    std::memset(dst + got, 0, kPageSize - got);
    return pa;
}

Result<VmObject::Page> VmObject::page(u64 index, bool create) {
    if (auto it = pages_.find(index); it != pages_.end()) return Page{it->second, true};
    if (fmap_) {
        // The file's own frame: its page cache (a read fault on a hole makes
        // the page, as shmem_fault does).
        const pmap::PhysAddr pa = VK_TRY(inode_->page(index, create));
        return Page{pa, false};
    }
    if (inode_) {
        // A copy is made even for fault-around: reading the host file is
        // far cheaper than the fault it saves.
        const pmap::PhysAddr pa = VK_TRY(read_copy(index));
        pages_.emplace(index, pa);
        return Page{pa, true};
    }
    const u64 at = index * kPageSize;
    pmap::PhysAddr pa;
    if (file_ && at < file_len_) {
        pa = VK_TRY(frames_.alloc_uninit());
        const u64 n = std::min(kPageSize, file_len_ - at);
        std::byte* dst = frames_.memory().host(pa);
        // SAFETY: the loader checked file_off + file_len lies inside the file.
        std::memcpy(dst, file_->data() + file_off_ + at, n);
        if (n < kPageSize) std::memset(dst + n, 0, kPageSize - n);
    } else {
        pa = VK_TRY(frames_.alloc());
    }
    pages_.emplace(index, pa);
    return Page{pa, true};
}

std::optional<pmap::PhysAddr> VmObject::lookup(u64 index) const {
    if (auto it = pages_.find(index); it != pages_.end()) return it->second;
    return std::nullopt;
}

Result<pmap::PhysAddr> VmObject::make_private(u64 index) {
    VK_ASSERT(!shared_file_);
    const Page p = VK_TRY(page(index));
    if (p.own && frames_.refcount(p.pa) == 1) return p.pa;
    const pmap::PhysAddr copy = VK_TRY(frames_.alloc_uninit());
    // SAFETY: both are whole frames we hold (or the file holds) a reference to.
    std::memcpy(frames_.memory().host(copy), frames_.memory().host(p.pa), kPageSize);
    pages_[index] = copy;
    if (p.own) frames_.unref(p.pa);
    return copy;
}

std::shared_ptr<VmObject> VmObject::cow_copy() const {
    VK_ASSERT(!shared_file_);
    auto c = std::make_shared<VmObject>(frames_, file_, file_off_, file_len_);
    c->inode_ = inode_;
    c->fmap_ = fmap_;
    if (fmap_) fmap_->privates.insert(c.get());
    c->pages_ = pages_;
    for (auto& [idx, pa] : c->pages_) frames_.ref(pa);
    return c;
}

void VmObject::drop_pages(u64 first, u64 last) {
    if (last - first > pages_.size()) {
        for (auto it = pages_.begin(); it != pages_.end();) {
            if (it->first >= first && it->first < last) {
                frames_.unref(it->second);
                it = pages_.erase(it);
            } else {
                ++it;
            }
        }
        return;
    }
    for (u64 i = first; i < last; i++) {
        if (auto it = pages_.find(i); it != pages_.end()) {
            frames_.unref(it->second);
            pages_.erase(it);
        }
    }
}

Result<std::unique_ptr<Mm>> Mm::create(vmspace::Machine& machine, CommitCharge* commit) {
    auto space = VK_TRY(vmspace::VmSpace::create(machine));
    return std::unique_ptr<Mm>(new Mm(machine.frames(), std::move(space), commit));
}

bool Mm::chargeable(const Region& r) {
    if (r.uncharged_ok) return false;
    return r.shared ? !r.object->has_file() : (r.prot & kProtWrite) != 0;
}

Result<std::shared_ptr<Mm>> Mm::fork(vmspace::Machine& machine, bool copy_ahead) {
    auto space = VK_TRY(vmspace::VmSpace::create(machine));
    u64 pages = 0;
    for (const auto& [start, r] : regions_)
        if (r.charged && !r.shared) pages += (r.end - r.start) / kPageSize;
    if (commit_ && !commit_->charge(pages)) return err(ENOMEM);
    std::shared_ptr<Mm> child(new Mm(frames_, std::move(space), commit_));
    child->brk_start = brk_start;
    child->brk = brk;
    child->mmap_base = mmap_base;
    child->stack_top = stack_top;

    // Under shadow paging (PVM) making a writable page read-only costs a
    // flush of that frame, and the next write to a shared page a COW fault,
    // a VM exit, on either side: far more than copying the page. A small
    // process (few pages present in its private writable regions: stack,
    // data, heap) keeps its pages writable, and the child gets copies of
    // them at once.
    std::vector<u64> hot;
    copy_ahead = copy_ahead && machine.is_pvm();
    for (auto it = regions_.begin(); copy_ahead && it != regions_.end(); ++it) {
        const Region& r = it->second;
        if (r.shared || !(r.prot & kProtWrite)) continue;
        space_->visit(r.start, r.end, [&](u64 va, pmap::PteInfo) { hot.push_back(va); });
        if (hot.size() > kForkCopyAhead) copy_ahead = false;
    }
    if (!copy_ahead) hot.clear();

    // One object may back several regions (after splits): copy it once.
    std::unordered_map<const VmObject*, std::shared_ptr<VmObject>> copies;
    for (const auto& [start, r] : regions_) {
        Region c = r;
        // Shared regions were charged once, by whoever mapped them.
        if (r.shared) c.charged = false;
        if (!r.shared) {
            auto& copy = copies[r.object.get()];
            if (!copy) copy = r.object->cow_copy();
            c.object = copy;
            // Our writable pages must fault on the next write to copy.
            if ((r.prot & kProtWrite) && !copy_ahead)
                space_->protect(r.start, r.end, pmap_prot(r.prot & ~kProtWrite));
        }
        child->note_file(c);
        child->regions_.emplace(start, std::move(c));
    }
    // The copies: the child's object takes its own frame for each hot page,
    // which leaves ours with one owner again. A page that cannot be copied
    // (out of memory) is shared read-only as usual.
    std::unordered_map<u64, pmap::PhysAddr> copied;
    for (const u64 va : hot) {
        const Region* r = child->find(va);
        const u64 index = (r->offset + (va - r->start)) / kPageSize;
        if (auto pa = r->object->make_private(index))
            copied.emplace(va, pa.value());
        else
            space_->protect(va, va + kPageSize, pmap_prot(r->prot & ~kProtWrite));
    }
    // The child starts with our translations (writable private pages now
    // read-only in both, or its own copies), as Linux copies page tables at
    // fork: every page it would otherwise fault in again costs a VM exit.
    // The child's objects hold the same frames, so the entries agree with
    // what its faults would map. A failure only leaves the child to fault.
    bool full = false;
    for (const auto& [start, r] : regions_) {
        const bool cow = !r.shared && (r.prot & kProtWrite);
        space_->visit(r.start, r.end, [&](u64 va, pmap::PteInfo pte) {
            if (full) return;
            if (cow && copy_ahead) {
                auto it = copied.find(va);
                if (it != copied.end()) {
                    pte.frame = it->second;
                    pte.prot = pmap_prot(r.prot);
                } else {
                    pte.prot &= ~pmap::kProtWrite;
                }
            }
            if (!child->space_->enter(va, pte.frame, pte.prot)) full = true;
        });
    }
    return child;
}

Mm::~Mm() {
    if (commit_)
        for (const auto& [start, r] : regions_)
            if (r.charged) commit_->uncharge((r.end - r.start) / kPageSize);
    // Unmap before the objects (and their frames) go away.
    space_.reset();
    regions_.clear();
    for (const auto& fm : files_) fm->mms.erase(this);
}

void Mm::note_file(const Region& r) {
    const std::shared_ptr<FileMappings>& fm = r.object->file_mappings_ptr();
    if (!fm) return;
    if (files_.insert(fm).second) fm->mms.insert(this);
}

void Mm::unmap_file_pages(const FileMappings& fm, u64 first, u64 last) {
    for (const auto& [start, r] : regions_) {
        if (r.object->file_mappings() != &fm) continue;
        const u64 r_first = r.offset / kPageSize;
        const u64 r_last = r_first + (r.end - r.start) / kPageSize;
        const u64 lo = std::max(first, r_first), hi = std::min(last, r_last);
        if (lo >= hi) continue;
        space_->remove(r.start + (lo - r_first) * kPageSize, r.start + (hi - r_first) * kPageSize);
    }
}

const Region* Mm::find(u64 va) const {
    auto it = regions_.upper_bound(va);
    if (it == regions_.begin()) return nullptr;
    --it;
    return va < it->second.end ? &it->second : nullptr;
}

void Mm::split_at(u64 va) {
    auto it = regions_.upper_bound(va);
    if (it == regions_.begin()) return;
    --it;
    Region& r = it->second;
    if (r.start == va || va >= r.end) return;
    Region tail = r;
    tail.start = va;
    tail.offset = r.offset + (va - r.start);
    r.end = va;
    regions_.emplace(va, std::move(tail));
}

Result<void> Mm::map(Region r) {
    if (!page_aligned(r.start) || !page_aligned(r.end) || r.start >= r.end || r.end > kUserTop)
        return err(EINVAL);
    r.charged = false;
    u64 extra = 0, keep = 0;
    if (commit_ && chargeable(r)) {
        // What is unmapped below gives its charge back first.
        u64 freed = 0;
        for (u64 va = r.start; va < r.end;) {
            const Region* old = find(va);
            if (!old) {
                auto it = regions_.upper_bound(va);
                va = it == regions_.end() ? r.end : std::min(r.end, it->first);
                continue;
            }
            const u64 e = std::min(r.end, old->end);
            if (old->charged) freed += (e - va) / kPageSize;
            va = e;
        }
        const u64 need = (r.end - r.start) / kPageSize;
        extra = need > freed ? need - freed : 0;
        if (extra && !commit_->charge(extra)) return err(ENOMEM);
        r.charged = true;
        // unmap() below gives back `freed`; the new region holds `need`.
        keep = need - extra;
    }
    unmap(r.start, r.end);
    if (commit_) commit_->used += keep;
    note_file(r);
    regions_.emplace(r.start, std::move(r));
    return {};
}

void Mm::unmap(u64 start, u64 end) {
    if (start >= end) return;
    split_at(start);
    split_at(end);
    // The page table first: erasing a region may free its object's frames
    // (or the last reference to a file and its page cache).
    space_->remove(start, end);
    auto it = regions_.lower_bound(start);
    while (it != regions_.end() && it->first < end) {
        if (commit_ && it->second.charged)
            commit_->uncharge((it->second.end - it->second.start) / kPageSize);
        it = regions_.erase(it);
    }
}

Result<void> Mm::protect(u64 start, u64 end, u32 prot) {
    if (start >= end) return {};
    // Every page must be mapped, as on Linux; a shared mapping of a file
    // opened read-only cannot become writable (VM_MAYWRITE).
    for (u64 va = start; va < end;) {
        const Region* r = find(va);
        if (!r) return err(ENOMEM);
        if (prot & ~r->max_prot) return err(EACCES);
        va = r->end;
    }
    // Making private memory writable charges it, as Linux's mprotect does.
    if (commit_) {
        u64 need = 0;
        for (u64 va = start; va < end;) {
            const Region* r = find(va);
            const u64 e = std::min(end, r->end);
            Region probe = *r;
            probe.prot = prot;
            if (!r->charged && chargeable(probe)) need += (e - va) / kPageSize;
            va = e;
        }
        if (need && !commit_->charge(need)) return err(ENOMEM);
    }
    split_at(start);
    split_at(end);
    for (auto it = regions_.lower_bound(start); it != regions_.end() && it->first < end; ++it) {
        Region& r = it->second;
        r.prot = prot;
        if (commit_ && !r.charged && chargeable(r)) r.charged = true;
    }
    // The page table is a cache: PROT_NONE drops the range; otherwise the
    // mapped pages take the new protection less write (a private page may
    // be shared copy-on-write; the first write faults and decides), so that
    // reads after an mprotect (glibc's RELRO) need no fault.
    if (prot == 0)
        space_->remove(start, end);
    else
        space_->protect(start, end, pmap_prot(prot) & ~pmap::kProtWrite);
    return {};
}

Result<void> Mm::discard(u64 start, u64 end) {
    for (u64 va = start; va < end;) {
        const Region* r = find(va);
        if (!r) return err(ENOMEM);
        va = r->end;
    }
    space_->remove(start, end);
    for (u64 va = start; va < end;) {
        const Region* r = find(va);
        const u64 e = std::min(end, r->end);
        // Private pages are dropped (anonymous ones read back as zero, file
        // ones from the file, as on Linux); shared memory keeps its contents
        // and is only unmapped from this process.
        if (!r->shared) {
            const u64 first = (r->offset + (va - r->start)) / kPageSize;
            r->object->drop_pages(first, first + (e - va) / kPageSize);
        }
        va = e;
    }
    return {};
}

Result<u64> Mm::remap(u64 old, u64 old_len, u64 new_len, bool may_move,
                      std::optional<u64> fixed) {
    if (!page_aligned(old) || new_len == 0) return err(EINVAL);
    old_len = page_round_up(old_len);
    new_len = page_round_up(new_len);
    if (old_len == 0 || old + old_len < old || old + old_len > kUserTop) return err(EINVAL);
    const Region* r = find(old);
    if (!r || old + old_len > r->end) return err(EFAULT);
    if (fixed) {
        const u64 to = *fixed;
        if (!page_aligned(to) || to < kUserMin || to + new_len > kUserTop || to + new_len < to)
            return err(EINVAL);
        if (to < old + old_len && old < to + new_len) return err(EINVAL);  // overlap
    }
    if (!fixed && new_len <= old_len) {
        unmap(old + new_len, old + old_len);
        return old;
    }
    // In place, if the pages after it are free.
    const u64 grow_end = old + new_len;
    if (!fixed && old + old_len == r->end && grow_end <= kUserTop) {
        auto next = regions_.upper_bound(old);
        if (next == regions_.end() || next->first >= grow_end) {
            const u64 extra = (new_len - old_len) / kPageSize;
            if (commit_ && r->charged && !commit_->charge(extra)) return err(ENOMEM);
            split_at(old);
            regions_.find(old)->second.end = grow_end;
            return old;
        }
    }
    if (!may_move) return err(ENOMEM);
    // Move: the new range shows the same object at the same offset.
    split_at(old);
    split_at(old + old_len);
    Region moved = regions_.find(old)->second;
    const u64 to = fixed ? *fixed : VK_TRY(find_free(new_len));
    if (fixed) unmap(to, to + new_len);
    const Region keep = moved;
    unmap(old, old + old_len);
    moved.start = to;
    moved.end = to + new_len;
    if (auto m = map(moved); !m) {
        (void)map(keep);  // put it back; its charge was just given up
        return Unexpected{m.error()};
    }
    return to;
}

Result<u64> Mm::find_free(u64 len) const {
    if (len == 0 || len > kUserTop) return err(ENOMEM);
    u64 top = mmap_base;
    // Walk regions downward from the mmap base, looking for a gap.
    auto it = regions_.lower_bound(top);
    while (true) {
        u64 floor = kUserMin;
        const Region* below = nullptr;
        if (it != regions_.begin()) {
            below = &std::prev(it)->second;
            floor = std::max(floor, below->end);
        }
        if (top >= floor + len) return top - len;
        if (!below) return err(ENOMEM);
        top = std::min(top, below->start);
        --it;
    }
}

Result<void, FaultError> Mm::fault(u64 va, Access access) {
    const Region* r = find(va);
    if (!r) return Unexpected{FaultError::kMapErr};
    if (!allows(r->prot, access)) return Unexpected{FaultError::kAccErr};
    const u32 prot = pmap_prot(r->prot);
    VmObject& object = *r->object;

    const u64 page = page_round_down(va);
    const u64 window = kFaultAround * kPageSize;
    const u64 lo = std::max(r->start, page & ~(window - 1));
    const u64 hi = std::min(r->end, (page & ~(window - 1)) + window);
    const bool cow = !r->shared && (r->prot & kProtWrite);
    auto to_fault = [](const Errno& e) { return e.code == ENOMEM ? FaultError::kNoMem : FaultError::kBus; };
    // Maps page `p`; `needed`: the faulting page, whose failure is the
    // fault's (the neighbours are best effort).
    auto map_one = [&](u64 p, bool needed) -> Result<void, FaultError> {
        const u64 index = (r->offset + (p - r->start)) / kPageSize;
        if (object.beyond_eof(index)) return Unexpected{FaultError::kBus};
        VmObject::Page frame{};
        if (needed && cow && access == Access::kWrite) {
            auto pa = object.make_private(index);
            if (!pa) return Unexpected{to_fault(pa.error())};
            frame = VmObject::Page{pa.value(), true};
        } else {
            // Neighbours of a file mapping are mapped only if the file has
            // them already (fault-around, as Linux's filemap_map_pages).
            auto got = object.page(index, needed);
            if (!got) return Unexpected{to_fault(got.error())};
            frame = got.value();
        }
        u32 this_prot = prot;
        // A frame this object does not own alone (shared with another
        // object after fork, or the file's own page) is mapped read-only:
        // the first write faults and copies it.
        if (cow && !(frame.own && frames_.refcount(frame.pa) == 1)) this_prot &= ~pmap::kProtWrite;
        if (!space_->enter(p, frame.pa, this_prot)) return Unexpected{FaultError::kNoMem};
        return {};
    };
    if (auto m = map_one(page, true); !m) return m;
    for (u64 p = lo; p < hi; p += kPageSize) {
        if (p == page || space_->extract(p)) continue;  // done, or already mapped
        if (!map_one(p, false) && p > page) break;      // e.g. the end of the file
    }
    return {};
}

bool user_range_ok(u64 addr, u64 len) { return len <= Mm::kUserTop && addr <= Mm::kUserTop - len; }

// The user-copy helpers: copy through the page table; on a short count, fault
// the page in as the guest's own access would, and go on.
u64 copy_in_partial(Mm& mm, u64 src, void* dst, u64 len) {
    u64 done = 0;
    auto* d = static_cast<std::byte*>(dst);
    while (done < len) {
        done += mm.space().read(src + done, d + done, len - done);
        if (done == len) break;
        if (!mm.fault(src + done, Access::kRead)) break;
        // The fault may have succeeded without making the page user-readable
        // (e.g. PROT_NONE is refused above); guard against spinning.
        if (mm.space().read(src + done, d + done, 1) == 0) break;
    }
    return done;
}

u64 copy_out_partial(Mm& mm, u64 dst, const void* src, u64 len) {
    u64 done = 0;
    const auto* s = static_cast<const std::byte*>(src);
    while (done < len) {
        done += mm.space().write(dst + done, s + done, len - done);
        if (done == len) break;
        if (!mm.fault(dst + done, Access::kWrite)) break;
        if (mm.space().write(dst + done, s + done, 1) == 0) break;
        done += 1;
    }
    return done;
}

u64 user_accessible(Mm& mm, u64 addr, u64 len, bool write) {
    u64 done = 0;
    while (done < len) {
        const u64 va = addr + done;
        if (va < addr) break;
        auto pte = mm.space().extract(page_round_down(va));
        const bool ok = pte && (pte->prot & pmap::kProtUser) &&
                        (!write || (pte->prot & pmap::kProtWrite));
        if (!ok) {
            if (!mm.fault(va, write ? Access::kWrite : Access::kRead)) break;
            continue;
        }
        done += std::min(len - done, kPageSize - (va & (kPageSize - 1)));
    }
    return done;
}

Result<std::string> copy_in_string(Mm& mm, u64 p, u64 max) {
    std::string out;
    char buf[256];
    while (out.size() < max) {
        // Never read across a page boundary in one step: the next page may be unmapped.
        const u64 cur = p + out.size();
        const u64 chunk = std::min<u64>({sizeof buf, kPageSize - (cur & (kPageSize - 1)),
                                         max - out.size()});
        const u64 n = copy_in_partial(mm, cur, buf, chunk);
        if (n == 0) return err(EFAULT);
        for (u64 i = 0; i < n; i++) {
            if (buf[i] == '\0') {
                out.append(buf, i);
                return out;
            }
        }
        out.append(buf, n);
        if (n < chunk) return err(EFAULT);
    }
    return err(ENAMETOOLONG);
}

}  // namespace vk
