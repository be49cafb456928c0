#include "vmspace/trampoline.h"

#include <cstring>
#include <initializer_list>

#include "base/assert.h"
#include "vmspace/fast_syscall.h"
#include "vmspace/layout.h"

namespace vk::vmspace {

namespace {

void put64(std::byte* p, u64 v) { std::memcpy(p, &v, 8); }

bool has_error_code(unsigned v) {
    return v == 8 || v == 10 || v == 11 || v == 12 || v == 13 || v == 14 || v == 17 ||
           v == 21 || v == 29 || v == 30;
}

}  // namespace

void write_idt(std::byte* page) {
    std::memset(page, 0, kPageSize);
    for (unsigned v = 0; v < 256; v++) {
        const u64 target = kStubsVa + v * kStubSize;
        // int3 and into are instructions user code may execute (DPL 3), as on Linux.
        const u8 dpl = (v == 3 || v == 4) ? 3 : 0;
        const u64 lo = (target & 0xffff) | (u64{kKernelCs} << 16) |
                       (u64{0x80u | (dpl << 5) | 0xeu} << 40) | ((target >> 16) & 0xffff) << 48;
        const u64 hi = target >> 32;
        put64(page + v * 16, lo);
        put64(page + v * 16 + 8, hi);
    }
}

void write_exception_stubs(std::byte* page) {
    static_assert(256 * kStubSize == kPageSize);
    std::memset(page, 0xcc, kPageSize);
    for (unsigned v = 0; v < 256; v++) {
        u8* p = reinterpret_cast<u8*>(page + v * kStubSize);
        unsigned i = 0;
        if (has_error_code(v)) {
            p[i++] = 0x66;  // 2-byte nop keeps every stub's layout the same
            p[i++] = 0x90;
        } else {
            p[i++] = 0x6a;  // push 0
            p[i++] = 0x00;
        }
        p[i++] = 0x68;  // push imm32 (vector)
        p[i++] = static_cast<u8>(v);
        p[i++] = 0;
        p[i++] = 0;
        p[i++] = 0;
        p[i++] = 0xe6;  // out imm8, al
        p[i++] = static_cast<u8>(kExceptionPort);
        VK_ASSERT(i == kStubResumeOffset);
        p[i++] = 0x48;  // add rsp, 16
        p[i++] = 0x83;
        p[i++] = 0xc4;
        p[i++] = 0x10;
        p[i++] = 0x48;  // iretq
        p[i++] = 0xcf;
        VK_ASSERT(i <= kStubSize);
    }
}

void write_syscall_page(std::byte* page) {
    std::memset(page, 0xcc, kPageSize);
    const u8 code[] = {
        0xe6, static_cast<u8>(kSyscallPort),  // out kSyscallPort, al
        0x48, 0x0f, 0x07,                     // sysretq
    };
    std::memcpy(page, code, sizeof code);
}

void write_gdt(std::byte* page, u64 tss_va) {
    std::memset(page, 0, kPageSize);
    put64(page + kKernelCs, 0x00af'9b00'0000'ffffULL);
    put64(page + kKernelDs, 0x00cf'9300'0000'ffffULL);
    put64(page + (kUserCs32 & ~3), 0x00cf'fb00'0000'ffffULL);
    put64(page + (kUserDs & ~3), 0x00cf'f300'0000'ffffULL);
    put64(page + (kUserCs & ~3), 0x00af'fb00'0000'ffffULL);
    const u64 limit = 104 + 8192;  // TSS plus I/O bitmap plus its 0xff terminator, minus one
    const u64 lo = (limit & 0xffff) | ((tss_va & 0xffffff) << 16) | (u64{0x8b} << 40) |
                   (((limit >> 16) & 0xf) << 48) | (((tss_va >> 24) & 0xff) << 56);
    put64(page + kTssSel, lo);
    put64(page + kTssSel + 8, tss_va >> 32);
}

void write_tss(std::byte* pages[], u64 rsp0) {
    // The TSS spans kTssPages guest-contiguous pages that need not be
    // host-contiguous; write byte by byte through the page array.
    auto at = [&](u64 off) -> std::byte* { return pages[off / kPageSize] + off % kPageSize; };
    for (u64 i = 0; i < kTssPages; i++) std::memset(pages[i], 0, kPageSize);
    for (u64 i = 0; i < 8; i++) *at(4 + i) = std::byte(rsp0 >> (8 * i));
    const u16 iomap = 104;
    *at(102) = std::byte(iomap & 0xff);
    *at(103) = std::byte(iomap >> 8);
    for (u64 i = 0; i <= 8192; i++) *at(104 + i) = std::byte{0xff};
    // Clear the bits of kSyscallPort and kFastDonePort: ring 3 may `out` to
    // them and nothing else.
    for (const u16 port : {kSyscallPort, kFastDonePort}) {
        std::byte* b = at(104 + port / 8);
        *b &= std::byte(~(1u << (port % 8)));
    }
}

}  // namespace vk::vmspace
