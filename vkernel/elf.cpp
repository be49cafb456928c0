// ELF64 parsing and validation for the loader.
//
// Written by hand rather than with libelf: the loader needs only the ELF
// header and the program headers, and what matters here is the validation
// (a hostile file must not be able to make the loader map outside the user
// range or read past the end of the file), which no library does for us.
// The structure layouts and constants come from glibc's <elf.h>.

#include "vkernel/elf.h"

#include <elf.h>
#include <fmt/core.h>

#include <cstring>
#include <optional>
#include <type_traits>

namespace vk {
namespace {

static_assert(kElfPfX == PF_X && kElfPfW == PF_W && kElfPfR == PF_R);

// Linux (fs/binfmt_elf.c, elf_read_phdrs) refuses program header tables
// larger than 64 KiB; anything bigger is corrupt or hostile.
constexpr u64 kMaxPhdrTableBytes = 64 * 1024;

// How much of a PT_INTERP path we are willing to show the user.
constexpr u64 kMaxInterpShown = 256;

Unexpected<std::string> fail(std::string sentence) {
    return Unexpected<std::string>{std::move(sentence)};
}

Unexpected<std::string> corrupt(std::string what) {
    return fail("corrupt ELF file: " + what);
}

// True if [offset, offset + len) lies inside `file`; no overflow possible.
bool in_file(std::span<const std::byte> file, u64 offset, u64 len) {
    return offset <= file.size() && len <= file.size() - offset;
}

// Copies a T out of the file at `offset` (the file need not be aligned).
// Precondition: in_file(file, offset, sizeof(T)).
template <typename T>
T read_at(std::span<const std::byte> file, u64 offset) {
    static_assert(std::is_trivially_copyable_v<T>);
    VK_ASSERT(in_file(file, offset, sizeof(T)));
    T v;
    // SAFETY: T is trivially copyable and [offset, offset + sizeof(T)) lies inside
    // `file` (asserted above); memcpy has no alignment requirement.
    std::memcpy(&v, file.data() + offset, sizeof(T));
    return v;
}

// The interpreter path of a PT_INTERP segment, made safe to print: cut at the
// first NUL, bounded, non-printable bytes replaced.
std::string interp_path(std::span<const std::byte> file, const Elf64_Phdr& ph) {
    std::string path;
    const u64 n = ph.p_filesz < kMaxInterpShown ? ph.p_filesz : kMaxInterpShown;
    for (u64 i = 0; i < n; ++i) {
        const auto c = static_cast<unsigned char>(file[ph.p_offset + i]);
        if (c == 0) break;
        path.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
    }
    return path;
}

Result<void, std::string> check_ident(std::span<const std::byte> file) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(file[i]); };
    if (file.size() < SELFMAG || std::memcmp(file.data(), ELFMAG, SELFMAG) != 0)
        return fail("not an ELF file");
    if (file.size() <= EI_CLASS || byte(EI_CLASS) != ELFCLASS64)
        return fail("not a 64-bit ELF file");
    if (file.size() < sizeof(Elf64_Ehdr))
        return corrupt(fmt::format("the ELF header is truncated ({} of {} bytes)", file.size(),
                                   sizeof(Elf64_Ehdr)));
    if (byte(EI_DATA) == ELFDATA2MSB)
        return fail("not an x86-64 ELF executable (big-endian)");
    if (byte(EI_DATA) != ELFDATA2LSB)
        return corrupt(fmt::format("unknown data encoding {}", byte(EI_DATA)));
    if (byte(EI_VERSION) != EV_CURRENT)
        return corrupt(fmt::format("unknown ELF version {}", byte(EI_VERSION)));
    return {};
}

// Validates one PT_LOAD program header (number `index` in the table).
Result<void, std::string> check_load(std::span<const std::byte> file, const Elf64_Phdr& ph,
                                     std::size_t index) {
    if (ph.p_filesz > ph.p_memsz)
        return corrupt(fmt::format("segment {} has a file size ({:#x}) larger than its memory size ({:#x})",
                                   index, ph.p_filesz, ph.p_memsz));
    if (!in_file(file, ph.p_offset, ph.p_filesz))
        return corrupt(fmt::format("segment {} (offset {:#x}, size {:#x}) extends beyond the end of the file",
                                   index, ph.p_offset, ph.p_filesz));
    u64 end = 0;
    if (__builtin_add_overflow(ph.p_vaddr, ph.p_memsz, &end) || end > kElfUserTop)
        return corrupt(fmt::format("segment {} (address {:#x}, size {:#x}) is outside the user address range",
                                   index, ph.p_vaddr, ph.p_memsz));
    if ((ph.p_vaddr ^ ph.p_offset) & (kPageSize - 1))
        return corrupt(fmt::format("segment {} has address {:#x} and file offset {:#x}, which differ modulo the page size",
                                   index, ph.p_vaddr, ph.p_offset));
    return {};
}

// The segment whose file-backed bytes hold [vaddr, vaddr + len), if any.
const ElfSegment* segment_backing(const std::vector<ElfSegment>& segs, u64 vaddr, u64 len) {
    u64 end = 0;
    if (__builtin_add_overflow(vaddr, len, &end)) return nullptr;
    for (const ElfSegment& s : segs)
        if (vaddr >= s.vaddr && end <= s.vaddr + s.filesz) return &s;
    return nullptr;
}

}  // namespace

Result<ElfImage, std::string> parse_elf(std::span<const std::byte> file) {
    VK_TRY(check_ident(file));
    const auto eh = read_at<Elf64_Ehdr>(file, 0);

    if (eh.e_machine != EM_X86_64)
        return fail(fmt::format("not an x86-64 ELF executable (machine {})", eh.e_machine));
    if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)
        return fail(fmt::format("not an executable (ELF type {})", eh.e_type));
    if (eh.e_phentsize != sizeof(Elf64_Phdr))
        return corrupt(fmt::format("the program header size is {}, not {}", eh.e_phentsize,
                                   sizeof(Elf64_Phdr)));
    if (eh.e_phnum == 0) return corrupt("there are no program headers");

    // phnum < 2^16 and phentsize == 56, so this product cannot overflow.
    const u64 table_bytes = u64{eh.e_phnum} * sizeof(Elf64_Phdr);
    if (table_bytes > kMaxPhdrTableBytes)
        return corrupt(fmt::format("too many program headers ({})", eh.e_phnum));
    if (eh.e_phoff < sizeof(Elf64_Ehdr) || !in_file(file, eh.e_phoff, table_bytes))
        return corrupt(fmt::format("the program headers (offset {:#x}, {} entries) lie outside the file",
                                   eh.e_phoff, eh.e_phnum));

    std::vector<Elf64_Phdr> phdrs;
    phdrs.reserve(eh.e_phnum);
    for (u64 i = 0; i < eh.e_phnum; ++i)
        phdrs.push_back(read_at<Elf64_Phdr>(file, eh.e_phoff + i * sizeof(Elf64_Phdr)));

    // A dynamic program is reported as such before anything else is judged:
    // that is the sentence the user needs.
    for (const Elf64_Phdr& ph : phdrs) {
        if (ph.p_type != PT_INTERP) continue;
        if (!in_file(file, ph.p_offset, ph.p_filesz))
            return corrupt("the PT_INTERP segment lies outside the file");
        const std::string path = interp_path(file, ph);
        return fail(fmt::format("dynamically linked programs are not supported yet (it needs {})",
                                path.empty() ? "a program interpreter" : path));
    }

    ElfImage img;
    img.pie = eh.e_type == ET_DYN;
    img.entry = eh.e_entry;
    img.phent = eh.e_phentsize;
    img.phnum = eh.e_phnum;

    const Elf64_Phdr* pt_phdr = nullptr;
    for (std::size_t i = 0; i < phdrs.size(); ++i) {
        const Elf64_Phdr& ph = phdrs[i];
        switch (ph.p_type) {
        case PT_LOAD: {
            VK_TRY(check_load(file, ph, i));
            if (ph.p_memsz == 0) break;  // maps nothing; Linux skips these too
            // Sorted and not sharing a page, so each segment can be one region.
            if (!img.segments.empty()) {
                const ElfSegment& prev = img.segments.back();
                if (page_round_down(ph.p_vaddr) < page_round_up(prev.vaddr + prev.memsz))
                    return corrupt(fmt::format("segment {} overlaps or precedes the loadable segment before it", i));
            }
            img.segments.push_back(ElfSegment{
                .vaddr = ph.p_vaddr,
                .memsz = ph.p_memsz,
                .offset = ph.p_offset,
                .filesz = ph.p_filesz,
                .flags = ph.p_flags & (kElfPfR | kElfPfW | kElfPfX),
            });
            break;
        }
        case PT_PHDR:
            if (pt_phdr) return corrupt("there is more than one PT_PHDR");
            pt_phdr = &ph;
            break;
        case PT_GNU_STACK:
            img.exec_stack = (ph.p_flags & PF_X) != 0;
            break;
        default:
            break;  // PT_TLS, PT_NOTE, PT_GNU_RELRO ...: the guest's libc reads them
        }
    }

    if (img.segments.empty()) return corrupt("there are no loadable segments");
    img.min_vaddr = page_round_down(img.segments.front().vaddr);
    img.max_vaddr = page_round_up(img.segments.back().vaddr + img.segments.back().memsz);

    bool entry_ok = false;
    for (const ElfSegment& s : img.segments)
        entry_ok |= img.entry >= s.vaddr && img.entry - s.vaddr < s.memsz;
    if (!entry_ok)
        return corrupt(fmt::format("the entry point {:#x} is outside every loadable segment", img.entry));

    // AT_PHDR: PT_PHDR says where the table is in memory; without it, Linux
    // finds the PT_LOAD that maps e_phoff from the file.
    if (pt_phdr) {
        if (!segment_backing(img.segments, pt_phdr->p_vaddr, table_bytes))
            return corrupt("PT_PHDR is not inside a loadable segment");
        img.phdr_vaddr = pt_phdr->p_vaddr;
    } else {
        for (const ElfSegment& s : img.segments) {
            if (eh.e_phoff >= s.offset && eh.e_phoff - s.offset <= s.filesz &&
                table_bytes <= s.filesz - (eh.e_phoff - s.offset)) {
                img.phdr_vaddr = s.vaddr + (eh.e_phoff - s.offset);
                break;
            }
        }
    }
    return img;
}

}  // namespace vk
