// Memory syscalls: brk, mmap (anonymous and files), munmap, mprotect,
// madvise, msync.

#include <sys/mman.h>

#include "syscalls/syscalls.h"
#include "vkernel/fs/file.h"
#include "vkernel/kernel.h"
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

// The region mapping `file` (fd `fd`) for mmap: the object, the checks of
// do_mmap in Linux's order (EACCES for the access mode, then ENODEV).
Result<Region> file_region(Task& task, std::shared_ptr<fs::File> file, u32 prot, bool shared,
                           u64 offset) {
    if (shared && (prot & kProtWrite) && !file->writable()) return err(EACCES);
    if (!file->readable()) return err(EACCES);
    Region r;
    r.prot = prot;
    r.shared = shared;
    r.offset = offset;
    pmap::FrameAllocator& frames = task.mm().frames();
    switch (file->ops().map_kind(*file)) {
    case fs::MapKind::kNone: return err(ENODEV);
    case fs::MapKind::kAnonymous:
        // /dev/zero: anonymous memory (shared or not), shown as such.
        r.object = std::make_shared<VmObject>(frames);
        r.offset = 0;
        return r;
    case fs::MapKind::kPageCache: {
        std::shared_ptr<fs::Inode> inode = file->inode().shared_from_this();
        r.object = shared ? VmObject::file_shared(frames, std::move(inode))
                          : VmObject::file_private(frames, std::move(inode));
        break;
    }
    case fs::MapKind::kCopy:
        // A read-only filesystem: private copies; a shared read-only
        // mapping cannot tell the difference (the file never changes).
        if (shared && file->writable()) return err(EACCES);
        r.object = VmObject::file_private(frames, file->inode().shared_from_this());
        break;
    }
    // A shared mapping of a file opened read-only can never be made
    // writable (Linux clears VM_MAYWRITE).
    if (shared && !file->writable()) r.max_prot &= ~kProtWrite;
    r.file = std::move(file);
    return r;
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
        // malloc writes the new memory's first bytes next (libc's TLS, a
        // chunk header): map them now rather than after a fault (a VM
        // exit). Best effort.
        (void)mm.fault(old_end, Access::kWrite);
    } else if (new_end < old_end) {
        mm.unmap(new_end, old_end);
    }
    mm.brk = want;
    task.kernel.publish_fast_state(*task.process);
    return static_cast<long>(mm.brk);
}

Result<long> sys_mmap(Task& task, const SyscallArgs& a) {
    Mm& mm = task.mm();
    const u64 addr = a[0], len = a[1];
    const u32 prot = static_cast<u32>(a[2]);
    const u64 flags = a[3];
    const u64 offset = a[5];
    const bool anonymous = flags & MAP_ANONYMOUS;
    // Linux's order: the offset, then the descriptor, then the rest.
    if (!page_aligned(offset)) return err(EINVAL);
    std::shared_ptr<fs::File> file;
    if (!anonymous) {
        file = VK_TRY(file_of(task, a[4]));
        if (file->is_path()) return err(EBADF);
    }
    if (len == 0 || (prot & ~7u)) return err(EINVAL);
    if (len > Mm::kUserTop) return err(ENOMEM);
    const u64 size = page_round_up(len);
    const u64 type = flags & MAP_TYPE;
    if (type != MAP_PRIVATE && type != MAP_SHARED && type != MAP_SHARED_VALIDATE)
        return err(EINVAL);
    if (!anonymous && offset + size < offset) return err(EOVERFLOW);
    Region r;
    if (anonymous) {
        r.object = std::make_shared<VmObject>(mm.frames());
        r.prot = prot;
        r.shared = type != MAP_PRIVATE;
    } else {
        r = VK_TRY(file_region(task, std::move(file), prot, type != MAP_PRIVATE, offset));
    }

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
    r.start = start;
    r.end = start + size;
    VK_TRY(mm.map(std::move(r)));
    if (flags & MAP_POPULATE) {
        // Prefault what can be: pages beyond the end of a file stay out
        // (SIGBUS on access), and running out of frames is left to the
        // access itself. Private writable memory is written to break
        // copy-on-write, as populate_vma_page_range does.
        const Region* m = mm.find(start);
        const Access access = m && !m->shared && (prot & kProtWrite) ? Access::kWrite : Access::kRead;
        for (u64 va = start; va < start + size; va += kPageSize) {
            auto pte = mm.space().extract(va);  // fault-around mapped many already
            if (pte && (access == Access::kRead || (pte->prot & pmap::kProtWrite))) continue;
            if (!mm.fault(va, access)) break;
        }
    }
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

namespace vk::sys {

// msync(2): tmpfs pages are the file, so there is nothing to write back;
// the arguments and the range are checked as Linux does.
Result<long> sys_msync(Task& task, const SyscallArgs& a) {
    const u64 addr = a[0], len = a[1];
    const u64 flags = a[2];
    if (flags & ~u64{MS_ASYNC | MS_INVALIDATE | MS_SYNC}) return err(EINVAL);
    if (!page_aligned(addr)) return err(EINVAL);
    if ((flags & MS_ASYNC) && (flags & MS_SYNC)) return err(EINVAL);
    const u64 end = addr + page_round_up(len);
    if (end < addr) return err(ENOMEM);
    for (u64 va = addr; va < end;) {
        const Region* r = task.mm().find(va);
        if (!r) return err(ENOMEM);
        va = r->end;
    }
    return 0;
}

}  // namespace vk::sys
