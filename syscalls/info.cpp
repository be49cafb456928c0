// uname, getrandom, sysinfo: what the system says about itself.

#include <sys/random.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "syscalls/syscalls.h"
#include "vkernel/kernel.h"
#include "vkernel/user_memory.h"

namespace vk::sys {

namespace {

template <std::size_t N>
void copy_cstr(char (&dst)[N], const char* src) {
    std::strncpy(dst, src, N - 1);
    dst[N - 1] = '\0';
}

}  // namespace

Result<long> sys_uname(Task& task, const SyscallArgs& a) {
    struct utsname u{};
    copy_cstr(u.sysname, "Linux");
    copy_cstr(u.nodename, task.kernel.hostname().c_str());
    copy_cstr(u.release, "6.1.0-vkernel");
    copy_cstr(u.version, "#1 SMP PREEMPT vkernel");
    copy_cstr(u.machine, "x86_64");
    copy_cstr(u.domainname, "(none)");
    VK_TRY(copy_out(task.mm(), UserPtr<struct utsname>(a[0]), u));
    return 0;
}

Result<long> sys_sethostname(Task& task, const SyscallArgs& a) {
    constexpr u64 kHostNameMax = 64;  // __NEW_UTS_LEN
    if (task.process->euid != 0) return err(EPERM);
    if (a[1] > kHostNameMax) return err(EINVAL);
    std::string name(a[1], '\0');
    VK_TRY(copy_in_bytes(task.mm(), a[0], name.data(), a[1]));
    task.kernel.set_hostname(std::move(name));
    return 0;
}

Result<long> sys_getrandom(Task& task, const SyscallArgs& a) {
    constexpr u64 kMax = 32 * 1024 * 1024 - 1;  // Linux caps one call at 32 MiB - 1
    const u64 flags = a[2];
    if (flags & ~u64{GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE}) return err(EINVAL);
    // GRND_INSECURE asks not to wait, GRND_RANDOM to wait: Linux takes neither.
    if ((flags & (GRND_INSECURE | GRND_RANDOM)) == (GRND_INSECURE | GRND_RANDOM)) return err(EINVAL);
    const u64 len = std::min(a[1], kMax);
    if (!user_range_ok(a[0], len)) return err(EFAULT);  // access_ok() of the whole buffer
    std::vector<std::byte> buf(std::min<u64>(len, 65536));
    u64 done = 0;
    while (done < len) {
        const u64 n = std::min<u64>(len - done, buf.size());
        if (::getrandom(buf.data(), n, 0) != static_cast<ssize_t>(n)) return err(EIO);
        const u64 got = copy_out_partial(task.mm(), a[0] + done, buf.data(), n);
        done += got;
        if (got < n) {
            if (done == 0) return err(EFAULT);
            break;
        }
    }
    return static_cast<long>(done);
}

Result<long> sys_sysinfo(Task& task, const SyscallArgs& a) {
    struct sysinfo si{};
    const Kernel& k = task.kernel;
    si.uptime = static_cast<long>(k.uptime_seconds());
    si.totalram = k.memory_bytes();
    si.freeram = task.kernel.frames().free_frames() * kPageSize;
    si.procs = static_cast<u16>(k.process_count());
    si.mem_unit = 1;
    VK_TRY(copy_out(task.mm(), UserPtr<struct sysinfo>(a[0]), si));
    return 0;
}

}  // namespace vk::sys
