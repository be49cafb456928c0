#include "pmap/phys_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <limits>

#include "base/assert.h"

namespace vk::pmap {

Result<PhysMemory, HostError> PhysMemory::create(u64 bytes) {
    // ftruncate takes a signed off_t; refuse what it cannot express before
    // rounding up can wrap around.
    constexpr u64 kMaxBytes =
        static_cast<u64>(std::numeric_limits<off_t>::max()) & ~(kPageSize - 1);
    if (bytes > kMaxBytes) return host_err("ftruncate vkernel-ram", EFBIG);
    const u64 size = bytes == 0 ? kPageSize : page_round_up(bytes);

    UniqueFd fd{::memfd_create("vkernel-ram", MFD_CLOEXEC)};
    if (!fd.valid()) return host_err("memfd_create vkernel-ram");
    // The memfd reads as zeros and takes no memory until a page is touched.
    if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0)
        return host_err("ftruncate vkernel-ram");
    Mapping map =
        VK_TRY(Mapping::map(size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0, "vkernel-ram"));
    return PhysMemory(std::move(fd), std::move(map), size);
}

std::byte* PhysMemory::host(PhysAddr pa) const {
    VK_ASSERT(pa < size_);
    // SAFETY: map_ covers [0, size_) of the memfd and pa < size_.
    return map_.bytes() + pa;
}

void PhysMemory::drop_host_mapping(PhysAddr pa, u64 bytes) const {
    VK_ASSERT(pa <= size_ && bytes <= size_ - pa);
    const u64 start = page_round_down(pa);
    const u64 end = page_round_up(pa + bytes);
    if (start == end) return;
    // SAFETY: [start, end) lies inside map_ (checked above; size_ is page
    // aligned). MADV_DONTNEED on a shared memfd mapping only drops this
    // process's page-table entries (and, through the MMU notifier, KVM's
    // shadow entries); the data stays in the memfd and reappears on the next
    // touch.
    const int rc = ::madvise(map_.bytes() + start, end - start, MADV_DONTNEED);
    // It fails only for a bad range or a locked mapping, both setup bugs.
    VK_ASSERT(rc == 0);
}

}  // namespace vk::pmap
