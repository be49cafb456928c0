#pragma once

// The machine code and descriptor tables every guest address space shares.
// Each function fills one 4 KiB page in place.

#include <cstddef>

#include "base/types.h"

namespace vk::vmspace {

// 256 interrupt gates, one per vector, to the stubs at kStubsVa.
void write_idt(std::byte* page);
// One 16-byte ring-0 stub per vector: push a zero error code where the CPU
// pushes none, push the vector, `out` to kExceptionPort (a VM exit), then
// drop both and `iretq`.
void write_exception_stubs(std::byte* page);
// The LSTAR target: `out kSyscallPort, al; sysretq`. User-executable so that
// it also works on PVM, where `syscall` stays in ring 3 (DESIGN.md).
void write_syscall_page(std::byte* page);
// A vCPU's GDT (page) and TSS (kTssPages pages, with an I/O bitmap that lets
// ring 3 use kSyscallPort only). `tss_va` is the TSS's guest address,
// `rsp0` the top of the vCPU's ring-0 stack.
void write_gdt(std::byte* page, u64 tss_va);
void write_tss(std::byte* pages[], u64 rsp0);

}  // namespace vk::vmspace
