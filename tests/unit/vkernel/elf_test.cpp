// Tests for parse_elf(): real executables built by the host toolchains (and
// checked against what Linux's own loader puts in the auxiliary vector), and
// crafted headers that try to break every check.

#include <elf.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "vkernel/elf.h"

namespace vk {
namespace {

using Bytes = std::vector<std::byte>;

Bytes read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in) << "cannot open " << path;
    std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Bytes out(chars.size());
    if (!chars.empty()) std::memcpy(out.data(), chars.data(), chars.size());
    return out;
}

std::string error_of(const Bytes& file) {
    auto r = parse_elf(file);
    if (r.has_value()) return "(parsed successfully)";
    return r.error();
}

// Everything elf.h promises about a successful result.
void expect_invariants(const ElfImage& img, u64 file_size) {
    ASSERT_FALSE(img.segments.empty());
    EXPECT_TRUE(page_aligned(img.min_vaddr));
    EXPECT_TRUE(page_aligned(img.max_vaddr));
    EXPECT_LE(img.max_vaddr, kElfUserTop);
    EXPECT_EQ(img.min_vaddr, page_round_down(img.segments.front().vaddr));
    bool entry_inside = false;
    u64 prev_end = 0;
    for (const ElfSegment& s : img.segments) {
        EXPECT_GT(s.memsz, 0u);
        EXPECT_LE(s.filesz, s.memsz);
        EXPECT_LE(s.offset, file_size);
        EXPECT_LE(s.filesz, file_size - s.offset);
        EXPECT_LE(s.vaddr, kElfUserTop - s.memsz);
        EXPECT_EQ(s.vaddr % kPageSize, s.offset % kPageSize);
        EXPECT_EQ(s.flags & ~(kElfPfR | kElfPfW | kElfPfX), 0u);
        EXPECT_GE(page_round_down(s.vaddr), prev_end);
        prev_end = page_round_up(s.vaddr + s.memsz);
        EXPECT_GE(s.vaddr, img.min_vaddr);
        EXPECT_LE(s.vaddr + s.memsz, img.max_vaddr);
        entry_inside |= img.entry >= s.vaddr && img.entry < s.vaddr + s.memsz;
    }
    EXPECT_EQ(img.max_vaddr, prev_end);
    EXPECT_TRUE(entry_inside);
    EXPECT_EQ(img.phent, sizeof(Elf64_Phdr));
    if (img.phdr_vaddr != 0) {
        bool backed = false;
        const u64 len = u64{img.phnum} * img.phent;
        for (const ElfSegment& s : img.segments)
            backed |= img.phdr_vaddr >= s.vaddr && img.phdr_vaddr + len <= s.vaddr + s.filesz;
        EXPECT_TRUE(backed);
    }
}

// What Linux's loader told the sample program (see elf_sample.c).
struct Auxv {
    u64 phdr = 0, entry = 0, phnum = 0, phent = 0;
};

Auxv run_sample(const std::string& path) {
    Auxv a;
    FILE* p = ::popen(path.c_str(), "r");
    EXPECT_NE(p, nullptr);
    if (!p) return a;
    unsigned long phdr = 0, entry = 0, phnum = 0, phent = 0;
    EXPECT_EQ(std::fscanf(p, "%lx %lx %lu %lu", &phdr, &entry, &phnum, &phent), 4);
    EXPECT_EQ(::pclose(p), 0);
    a.phdr = phdr;
    a.entry = entry;
    a.phnum = phnum;
    a.phent = phent;
    return a;
}

// Parses a real sample, checks the invariants and compares with the auxv the
// host kernel gave the same binary.
void check_real_sample(const std::string& path, bool expect_pie) {
    SCOPED_TRACE(path);
    const Bytes file = read_file(path);
    auto r = parse_elf(file);
    ASSERT_TRUE(r.has_value()) << r.error();
    const ElfImage& img = r.value();
    EXPECT_EQ(img.pie, expect_pie);
    EXPECT_FALSE(img.exec_stack);
    expect_invariants(img, file.size());
    if (expect_pie) {
        EXPECT_EQ(img.min_vaddr, 0u);
    }

    const Auxv aux = run_sample(path);
    const u64 bias = aux.entry - img.entry;
    if (expect_pie) {
        EXPECT_TRUE(page_aligned(bias));
        EXPECT_NE(bias, 0u);
    } else {
        EXPECT_EQ(bias, 0u);
    }
    EXPECT_NE(img.phdr_vaddr, 0u);
    EXPECT_EQ(img.phdr_vaddr + bias, aux.phdr);
    EXPECT_EQ(img.phnum, aux.phnum);
    EXPECT_EQ(img.phent, aux.phent);
}

TEST(ElfReal, StaticGlibc) { check_real_sample(VK_ELF_SAMPLE_STATIC, false); }
TEST(ElfReal, StaticPieGlibc) { check_real_sample(VK_ELF_SAMPLE_STATIC_PIE, true); }
TEST(ElfReal, StaticMusl) { check_real_sample(VK_ELF_SAMPLE_MUSL, false); }

TEST(ElfReal, Busybox) {
    const char* path = "/bin/busybox";
    if (!std::ifstream(path)) GTEST_SKIP() << path << " is missing (install busybox-static)";
    const Bytes file = read_file(path);
    auto r = parse_elf(file);
    ASSERT_TRUE(r.has_value()) << r.error();
    EXPECT_FALSE(r->pie);
    expect_invariants(r.value(), file.size());
    // An executable has one executable segment and one writable one at least.
    bool has_x = false, has_w = false;
    for (const ElfSegment& s : r->segments) {
        has_x |= (s.flags & kElfPfX) != 0;
        has_w |= (s.flags & kElfPfW) != 0;
    }
    EXPECT_TRUE(has_x);
    EXPECT_TRUE(has_w);
}

TEST(ElfReal, DynamicIsRefusedByName) {
    EXPECT_EQ(error_of(read_file(VK_ELF_SAMPLE_DYNAMIC)),
              "dynamically linked programs are not supported yet "
              "(it needs /lib64/ld-linux-x86-64.so.2)");
}

TEST(ElfReal, RelocatableObjectIsNotAnExecutable) {
    EXPECT_EQ(error_of(read_file(VK_ELF_SAMPLE_OBJECT)), "not an executable (ELF type 1)");
}

TEST(ElfReal, TextFileIsNotElf) {
    EXPECT_EQ(error_of(read_file(VK_ELF_SAMPLE_SOURCE)), "not an ELF file");
}

// ---------------------------------------------------------------------------
// Crafted files. The default Builder makes a valid static executable:
//   0x400000 R (holds the headers), 0x401000 R+X (entry), 0x402000 RW with bss.

struct Builder {
    Elf64_Ehdr eh{};
    std::vector<Elf64_Phdr> ph;
    u64 file_size = 0x3000;
    bool fix_phnum = true;  // set e_phnum from ph.size()

    Builder() {
        std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
        eh.e_ident[EI_CLASS] = ELFCLASS64;
        eh.e_ident[EI_DATA] = ELFDATA2LSB;
        eh.e_ident[EI_VERSION] = EV_CURRENT;
        eh.e_type = ET_EXEC;
        eh.e_machine = EM_X86_64;
        eh.e_version = EV_CURRENT;
        eh.e_entry = 0x401010;
        eh.e_phoff = sizeof(Elf64_Ehdr);
        eh.e_ehsize = sizeof(Elf64_Ehdr);
        eh.e_phentsize = sizeof(Elf64_Phdr);
        ph.push_back(load(0x0, 0x400000, 0x1000, 0x1000, PF_R));
        ph.push_back(load(0x1000, 0x401000, 0x1000, 0x1000, PF_R | PF_X));
        ph.push_back(load(0x2000, 0x402000, 0x100, 0x3000, PF_R | PF_W));
        ph.push_back(other(PT_GNU_STACK, PF_R | PF_W));
    }

    static Elf64_Phdr load(u64 off, u64 vaddr, u64 filesz, u64 memsz, u32 flags) {
        Elf64_Phdr p{};
        p.p_type = PT_LOAD;
        p.p_flags = flags;
        p.p_offset = off;
        p.p_vaddr = p.p_paddr = vaddr;
        p.p_filesz = filesz;
        p.p_memsz = memsz;
        p.p_align = 0x1000;
        return p;
    }
    static Elf64_Phdr other(u32 type, u32 flags, u64 off = 0, u64 vaddr = 0, u64 size = 0) {
        Elf64_Phdr p{};
        p.p_type = type;
        p.p_flags = flags;
        p.p_offset = off;
        p.p_vaddr = p.p_paddr = vaddr;
        p.p_filesz = p.p_memsz = size;
        p.p_align = 8;
        return p;
    }

    Bytes bytes() {
        if (fix_phnum) eh.e_phnum = static_cast<u16>(ph.size());
        const u64 table_end = ph.empty() ? 0 : eh.e_phoff + ph.size() * sizeof(Elf64_Phdr);
        Bytes out(std::max<u64>(file_size, std::max<u64>(table_end, sizeof eh)));
        // The table first, so a table that overlaps the header cannot clobber it.
        if (!ph.empty()) std::memcpy(out.data() + eh.e_phoff, ph.data(), ph.size() * sizeof(Elf64_Phdr));
        std::memcpy(out.data(), &eh, sizeof eh);
        out.resize(file_size);  // may truncate on purpose
        return out;
    }

    // Puts a NUL-terminated string at `off` after building (for PT_INTERP).
    Bytes bytes_with(u64 off, const std::string& s) {
        Bytes b = bytes();
        if (b.size() < off + s.size() + 1) b.resize(off + s.size() + 1);
        std::memcpy(b.data() + off, s.c_str(), s.size() + 1);
        return b;
    }
};

std::string error_of(Builder& b) { return error_of(b.bytes()); }

constexpr const char* kCorrupt = "corrupt ELF file: ";

bool is_corrupt(const std::string& e) { return e.rfind(kCorrupt, 0) == 0; }

TEST(ElfCrafted, DefaultIsValid) {
    Builder b;
    const Bytes file = b.bytes();
    auto r = parse_elf(file);
    ASSERT_TRUE(r.has_value()) << r.error();
    expect_invariants(r.value(), file.size());
    EXPECT_FALSE(r->pie);
    EXPECT_EQ(r->entry, 0x401010u);
    EXPECT_EQ(r->phnum, 4);
    EXPECT_EQ(r->phent, 56);
    EXPECT_EQ(r->min_vaddr, 0x400000u);
    EXPECT_EQ(r->max_vaddr, 0x405000u);
    ASSERT_EQ(r->segments.size(), 3u);
    EXPECT_EQ(r->segments[1].flags, kElfPfR | kElfPfX);
    EXPECT_EQ(r->segments[2].filesz, 0x100u);
    EXPECT_EQ(r->segments[2].memsz, 0x3000u);
    // No PT_PHDR: found through the PT_LOAD that maps e_phoff.
    EXPECT_EQ(r->phdr_vaddr, 0x400040u);
    EXPECT_FALSE(r->exec_stack);
}

TEST(ElfCrafted, NotElf) {
    EXPECT_EQ(error_of(Bytes{}), "not an ELF file");
    EXPECT_EQ(error_of(Bytes{std::byte{0x7f}, std::byte{'E'}, std::byte{'L'}}), "not an ELF file");
    Builder b;
    b.eh.e_ident[EI_MAG3] = 'G';
    EXPECT_EQ(error_of(b), "not an ELF file");
    const std::string script = "#!/bin/sh\necho hi\n";
    Bytes s(script.size());
    std::memcpy(s.data(), script.data(), script.size());
    EXPECT_EQ(error_of(s), "not an ELF file");
}

TEST(ElfCrafted, ThirtyTwoBit) {
    Builder b;
    b.eh.e_ident[EI_CLASS] = ELFCLASS32;
    EXPECT_EQ(error_of(b), "not a 64-bit ELF file");
    // Just the magic and a class byte: still judged by the class.
    Bytes tiny = b.bytes();
    tiny.resize(EI_CLASS + 1);
    EXPECT_EQ(error_of(tiny), "not a 64-bit ELF file");
    tiny.resize(SELFMAG);
    EXPECT_EQ(error_of(tiny), "not a 64-bit ELF file");
}

TEST(ElfCrafted, TruncatedHeader) {
    Builder b;
    Bytes file = b.bytes();
    file.resize(40);
    EXPECT_EQ(error_of(file), "corrupt ELF file: the ELF header is truncated (40 of 64 bytes)");
}

TEST(ElfCrafted, BigEndianAndBadIdent) {
    Builder b;
    b.eh.e_ident[EI_DATA] = ELFDATA2MSB;
    EXPECT_EQ(error_of(b), "not an x86-64 ELF executable (big-endian)");
    b.eh.e_ident[EI_DATA] = 7;
    EXPECT_TRUE(is_corrupt(error_of(b)));
    Builder v;
    v.eh.e_ident[EI_VERSION] = 2;
    EXPECT_TRUE(is_corrupt(error_of(v)));
}

TEST(ElfCrafted, WrongMachine) {
    Builder b;
    b.eh.e_machine = EM_AARCH64;
    EXPECT_EQ(error_of(b), "not an x86-64 ELF executable (machine 183)");
    b.eh.e_machine = EM_386;
    EXPECT_EQ(error_of(b), "not an x86-64 ELF executable (machine 3)");
}

TEST(ElfCrafted, WrongType) {
    Builder b;
    b.eh.e_type = ET_REL;
    EXPECT_EQ(error_of(b), "not an executable (ELF type 1)");
    b.eh.e_type = ET_CORE;
    EXPECT_EQ(error_of(b), "not an executable (ELF type 4)");
    b.eh.e_type = 0xfe00;
    EXPECT_EQ(error_of(b), "not an executable (ELF type 65024)");
}

TEST(ElfCrafted, BadProgramHeaderTable) {
    {
        Builder b;
        b.eh.e_phentsize = 32;
        EXPECT_EQ(error_of(b), "corrupt ELF file: the program header size is 32, not 56");
    }
    {
        Builder b;
        b.ph.clear();
        EXPECT_EQ(error_of(b), "corrupt ELF file: there are no program headers");
    }
    {
        Builder b;  // table past the end of the file
        b.eh.e_phoff = b.file_size - 8;
        EXPECT_TRUE(is_corrupt(error_of(b))) << error_of(b);
    }
    {
        Builder b;  // e_phoff + size wraps around
        b.fix_phnum = false;
        b.eh.e_phnum = 4;
        b.eh.e_phoff = ~u64{0} - 16;
        b.ph.clear();
        EXPECT_TRUE(is_corrupt(error_of(b))) << error_of(b);
    }
    {
        Builder b;  // a huge phnum in a small file
        b.fix_phnum = false;
        b.eh.e_phnum = 0xffff;
        EXPECT_EQ(error_of(b), "corrupt ELF file: too many program headers (65535)");
        b.eh.e_phnum = 1000;  // within Linux's 64 KiB limit, but beyond EOF
        EXPECT_TRUE(is_corrupt(error_of(b))) << error_of(b);
    }
    {
        Builder b;  // the table overlapping the ELF header
        b.eh.e_phoff = 8;
        EXPECT_TRUE(is_corrupt(error_of(b))) << error_of(b);
    }
}

TEST(ElfCrafted, SegmentBeyondEof) {
    Builder b;
    b.ph[2].p_filesz = 0x1001;  // 0x2000 + 0x1001 > 0x3000
    b.ph[2].p_memsz = 0x3000;
    EXPECT_EQ(error_of(b),
              "corrupt ELF file: segment 2 (offset 0x2000, size 0x1001) extends beyond the end of the file");
    Builder o;  // offset + filesz overflows
    o.ph[1].p_offset = ~u64{0} - 0xfff;
    o.ph[1].p_filesz = 0x2000;
    o.ph[1].p_memsz = 0x2000;
    EXPECT_TRUE(is_corrupt(error_of(o))) << error_of(o);
    Builder far;  // offset alone past EOF with no file bytes
    far.ph[2].p_offset = 0x10000;
    far.ph[2].p_vaddr = 0x410000;
    far.ph[2].p_filesz = 0;
    EXPECT_TRUE(is_corrupt(error_of(far))) << error_of(far);
}

TEST(ElfCrafted, FileSizeLargerThanMemorySize) {
    Builder b;
    b.ph[2].p_memsz = 0x80;
    EXPECT_EQ(error_of(b),
              "corrupt ELF file: segment 2 has a file size (0x100) larger than its memory size (0x80)");
}

TEST(ElfCrafted, AddressOverflowAndNonCanonical) {
    {
        Builder b;  // vaddr + memsz wraps around
        b.ph[2].p_vaddr = 0xfffffffffffff000;
        b.ph[2].p_offset = 0x2000;
        b.ph[2].p_memsz = 0x2000;
        EXPECT_TRUE(is_corrupt(error_of(b))) << error_of(b);
    }
    {
        Builder b;  // first non-canonical address
        b.ph[2].p_vaddr = kElfUserTop;
        EXPECT_EQ(error_of(b),
                  "corrupt ELF file: segment 2 (address 0x800000000000, size 0x3000) is outside the user address range");
    }
    {
        Builder b;  // starts below the limit but crosses it
        b.ph[2].p_vaddr = kElfUserTop - 0x1000;
        EXPECT_TRUE(is_corrupt(error_of(b))) << error_of(b);
    }
    {
        Builder b;  // a kernel-half address
        b.ph[2].p_vaddr = 0xffff800000002000;
        EXPECT_TRUE(is_corrupt(error_of(b))) << error_of(b);
    }
    {
        Builder b;  // ending exactly at the limit is fine
        b.ph[2].p_vaddr = kElfUserTop - 0x3000;
        auto r = parse_elf(b.bytes());
        ASSERT_TRUE(r.has_value()) << r.error();
        EXPECT_EQ(r->max_vaddr, kElfUserTop);
    }
}

TEST(ElfCrafted, VaddrOffsetNotCongruent) {
    Builder b;
    b.ph[2].p_vaddr = 0x402010;
    EXPECT_EQ(error_of(b),
              "corrupt ELF file: segment 2 has address 0x402010 and file offset 0x2000, which differ modulo the page size");
}

TEST(ElfCrafted, NoLoadableSegment) {
    Builder b;
    b.ph = {Builder::other(PT_GNU_STACK, PF_R | PF_W)};
    EXPECT_EQ(error_of(b), "corrupt ELF file: there are no loadable segments");
    Builder z;  // only empty ones
    for (auto& p : z.ph) p.p_memsz = p.p_filesz = 0;
    EXPECT_EQ(error_of(z), "corrupt ELF file: there are no loadable segments");
}

TEST(ElfCrafted, EntryOutsideSegments) {
    Builder b;
    b.eh.e_entry = 0x405000;  // one past the bss
    EXPECT_EQ(error_of(b), "corrupt ELF file: the entry point 0x405000 is outside every loadable segment");
    b.eh.e_entry = 0;
    EXPECT_TRUE(is_corrupt(error_of(b)));
    b.eh.e_entry = 0x404fff;  // last bss byte: inside (odd, but Linux would jump there)
    EXPECT_TRUE(parse_elf(b.bytes()).has_value());
}

TEST(ElfCrafted, OverlapAndOrder) {
    Builder b;
    std::swap(b.ph[0], b.ph[1]);
    EXPECT_EQ(error_of(b),
              "corrupt ELF file: segment 1 overlaps or precedes the loadable segment before it");
    Builder s;  // sharing a page is refused too (each segment must be one region)
    s.ph[2].p_offset = 0x1800;
    s.ph[2].p_vaddr = 0x401800;
    s.ph[1].p_filesz = s.ph[1].p_memsz = 0x800;
    EXPECT_TRUE(is_corrupt(error_of(s))) << error_of(s);
}

TEST(ElfCrafted, EmptyLoadSegmentsAreDropped) {
    Builder b;
    b.ph.insert(b.ph.begin() + 1, Builder::load(0x1000, 0x1000, 0, 0, PF_R));  // out of order, but empty
    auto r = parse_elf(b.bytes());
    ASSERT_TRUE(r.has_value()) << r.error();
    EXPECT_EQ(r->segments.size(), 3u);
    EXPECT_EQ(r->phnum, 5);
}

TEST(ElfCrafted, FlagsAreMasked) {
    Builder b;
    b.ph[1].p_flags = PF_R | PF_X | PF_MASKOS | PF_MASKPROC;
    auto r = parse_elf(b.bytes());
    ASSERT_TRUE(r.has_value()) << r.error();
    EXPECT_EQ(r->segments[1].flags, kElfPfR | kElfPfX);
}

TEST(ElfCrafted, Interpreter) {
    Builder b;
    b.ph.insert(b.ph.begin(), Builder::other(PT_INTERP, PF_R, 0x200, 0x400200, 28));
    EXPECT_EQ(error_of(b.bytes_with(0x200, "/lib64/ld-linux-x86-64.so.2")),
              "dynamically linked programs are not supported yet (it needs /lib64/ld-linux-x86-64.so.2)");
    // A path with control characters is shown safely.
    EXPECT_EQ(error_of(b.bytes_with(0x200, "/lib/\x1b[31mevil")),
              "dynamically linked programs are not supported yet (it needs /lib/?[31mevil)");
    // An empty one.
    EXPECT_EQ(error_of(b.bytes_with(0x200, "")),
              "dynamically linked programs are not supported yet (it needs a program interpreter)");
    // The dynamic sentence wins over other defects of the file.
    b.eh.e_entry = 0x10;
    EXPECT_EQ(error_of(b.bytes_with(0x200, "/x")),
              "dynamically linked programs are not supported yet (it needs /x)");
    // An interpreter path outside the file.
    b.ph[0].p_offset = 0x2fff;
    b.ph[0].p_filesz = 2;
    EXPECT_EQ(error_of(b), "corrupt ELF file: the PT_INTERP segment lies outside the file");
    // A very long one is cut.
    Builder l;
    l.ph.insert(l.ph.begin(), Builder::other(PT_INTERP, PF_R, 0x200, 0x400200, 0x1000));
    const std::string e = error_of(l.bytes_with(0x200, std::string(0x900, 'a')));
    EXPECT_LT(e.size(), 400u);
}

TEST(ElfCrafted, StaticPie) {
    Builder b;
    b.eh.e_type = ET_DYN;
    b.eh.e_entry = 0x1010;
    b.ph[0].p_vaddr = 0x0;
    b.ph[1].p_vaddr = 0x1000;
    b.ph[2].p_vaddr = 0x2000;
    b.ph.insert(b.ph.begin(), Builder::other(PT_PHDR, PF_R, 0x40, 0x40, 4 * 56));
    b.ph[0].p_filesz = b.ph[0].p_memsz = 5 * 56;
    auto r = parse_elf(b.bytes());
    ASSERT_TRUE(r.has_value()) << r.error();
    EXPECT_TRUE(r->pie);
    EXPECT_EQ(r->entry, 0x1010u);
    EXPECT_EQ(r->min_vaddr, 0u);
    EXPECT_EQ(r->max_vaddr, 0x5000u);
    EXPECT_EQ(r->phdr_vaddr, 0x40u);
    EXPECT_EQ(r->phnum, 5);
}

TEST(ElfCrafted, PhdrFromPtPhdr) {
    Builder b;
    b.ph.push_back(Builder::other(PT_PHDR, PF_R, 0x40, 0x400040, 5 * 56));
    auto r = parse_elf(b.bytes());
    ASSERT_TRUE(r.has_value()) << r.error();
    EXPECT_EQ(r->phdr_vaddr, 0x400040u);

    b.ph.back().p_vaddr = 0x401080;  // elsewhere in a segment's file bytes: taken as stated
    r = parse_elf(b.bytes());
    ASSERT_TRUE(r.has_value()) << r.error();
    EXPECT_EQ(r->phdr_vaddr, 0x401080u);

    b.ph.back().p_vaddr = 0x402080;  // runs past the RW segment's 0x100 file bytes
    EXPECT_EQ(error_of(b), "corrupt ELF file: PT_PHDR is not inside a loadable segment");

    b.ph.back().p_vaddr = 0x403000;  // in bss, not file-backed
    EXPECT_EQ(error_of(b), "corrupt ELF file: PT_PHDR is not inside a loadable segment");
    b.ph.back().p_vaddr = 0xfffffffffffffff0;
    EXPECT_EQ(error_of(b), "corrupt ELF file: PT_PHDR is not inside a loadable segment");
    b.ph.back().p_vaddr = 0x400040;
    b.ph.push_back(b.ph.back());
    EXPECT_EQ(error_of(b), "corrupt ELF file: there is more than one PT_PHDR");
}

TEST(ElfCrafted, PhdrNotMapped) {
    Builder b;
    b.eh.e_phoff = 0x2800;  // after the RW segment's file bytes
    auto r = parse_elf(b.bytes());
    ASSERT_TRUE(r.has_value()) << r.error();
    EXPECT_EQ(r->phdr_vaddr, 0u);

    Builder s;  // the table straddles the end of a segment's file bytes
    s.eh.e_phoff = 0x2100 - 56;
    r = parse_elf(s.bytes());
    ASSERT_TRUE(r.has_value()) << r.error();
    EXPECT_EQ(r->phdr_vaddr, 0u);

    Builder m;  // the table in the middle of the R+X segment
    m.eh.e_phoff = 0x1100;
    r = parse_elf(m.bytes());
    ASSERT_TRUE(r.has_value()) << r.error();
    EXPECT_EQ(r->phdr_vaddr, 0x401100u);
}

TEST(ElfCrafted, ExecStack) {
    Builder b;
    b.ph[3].p_flags = PF_R | PF_W | PF_X;
    auto r = parse_elf(b.bytes());
    ASSERT_TRUE(r.has_value()) << r.error();
    EXPECT_TRUE(r->exec_stack);
    b.ph.pop_back();  // no PT_GNU_STACK: not executable on x86-64
    r = parse_elf(b.bytes());
    ASSERT_TRUE(r.has_value()) << r.error();
    EXPECT_FALSE(r->exec_stack);
}

// Every truncation of a valid file and many random corruptions of its
// headers either parse into something that keeps the promises or fail with
// a sentence; none may crash (run under ASan/UBSan with VK_SANITIZE=ON).
void fuzz(Bytes base, u64 header_bytes, unsigned iterations, u64 seed) {
    for (u64 n = 0; n <= std::min<u64>(base.size(), 0x1100); ++n) {
        Bytes t(base.begin(), base.begin() + static_cast<std::ptrdiff_t>(n));
        auto r = parse_elf(t);
        if (r.has_value()) {
            expect_invariants(r.value(), t.size());
        } else {
            EXPECT_FALSE(r.error().empty());
        }
    }
    std::mt19937_64 rng(seed);
    unsigned parsed = 0;
    Bytes& m = base;  // mutated in place and restored: the file may be large
    std::vector<std::pair<u64, std::byte>> saved;
    for (unsigned i = 0; i < iterations; ++i) {
        for (auto it = saved.rbegin(); it != saved.rend(); ++it) m[it->first] = it->second;
        saved.clear();
        const unsigned flips = 1 + rng() % 8;
        for (unsigned f = 0; f < flips; ++f) {
            const u64 at = rng() % header_bytes;
            saved.emplace_back(at, m[at]);
            const u64 old = static_cast<u64>(m[at]);
            m[at] = static_cast<std::byte>(rng() % 3 == 0 ? (rng() & 0xff) : (old ^ (1u << (rng() % 8))));
        }
        auto r = parse_elf(m);
        if (r.has_value()) {
            ++parsed;
            expect_invariants(r.value(), m.size());
        } else {
            EXPECT_FALSE(r.error().empty());
        }
        if (::testing::Test::HasFailure()) {
            ADD_FAILURE() << "iteration " << i;
            return;
        }
    }
    // Both outcomes must be explored, or the mutations are too weak or too strong.
    EXPECT_GT(parsed, iterations / 100);
    EXPECT_LT(parsed, iterations);
    std::printf("%u of %u mutated files parsed\n", parsed, iterations);
}

TEST(ElfFuzz, CraftedHeaders) {
    Builder b;
    b.ph.push_back(Builder::other(PT_PHDR, PF_R, 0x40, 0x400040, 5 * 56));
    fuzz(b.bytes(), 64 + 5 * 56, 50000, 1);
}

TEST(ElfFuzz, RealHeaders) {
    const Bytes file = read_file(VK_ELF_SAMPLE_STATIC_PIE);
    fuzz(file, 0x300, 20000, 2);
}

}  // namespace
}  // namespace vk
