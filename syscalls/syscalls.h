#pragma once

// The Linux x86-64 personality: one handler per syscall, named sys_<linux
// name>, grouped by family in the .cpp files of this folder. Handlers decode
// arguments, copy user memory and call the kernel; no policy lives here.

#include "vkernel/syscall_table.h"
#include "vkernel/fs/file.h"
#include "vkernel/fs/types.h"
#include "vkernel/task.h"

namespace vk::sys {

// The table main() hands to the kernel.
const SyscallTable& linux64_table();

// RLIMIT_NOFILE's soft limit: the bound for new descriptors.
u64 nofile_limit(const Process& p);
// The open file behind descriptor `fd` of the caller, or EBADF.
Result<std::shared_ptr<fs::File>> file_of(Task& t, u64 fd);
// fcntl's record-lock commands (F_GETLK ... F_OFD_SETLKW) on `f` (lock.cpp).
Result<long> fcntl_lock(Task& task, fs::File& f, u64 cmd, u64 arg);

#define VK_DECLARE(name) Result<long> sys_##name(Task& task, const SyscallArgs& args);
// fd.cpp
VK_DECLARE(read) VK_DECLARE(write) VK_DECLARE(readv) VK_DECLARE(writev) VK_DECLARE(pread64)
VK_DECLARE(pwrite64) VK_DECLARE(preadv) VK_DECLARE(pwritev) VK_DECLARE(ioctl) VK_DECLARE(close)
VK_DECLARE(close_range) VK_DECLARE(fstat) VK_DECLARE(newfstatat) VK_DECLARE(lseek)
VK_DECLARE(dup) VK_DECLARE(dup2) VK_DECLARE(dup3) VK_DECLARE(readlink) VK_DECLARE(pipe)
VK_DECLARE(pipe2) VK_DECLARE(fcntl)
// mm.cpp
VK_DECLARE(brk) VK_DECLARE(mmap) VK_DECLARE(mremap) VK_DECLARE(munmap) VK_DECLARE(mprotect) VK_DECLARE(madvise) VK_DECLARE(msync)
// process.cpp
VK_DECLARE(exit) VK_DECLARE(exit_group) VK_DECLARE(fork) VK_DECLARE(vfork) VK_DECLARE(clone)
VK_DECLARE(clone3) VK_DECLARE(execve) VK_DECLARE(wait4) VK_DECLARE(waitid)
VK_DECLARE(getpid) VK_DECLARE(gettid) VK_DECLARE(getppid) VK_DECLARE(getuid) VK_DECLARE(geteuid)
VK_DECLARE(getgid) VK_DECLARE(getegid) VK_DECLARE(getresuid) VK_DECLARE(getresgid)
VK_DECLARE(setuid) VK_DECLARE(setgid) VK_DECLARE(setreuid) VK_DECLARE(setregid)
VK_DECLARE(setresuid) VK_DECLARE(setresgid) VK_DECLARE(getgroups) VK_DECLARE(setgroups)
VK_DECLARE(setfsuid) VK_DECLARE(setfsgid) VK_DECLARE(execveat)
VK_DECLARE(getpgrp) VK_DECLARE(getpgid) VK_DECLARE(setpgid) VK_DECLARE(getsid) VK_DECLARE(setsid)
VK_DECLARE(arch_prctl) VK_DECLARE(set_tid_address) VK_DECLARE(set_robust_list) VK_DECLARE(get_robust_list) VK_DECLARE(rseq)
VK_DECLARE(sched_yield) VK_DECLARE(sched_getaffinity) VK_DECLARE(sched_setaffinity)
VK_DECLARE(getcpu) VK_DECLARE(futex) VK_DECLARE(prlimit64) VK_DECLARE(getrlimit)
VK_DECLARE(setrlimit) VK_DECLARE(getrusage) VK_DECLARE(times) VK_DECLARE(umask) VK_DECLARE(prctl)
// signal.cpp
VK_DECLARE(rt_sigaction) VK_DECLARE(rt_sigprocmask) VK_DECLARE(rt_sigpending)
VK_DECLARE(rt_sigsuspend) VK_DECLARE(rt_sigtimedwait) VK_DECLARE(pause) VK_DECLARE(kill)
VK_DECLARE(tgkill) VK_DECLARE(tkill) VK_DECLARE(sigaltstack) VK_DECLARE(rt_sigreturn)
VK_DECLARE(setitimer) VK_DECLARE(getitimer) VK_DECLARE(alarm)
// time.cpp
VK_DECLARE(clock_gettime) VK_DECLARE(clock_getres) VK_DECLARE(gettimeofday) VK_DECLARE(time)
VK_DECLARE(nanosleep) VK_DECLARE(clock_nanosleep) VK_DECLARE(restart_syscall)
// poll.cpp
VK_DECLARE(poll) VK_DECLARE(ppoll) VK_DECLARE(select) VK_DECLARE(pselect6)
// info.cpp
VK_DECLARE(uname) VK_DECLARE(getrandom) VK_DECLARE(sysinfo) VK_DECLARE(sethostname)
// path.cpp
VK_DECLARE(open) VK_DECLARE(openat) VK_DECLARE(openat2) VK_DECLARE(creat) VK_DECLARE(getdents64)
VK_DECLARE(stat) VK_DECLARE(lstat) VK_DECLARE(statx) VK_DECLARE(mkdir) VK_DECLARE(mkdirat)
VK_DECLARE(rmdir) VK_DECLARE(unlink) VK_DECLARE(unlinkat) VK_DECLARE(rename) VK_DECLARE(renameat)
VK_DECLARE(renameat2) VK_DECLARE(link) VK_DECLARE(linkat) VK_DECLARE(symlink)
VK_DECLARE(symlinkat) VK_DECLARE(readlinkat) VK_DECLARE(chmod) VK_DECLARE(fchmod)
VK_DECLARE(fchmodat) VK_DECLARE(fchmodat2) VK_DECLARE(chown) VK_DECLARE(fchown) VK_DECLARE(lchown)
VK_DECLARE(fchownat) VK_DECLARE(access) VK_DECLARE(faccessat) VK_DECLARE(faccessat2)
VK_DECLARE(chdir) VK_DECLARE(fchdir) VK_DECLARE(getcwd) VK_DECLARE(truncate) VK_DECLARE(ftruncate)
VK_DECLARE(fallocate) VK_DECLARE(fsync) VK_DECLARE(fdatasync) VK_DECLARE(sync) VK_DECLARE(syncfs)
VK_DECLARE(utimensat) VK_DECLARE(futimesat) VK_DECLARE(utime) VK_DECLARE(utimes) VK_DECLARE(mknod)
VK_DECLARE(mknodat) VK_DECLARE(statfs) VK_DECLARE(fstatfs) VK_DECLARE(chroot)
VK_DECLARE(memfd_create) VK_DECLARE(sendfile) VK_DECLARE(copy_file_range)
// lock.cpp
VK_DECLARE(flock)
// mount.cpp
VK_DECLARE(mount) VK_DECLARE(umount2)
// event.cpp
VK_DECLARE(eventfd) VK_DECLARE(eventfd2) VK_DECLARE(epoll_create) VK_DECLARE(epoll_create1)
VK_DECLARE(epoll_ctl) VK_DECLARE(epoll_wait) VK_DECLARE(epoll_pwait) VK_DECLARE(epoll_pwait2)
// socket.cpp
VK_DECLARE(socket) VK_DECLARE(socketpair) VK_DECLARE(bind) VK_DECLARE(listen) VK_DECLARE(accept)
VK_DECLARE(accept4) VK_DECLARE(connect) VK_DECLARE(shutdown) VK_DECLARE(getsockname)
VK_DECLARE(getpeername) VK_DECLARE(sendto) VK_DECLARE(recvfrom) VK_DECLARE(sendmsg)
VK_DECLARE(recvmsg) VK_DECLARE(getsockopt) VK_DECLARE(setsockopt)
#undef VK_DECLARE

}  // namespace vk::sys
