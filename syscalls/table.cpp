#include "syscalls/syscalls.h"

namespace vk::sys {

namespace {

using A = ArgKind;
constexpr A N = A::kNone, I = A::kInt, U = A::kUns, H = A::kHex, F = A::kFd, S = A::kStr,
            B = A::kBuf;

SyscallTable build() {
    SyscallTable t{};
#define VK_SYSCALL_NAME(nr, str) t[nr].name = str;
#include "syscalls/names.inc"
#undef VK_SYSCALL_NAME
    auto set = [&](unsigned nr, SyscallFn fn, std::array<ArgKind, 6> args) {
        t[nr].fn = fn;
        t[nr].args = args;
    };
    set(0, sys_read, {F, B, U});
    set(1, sys_write, {F, B, U});
    set(3, sys_close, {F});
    set(5, sys_fstat, {F, B});
    set(8, sys_lseek, {F, I, I});
    set(9, sys_mmap, {H, U, H, H, F, H});
    set(10, sys_mprotect, {H, U, H});
    set(11, sys_munmap, {H, U});
    set(12, sys_brk, {H});
    set(13, sys_rt_sigaction, {I, B, B, U});
    set(14, sys_rt_sigprocmask, {I, B, B, U});
    set(16, sys_ioctl, {F, H, H});
    set(19, sys_readv, {F, B, U});
    set(20, sys_writev, {F, B, U});
    set(24, sys_sched_yield, {});
    set(32, sys_dup, {F});
    set(33, sys_dup2, {F, F});
    set(89, sys_readlink, {S, B, U});
    set(157, sys_prctl, {I, H, H, H, H});
    set(292, sys_dup3, {F, F, H});
    set(28, sys_madvise, {H, U, I});
    set(26, sys_msync, {H, U, H});
    set(35, sys_nanosleep, {B, B});
    set(39, sys_getpid, {});
    set(60, sys_exit, {I});
    set(63, sys_uname, {B});
    set(95, sys_umask, {H});
    set(96, sys_gettimeofday, {B, B});
    set(97, sys_getrlimit, {I, B});
    set(99, sys_sysinfo, {B});
    set(102, sys_getuid, {});
    set(104, sys_getgid, {});
    set(107, sys_geteuid, {});
    set(108, sys_getegid, {});
    set(110, sys_getppid, {});
    set(111, sys_getpgrp, {});
    set(118, sys_getresuid, {B, B, B});
    set(120, sys_getresgid, {B, B, B});
    set(121, sys_getpgid, {I});
    set(124, sys_getsid, {I});
    set(131, sys_sigaltstack, {B, B});
    set(158, sys_arch_prctl, {H, H});
    set(160, sys_setrlimit, {I, B});
    set(186, sys_gettid, {});
    set(201, sys_time, {B});
    set(204, sys_sched_getaffinity, {I, U, B});
    set(218, sys_set_tid_address, {H});
    set(228, sys_clock_gettime, {I, B});
    set(229, sys_clock_getres, {I, B});
    set(230, sys_clock_nanosleep, {I, H, B, B});
    set(231, sys_exit_group, {I});
    set(262, sys_newfstatat, {F, S, B, H});
    set(273, sys_set_robust_list, {H, U});
    set(274, sys_get_robust_list, {I, B, B});
    set(302, sys_prlimit64, {I, I, B, B});
    set(318, sys_getrandom, {B, U, H});
    set(334, sys_rseq, {H, U, H, H});
    set(15, sys_rt_sigreturn, {});
    set(34, sys_pause, {});
    set(37, sys_alarm, {U});
    set(36, sys_getitimer, {I, B});
    set(38, sys_setitimer, {I, B, B});
    set(56, sys_clone, {H, H, H, H, H});
    set(57, sys_fork, {});
    set(58, sys_vfork, {});
    set(59, sys_execve, {S, B, B});
    set(322, sys_execveat, {F, S, B, B, H});
    set(61, sys_wait4, {I, B, H, B});
    set(62, sys_kill, {I, I});
    set(98, sys_getrusage, {I, B});
    set(100, sys_times, {B});
    set(105, sys_setuid, {U});
    set(106, sys_setgid, {U});
    set(109, sys_setpgid, {I, I});
    set(112, sys_setsid, {});
    set(113, sys_setreuid, {U, U});
    set(114, sys_setregid, {U, U});
    set(115, sys_getgroups, {I, B});
    set(116, sys_setgroups, {I, B});
    set(117, sys_setresuid, {U, U, U});
    set(119, sys_setresgid, {U, U, U});
    set(122, sys_setfsuid, {U});
    set(123, sys_setfsgid, {U});
    set(127, sys_rt_sigpending, {B, U});
    set(128, sys_rt_sigtimedwait, {B, B, B, U});
    set(130, sys_rt_sigsuspend, {B, U});
    set(200, sys_tkill, {I, I});
    set(202, sys_futex, {H, I, U, H, H, U});
    set(203, sys_sched_setaffinity, {I, U, B});
    set(234, sys_tgkill, {I, I, I});
    set(247, sys_waitid, {I, I, B, H, B});
    set(309, sys_getcpu, {B, B, B});
    set(435, sys_clone3, {B, U});
    set(219, sys_restart_syscall, {});
    set(170, sys_sethostname, {S, U});
    set(25, sys_mremap, {H, U, U, H, H});
    set(17, sys_pread64, {F, B, U, I});
    set(18, sys_pwrite64, {F, B, U, I});
    set(22, sys_pipe, {B});
    set(72, sys_fcntl, {F, I, H});
    set(293, sys_pipe2, {B, H});
    set(295, sys_preadv, {F, B, U, I});
    set(296, sys_pwritev, {F, B, U, I});
    set(436, sys_close_range, {U, U, H});
    set(7, sys_poll, {B, U, I});
    set(23, sys_select, {I, B, B, B, B});
    set(270, sys_pselect6, {I, B, B, B, B, B});
    set(271, sys_ppoll, {B, U, B, B, U});
    // path.cpp
    set(2, sys_open, {S, H, H});
    set(257, sys_openat, {F, S, H, H});
    set(437, sys_openat2, {F, S, B, U});
    set(85, sys_creat, {S, H});
    set(217, sys_getdents64, {F, B, U});
    set(4, sys_stat, {S, B});
    set(6, sys_lstat, {S, B});
    set(332, sys_statx, {F, S, H, H, B});
    set(83, sys_mkdir, {S, H});
    set(258, sys_mkdirat, {F, S, H});
    set(84, sys_rmdir, {S});
    set(87, sys_unlink, {S});
    set(263, sys_unlinkat, {F, S, H});
    set(82, sys_rename, {S, S});
    set(264, sys_renameat, {F, S, F, S});
    set(316, sys_renameat2, {F, S, F, S, H});
    set(86, sys_link, {S, S});
    set(265, sys_linkat, {F, S, F, S, H});
    set(88, sys_symlink, {S, S});
    set(266, sys_symlinkat, {S, F, S});
    set(267, sys_readlinkat, {F, S, B, U});
    set(90, sys_chmod, {S, H});
    set(91, sys_fchmod, {F, H});
    set(268, sys_fchmodat, {F, S, H});
    set(452, sys_fchmodat2, {F, S, H, H});
    set(92, sys_chown, {S, I, I});
    set(93, sys_fchown, {F, I, I});
    set(94, sys_lchown, {S, I, I});
    set(260, sys_fchownat, {F, S, I, I, H});
    set(21, sys_access, {S, H});
    set(269, sys_faccessat, {F, S, H});
    set(439, sys_faccessat2, {F, S, H, H});
    set(80, sys_chdir, {S});
    set(81, sys_fchdir, {F});
    set(79, sys_getcwd, {B, U});
    set(76, sys_truncate, {S, I});
    set(77, sys_ftruncate, {F, I});
    set(285, sys_fallocate, {F, H, I, I});
    set(74, sys_fsync, {F});
    set(75, sys_fdatasync, {F});
    set(162, sys_sync, {});
    set(306, sys_syncfs, {F});
    set(280, sys_utimensat, {F, S, B, H});
    set(261, sys_futimesat, {F, S, B});
    set(132, sys_utime, {S, B});
    set(235, sys_utimes, {S, B});
    set(133, sys_mknod, {S, H, H});
    set(259, sys_mknodat, {F, S, H, H});
    set(137, sys_statfs, {S, B});
    set(138, sys_fstatfs, {F, B});
    set(161, sys_chroot, {S});
    set(319, sys_memfd_create, {S, H});
    set(40, sys_sendfile, {F, F, B, U});
    set(326, sys_copy_file_range, {F, B, F, B, U, H});
    // lock.cpp, mount.cpp
    set(73, sys_flock, {F, H});
    set(165, sys_mount, {S, S, S, H, H});
    set(166, sys_umount2, {S, H});
    // socket.cpp
    set(41, sys_socket, {I, H, I});
    set(42, sys_connect, {F, B, U});
    set(43, sys_accept, {F, B, B});
    set(44, sys_sendto, {F, B, U, H, B, U});
    set(45, sys_recvfrom, {F, B, U, H, B, B});
    set(46, sys_sendmsg, {F, B, H});
    set(47, sys_recvmsg, {F, B, H});
    set(48, sys_shutdown, {F, I});
    set(49, sys_bind, {F, B, U});
    set(50, sys_listen, {F, I});
    set(51, sys_getsockname, {F, B, B});
    set(52, sys_getpeername, {F, B, B});
    set(53, sys_socketpair, {I, H, I, B});
    set(54, sys_setsockopt, {F, I, I, B, U});
    set(55, sys_getsockopt, {F, I, I, B, B});
    set(288, sys_accept4, {F, B, B, H});
    // event.cpp
    set(284, sys_eventfd, {U});
    set(290, sys_eventfd2, {U, H});
    set(213, sys_epoll_create, {I});
    set(291, sys_epoll_create1, {H});
    set(233, sys_epoll_ctl, {F, I, F, B});
    set(232, sys_epoll_wait, {F, B, I, I});
    set(281, sys_epoll_pwait, {F, B, I, I, B, U});
    set(441, sys_epoll_pwait2, {F, B, I, B, B, U});
    (void)N;
    (void)S;
    return t;
}

}  // namespace

u64 nofile_limit(const Process& p) {
    const u64 l = p.rlimits[7][0];  // RLIMIT_NOFILE
    return l ? l : 1024;
}

Result<std::shared_ptr<fs::File>> file_of(Task& t, u64 fd) {
    if (fd > 0x7fff'ffff) return err(EBADF);
    return t.process->fds->get(static_cast<int>(fd));
}

const SyscallTable& linux64_table() {
    static const SyscallTable table = build();
    return table;
}

}  // namespace vk::sys
