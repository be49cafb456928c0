#pragma once

// Running signal handlers: the frame on the user stack, rt_sigreturn, and
// what happens to a syscall a signal interrupted.

#include "base/result.h"
#include "vkernel/task.h"

namespace vk {

// Kernel-internal results that never reach the guest: the syscall is
// restarted, or turned into EINTR, depending on the handler (as Linux's).
inline constexpr int kERestartSys = 512;
inline constexpr int kERestartNoIntr = 513;
inline constexpr int kERestartNoHand = 514;
inline constexpr int kERestartRestartBlock = 516;

// Builds a handler frame for `sig` on `t`'s user stack (or its alternate
// stack) and points its registers at the handler. False if the frame cannot
// be written (the caller then kills with SIGSEGV).
bool setup_signal_frame(Task& t, int sig, const KSigInfo& info, const SigAction& act);

// rt_sigreturn: restores the registers, mask and FPU state saved in the frame.
Result<void> signal_return(Task& t);

// Called before returning to user mode after a syscall that returned one of
// the restart codes above: `handler` is the action about to run, if any.
void fix_restart(Task& t, const SigAction* handler);

}  // namespace vk
