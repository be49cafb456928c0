#pragma once

// ELF64 parsing for the program loader. This file only reads bytes: it maps
// nothing and knows nothing of KVM or address spaces. The file is treated as
// hostile: every offset, size and address is checked before it is used, so
// the loader may rely on the invariants documented on ElfImage.

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/types.h"

namespace vk {

// Segment permission bits, with the values of <elf.h>'s PF_X, PF_W, PF_R
// (elf.cpp checks that they match) so this header need not pull in <elf.h>.
inline constexpr u32 kElfPfX = 1;
inline constexpr u32 kElfPfW = 2;
inline constexpr u32 kElfPfR = 4;

// Lowest address that is not a canonical lower-half (user) address.
inline constexpr u64 kElfUserTop = 0x0000'8000'0000'0000;

// One PT_LOAD segment: file bytes [offset, offset + filesz) appear at
// [vaddr, vaddr + filesz); the rest up to vaddr + memsz is zero (bss).
struct ElfSegment {
    u64 vaddr = 0;   // unbiased
    u64 memsz = 0;
    u64 offset = 0;
    u64 filesz = 0;
    u32 flags = 0;   // kElfPfR | kElfPfW | kElfPfX only; other p_flags bits are dropped
};

// What the loader needs to know about an executable. Guarantees when
// parse_elf() succeeds:
//  - segments is non-empty, sorted by vaddr, and no two segments share a page
//    (so each can become one region of its own);
//  - for each segment: memsz > 0, filesz <= memsz, offset + filesz <= file
//    size, vaddr + memsz <= kElfUserTop, vaddr % 4096 == offset % 4096;
//  - min_vaddr/max_vaddr are page-aligned and span all segments;
//  - entry lies inside some segment's [vaddr, vaddr + memsz);
//  - phdr_vaddr, when non-zero, addresses phnum * phent bytes that lie in
//    the file-backed part of one segment.
// For a pie image every address is unbiased: the loader adds its chosen
// page-aligned bias and must then re-check the biased span against its own
// user address limit.
struct ElfImage {
    bool pie = false;            // ET_DYN without PT_INTERP (static-pie): loader picks a bias
    u64 entry = 0;               // unbiased
    u64 phdr_vaddr = 0;          // unbiased vaddr of the program headers in memory (AT_PHDR), 0 if not mapped
    u16 phent = 0, phnum = 0;    // AT_PHENT, AT_PHNUM
    u64 min_vaddr = 0, max_vaddr = 0;   // page-rounded span of PT_LOAD segments
    std::vector<ElfSegment> segments;    // PT_LOAD only (empty ones dropped), in order
    bool exec_stack = false;     // PT_GNU_STACK has PF_X (no PT_GNU_STACK: not executable, as on x86-64 Linux)
};

// Parses and validates an x86-64 ELF64 executable that is static (ET_EXEC)
// or static-pie (ET_DYN without PT_INTERP). `file` is the whole file; the
// result does not point into it. On failure the error is one sentence for
// the user, without a trailing period, e.g. "not an ELF file",
// "not a 64-bit ELF file", "not an x86-64 ELF executable (machine 183)",
// "not an executable (ELF type 1)",
// "dynamically linked programs are not supported yet (it needs /lib64/ld-linux-x86-64.so.2)",
// "corrupt ELF file: <what>".
Result<ElfImage, std::string> parse_elf(std::span<const std::byte> file);

}  // namespace vk
