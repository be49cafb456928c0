// Memory syscalls: brk, mmap (anonymous for now), munmap, mprotect, madvise.

#include <sys/mman.h>

#include "syscalls/syscalls.h"
#include "vkernel/mm.h"

namespace vk::sys {

namespace {

Region anon_region(Task& task, u64 start, u64 end, u32 prot, const char* name) {
    Region r;
    r.start = start;
    r.end = end;
    r.prot = prot;
    r.object = std::make_shared<VmObject>(task.mm().frames());
    r.name = name;
    return r;
}

bool range_free(const Mm& mm, u64 start, u64 end) {
    for (u64 va = start; va < end; va += kPageSize)
        if (mm.find(va)) return false;
    return true;
}

bool overlaps(const Mm& mm, u64 start, u64 end) {
    auto it = mm.regions().lower_bound(start);
    if (it != mm.regions().end() && it->first < end) return true;
    if (it != mm.regions().begin() && std::prev(it)->second.end > start) return true;
    return false;
}

}  // namespace

Result<long> sys_brk(Task& task, const SyscallArgs& a) {
    Mm& mm = task.mm();
    const u64 want = a[0];
    if (want < mm.brk_start || want > Mm::kUserTop) return static_cast<long>(mm.brk);
    const u64 old_end = page_round_up(mm.brk), new_end = page_round_up(want);
    if (new_end > old_end) {
        if (overlaps(mm, old_end, new_end)) return static_cast<long>(mm.brk);
        if (!mm.map(anon_region(task, old_end, new_end, kProtRead | kProtWrite, "[heap]")))
            return static_cast<long>(mm.brk);
    } else if (new_end < old_end) {
        mm.unmap(new_end, old_end);
    }
    mm.brk = want;
    return static_cast<long>(mm.brk);
}

Result<long> sys_mmap(Task& task, const SyscallArgs& a) {
    Mm& mm = task.mm();
    const u64 addr = a[0], len = a[1];
    const u32 prot = static_cast<u32>(a[2]);
    const u64 flags = a[3];
    if (len == 0 || (prot & ~7u)) return err(EINVAL);
    if (len > Mm::kUserTop) return err(ENOMEM);
    const u64 size = page_round_up(len);
    const u64 type = flags & MAP_TYPE;
    if (type != MAP_PRIVATE && type != MAP_SHARED && type != MAP_SHARED_VALIDATE)
        return err(EINVAL);
    if (!(flags & MAP_ANONYMOUS)) return err(ENODEV);  // no files to map until the VFS exists
    if (!page_aligned(a[5])) return err(EINVAL);

    u64 start;
    if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
        if (!page_aligned(addr)) return err(EINVAL);
        if (addr < Mm::kUserMin || addr + size > Mm::kUserTop || addr + size < addr)
            return err(ENOMEM);
        if ((flags & MAP_FIXED_NOREPLACE) && !(flags & MAP_FIXED) &&
            overlaps(mm, addr, addr + size))
            return err(EEXIST);
        start = addr;
    } else {
        const u64 hint = page_round_down(addr);
        if (hint >= Mm::kUserMin && hint + size <= Mm::kUserTop && hint + size > hint &&
            range_free(mm, hint, hint + size))
            start = hint;
        else
            start = VK_TRY(mm.find_free(size));
    }
    Region r = anon_region(task, start, start + size, prot, "");
    r.shared = type != MAP_PRIVATE;
    VK_TRY(mm.map(std::move(r)));
    return static_cast<long>(start);
}

Result<long> sys_mremap(Task& task, const SyscallArgs& a) {
    const u64 flags = a[3];
    if (flags & ~u64{MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP}) return err(EINVAL);
    if (flags & MREMAP_DONTUNMAP) return err(EINVAL);  // not supported yet
    if ((flags & MREMAP_FIXED) && !(flags & MREMAP_MAYMOVE)) return err(EINVAL);
    std::optional<u64> fixed;
    if (flags & MREMAP_FIXED) fixed = a[4];
    const u64 r = VK_TRY(task.mm().remap(a[0], a[1], a[2], flags & MREMAP_MAYMOVE, fixed));
    return static_cast<long>(r);
}

Result<long> sys_munmap(Task& task, const SyscallArgs& a) {
    const u64 addr = a[0], len = a[1];
    if (!page_aligned(addr) || len == 0) return err(EINVAL);
    const u64 end = addr + page_round_up(len);
    if (end > Mm::kUserTop || end < addr) return err(EINVAL);
    task.mm().unmap(addr, end);
    return 0;
}

Result<long> sys_mprotect(Task& task, const SyscallArgs& a) {
    const u64 addr = a[0], len = a[1];
    const u32 prot = static_cast<u32>(a[2]);
    if (!page_aligned(addr)) return err(EINVAL);
    // PROT_GROWSDOWN/GROWSUP are accepted and ignored, as for a non-growing region.
    if (prot & ~(7u | PROT_GROWSDOWN | PROT_GROWSUP)) return err(EINVAL);
    const u64 end = addr + page_round_up(len);
    if (end < addr) return err(ENOMEM);
    if (end == addr) return 0;
    VK_TRY(task.mm().protect(addr, end, prot & 7u));
    return 0;
}

Result<long> sys_madvise(Task& task, const SyscallArgs& a) {
    const u64 addr = a[0], len = a[1];
    const int advice = static_cast<int>(a[2]);
    if (!page_aligned(addr)) return err(EINVAL);
    const u64 end = addr + page_round_up(len);
    if (end < addr) return err(EINVAL);
    switch (advice) {
    case MADV_DONTNEED:
        VK_TRY(task.mm().discard(addr, end));
        return 0;
    case MADV_NORMAL:
    case MADV_RANDOM:
    case MADV_SEQUENTIAL:
    case MADV_WILLNEED:
    case MADV_FREE:  // may keep the contents: keeping them is correct
    case MADV_DONTFORK:
    case MADV_DOFORK:
    case MADV_MERGEABLE:
    case MADV_UNMERGEABLE:
    case MADV_HUGEPAGE:
    case MADV_NOHUGEPAGE:
    case MADV_DONTDUMP:
    case MADV_DODUMP:
        return 0;
    default:
        return err(EINVAL);
    }
}

}  // namespace vk::sys
