#include "vkernel/loader.h"

#include <cpuid.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "base/assert.h"
#include "vkernel/fs/file.h"
#include "vkernel/fs/vfs.h"
#include "vkernel/rseq.h"
#include "vkernel/signal_frame.h"
#include "vkernel/elf.h"
#include "vkernel/user_memory.h"
#include "vkernel/vdso.h"

namespace vk {

namespace {

constexpr u64 kMaxProgramBytes = 1ULL << 30;
constexpr u64 kStackSize = 8ULL << 20;  // RLIMIT_STACK's default
constexpr u64 kPieBias = 0x5555'5555'4000ULL;

enum : u64 {
    AT_NULL = 0, AT_PHDR = 3, AT_PHENT = 4, AT_PHNUM = 5, AT_PAGESZ = 6, AT_BASE = 7,
    AT_FLAGS = 8, AT_ENTRY = 9, AT_UID = 11, AT_EUID = 12, AT_GID = 13, AT_EGID = 14,
    AT_PLATFORM = 15, AT_HWCAP = 16, AT_CLKTCK = 17, AT_SECURE = 23, AT_RANDOM = 25,
    AT_HWCAP2 = 26, AT_RSEQ_FEATURE_SIZE = 27, AT_RSEQ_ALIGN = 28, AT_EXECFN = 31,
    AT_MINSIGSTKSZ = 51,
    AT_SYSINFO_EHDR = 33,
};

// A program file as read_file found it.
struct ProgramFile {
    fs::Path where;
    std::shared_ptr<const std::vector<std::byte>> bytes;
    std::shared_ptr<fs::Inode> inode;
    fs::Stat stat;                              // before the read (with a cache, on a miss)
    std::shared_ptr<const CachedImage> cached;  // a cache hit: bytes are its bytes
};

// Reads the program `path` through the VFS, as execve(2) opens it: the path
// resolved from the process's cwd with search permission on the way,
// following symlinks; then a regular file with an x bit the process may use
// on a mount without noexec (Vfs::may_exec). Read permission is not needed
// (Linux opens the file for exec, not for reading). The checks and the open
// are the same with a `cache`; only the read is skipped on a hit.
// `target` says where to start (execveat) and names the file in messages.
Result<ProgramFile, ExecError> read_file(const fs::Vfs& vfs, const Process& p,
                                         const ExecTarget& target, ImageCache* cache) {
    const fs::Credentials cred = credentials(p);
    VK_ASSERT(p.fsctx != nullptr);
    const fs::Context ctx{*p.fsctx, cred};
    const std::string& path = target.filename;
    Result<fs::Path> where = fs::Path{};
    if (target.file) {
        where = *target.file;
    } else {
        if (target.lookup.empty())
            return Unexpected{ExecError{127, "empty program name: no such file", ENOENT}};
        where = vfs.resolve(ctx, target.dir ? *target.dir : ctx.fs.cwd, target.lookup,
                            target.nofollow ? 0 : fs::kLookupFollow);
        if (where && target.nofollow && where->inode().is_symlink())
            where = err(ELOOP);
    }
    if (!where) {
        const int e = where.error().code;
        if (e == ENOENT || e == ENOTDIR)
            return Unexpected{ExecError{127, path + ": no such file", e}};
        return Unexpected{ExecError{126, path + ": cannot open: " + std::strerror(e), e}};
    }
    if (auto ok = vfs.may_exec(ctx, *where); !ok) {
        const int e = ok.error().code;
        if (e == EACCES && !where->inode().is_reg())
            return Unexpected{ExecError{126, path + ": not a regular file", e}};
        if (e == EACCES)
            return Unexpected{ExecError{126, path + ": permission denied (not executable)", e}};
        return Unexpected{ExecError{126, path + ": cannot run: " + std::strerror(e), e}};
    }
    const u64 size = where->inode().size();
    if (size > kMaxProgramBytes)
        return Unexpected{ExecError{126, path + ": program file is larger than 1 GiB", ENOMEM}};
    auto file = std::make_shared<fs::File>(*where, O_RDONLY, cred);
    auto ops = where->inode().open(*file);
    if (!ops) {
        const int e = ops.error().code;
        return Unexpected{ExecError{126, path + ": cannot open: " + std::strerror(e), e}};
    }
    file->set_ops(std::move(ops.value()));
    ProgramFile out;
    out.where = *where;
    out.inode = where->inode_ptr();
    if (cache) {
        if (auto hit = cache->find(*out.inode)) {
            out.bytes = hit->bytes;
            out.cached = std::move(hit);
            return out;
        }
        // Taken before the read: a change while we read shows as a stale
        // entry next time, never as a fresh one.
        out.stat = out.inode->stat();
    }
    auto data = std::make_shared<std::vector<std::byte>>(size);
    u64 done = 0;
    while (done < data->size()) {
        auto n = file->pread(std::span<std::byte>(data->data() + done, data->size() - done),
                             static_cast<i64>(done));
        if (!n) return Unexpected{ExecError{126, path + ": read failed: " + std::strerror(n.error().code), EIO}};
        if (n.value() == 0) break;  // shrank meanwhile: the ELF parser sees the short file
        done += n.value();
    }
    data->resize(done);
    out.bytes = std::move(data);
    return out;
}

u32 region_prot(u32 pf) {
    u32 p = 0;
    if (pf & kElfPfR) p |= kProtRead;
    if (pf & kElfPfW) p |= kProtWrite;
    if (pf & kElfPfX) p |= kProtExec;
    return p;
}

// Splits a "#!interpreter [arg]" line as Linux does: one optional argument,
// the rest of the line included.
std::optional<std::pair<std::string, std::string>> shebang(const std::vector<std::byte>& file) {
    if (file.size() < 2 || file[0] != std::byte{'#'} || file[1] != std::byte{'!'}) return {};
    std::string line;
    for (std::size_t i = 2; i < file.size() && i < 256 && file[i] != std::byte{'\n'}; i++)
        line.push_back(static_cast<char>(file[i]));
    auto trim = [](std::string& x) {
        while (!x.empty() && (x.back() == ' ' || x.back() == '\t' || x.back() == '\r')) x.pop_back();
        std::size_t b = 0;
        while (b < x.size() && (x[b] == ' ' || x[b] == '\t')) b++;
        x.erase(0, b);
    };
    trim(line);
    const auto sp = line.find_first_of(" \t");
    std::string interp = line.substr(0, sp), arg;
    if (sp != std::string::npos) {
        arg = line.substr(sp + 1);
        trim(arg);
    }
    return std::make_pair(interp, arg);
}

Result<LoadedImage, ExecError> load_elf(vmspace::Machine& machine, const std::string& path,
                                        const std::string& execfn, const ProgramFile& file,
                                        const std::vector<std::string>& argv,
                                        const std::vector<std::string>& envp,
                                        const Process& p, CommitCharge* commit,
                                        ImageCache* cache);

}  // namespace

std::string ExecTarget::comm(const fs::Path& loaded) const {
    std::string name = file && lookup.empty() ? loaded.dentry->name()
                                              : filename.substr(filename.rfind('/') + 1);
    return name.substr(0, 15);
}

Result<LoadedImage, ExecError> load_image(vmspace::Machine& machine, const fs::Vfs& vfs,
                                          const ExecTarget& target, std::vector<std::string> argv,
                                          const std::vector<std::string>& envp,
                                          const Process& creds, CommitCharge* commit,
                                          ImageCache* cache) {
    ExecTarget cur = target;
    for (int depth = 0;; depth++) {
        const ProgramFile file = VK_TRY(read_file(vfs, creds, cur, cache));
        auto sb = shebang(*file.bytes);
        if (!sb) return load_elf(machine, cur.filename, target.filename, file, argv, envp, creds, commit, cache);
        if (cache && !file.cached) (void)cache->add(file.inode, file.stat, file.bytes, std::nullopt);
        // A script named through a descriptor closed by this exec: its
        // interpreter could not open it (BINPRM_FLAGS_PATH_INACCESSIBLE).
        if (cur.inaccessible)
            return Unexpected{ExecError{126, cur.filename + ": script named by a close-on-exec descriptor", ENOENT}};
        // Linux runs up to 5 nested scripts (4 recursions past the first).
        if (depth >= 5) return Unexpected{ExecError{126, target.filename + ": too many levels of #! interpreters", ELOOP}};
        if (sb->first.empty()) return Unexpected{ExecError{126, cur.filename + ": empty #! line", ENOEXEC}};
        // argv becomes: interpreter [arg] script original-argv[1:]
        std::vector<std::string> next{sb->first};
        if (!sb->second.empty()) next.push_back(sb->second);
        next.push_back(cur.filename);
        if (!argv.empty()) next.insert(next.end(), argv.begin() + 1, argv.end());
        argv = std::move(next);
        cur = ExecTarget::path(sb->first);
    }
}

namespace {

// The effective ids an exec of `where` gives (bprm_fill_uid): the owner of a
// set-user-ID file, the group of a set-group-ID file that has its group x
// bit (without it the bit marks mandatory locking), unless the mount is
// nosuid. AT_SECURE as cap_bprm_creds_from_file decides it: the effective
// ids change, or differ from the real ones.
struct ExecIds {
    u32 euid = 0, egid = 0;
    bool secure = false;
};

ExecIds exec_ids(const Process& p, const fs::Path& where) {
    ExecIds ids{p.euid, p.egid, false};
    const fs::Inode& ino = where.inode();
    if (!(where.mount->flags() & MS_NOSUID)) {
        const u32 mode = ino.mode();
        if (mode & S_ISUID) ids.euid = ino.uid();
        if ((mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP)) ids.egid = ino.gid();
    }
    const bool in_group = ids.egid == p.fsgid ||
                          std::find(p.groups.begin(), p.groups.end(), ids.egid) != p.groups.end();
    ids.secure = ids.euid != p.euid || !in_group || ids.euid != p.uid || ids.egid != p.gid;
    return ids;
}

// Maps a new image's pages before it runs, as far as kPrefaultPages goes:
// a static glibc program otherwise faults ~15 times on its way to main, and
// each fault is a VM exit (~28 us on PVM) while mapping a page here is a
// copy. Writable pages are made private at once (the program writes its
// data and bss first thing); the others go a fault-around window at a time.
// Best effort: what fails here faults later as usual.
void prefault_image(Mm& mm, const ElfImage& img, u64 bias) {
    constexpr u64 kPrefaultPages = 512;  // 2 MiB
    u64 budget = kPrefaultPages;
    for (const ElfSegment& s : img.segments) {
        const u64 start = page_round_down(s.vaddr) + bias;
        const u64 end = page_round_up(s.vaddr + s.memsz) + bias;
        const bool writable = s.flags & 2;  // PF_W
        const u64 step = writable ? kPageSize : Mm::kFaultAround * kPageSize;
        for (u64 va = start; va < end && budget > 0; va += step) {
            if (!mm.fault(va, writable ? Access::kWrite : Access::kRead)) break;
            budget -= std::min(budget, step / kPageSize);
        }
    }
}

Result<LoadedImage, ExecError> load_elf(vmspace::Machine& machine, const std::string& path,
                                        const std::string& execfn_name, const ProgramFile& file,
                                        const std::vector<std::string>& argv,
                                        const std::vector<std::string>& envp,
                                        const Process& p, CommitCharge* commit,
                                        ImageCache* cache) {
    const std::vector<std::byte>& bytes = *file.bytes;
    auto parsed = parse_elf(std::span<const std::byte>(bytes.data(), bytes.size()));
    if (!parsed) return Unexpected{ExecError{126, path + ": " + parsed.error()}};
    const ElfImage& img = parsed.value();

    const u64 bias = img.pie ? kPieBias - img.min_vaddr : 0;
    if (img.max_vaddr + bias > Mm::kUserTop - kStackSize - (1ULL << 32) ||
        img.min_vaddr + bias < Mm::kUserMin)
        return Unexpected{ExecError{126, path + ": program addresses out of range", ENOEXEC}};

    // What each segment shows of the file: its bytes from the start of its
    // first page (the lead) to the end of its file part.
    std::vector<SegmentBytes> seg_bytes;
    for (const ElfSegment& s : img.segments) {
        const u64 lead = s.vaddr - page_round_down(s.vaddr);
        seg_bytes.push_back(SegmentBytes{s.offset - lead, lead + s.filesz});
    }
    // The segments' cached templates: from a hit, else made now (null when
    // the program is not cached: then the pages are made as the guest
    // faults, as without a cache).
    std::shared_ptr<const CachedImage> cached = file.cached;
    if (cache && !file.cached)
        cached = cache->add(file.inode, file.stat, file.bytes,
                            std::span<const SegmentBytes>(seg_bytes));
    if (cached && (!cached->elf || cached->segments.size() != img.segments.size()))
        cached = nullptr;

    auto mm_r = Mm::create(machine, commit);
    if (!mm_r) return Unexpected{ExecError{1, "out of guest memory creating an address space", ENOMEM}};
    std::shared_ptr<Mm> mm = std::move(mm_r.value());

    for (std::size_t i = 0; i < img.segments.size(); i++) {
        const ElfSegment& s = img.segments[i];
        Region r;
        r.start = page_round_down(s.vaddr) + bias;
        r.end = page_round_up(s.vaddr + s.memsz) + bias;
        r.prot = region_prot(s.flags);
        // A copy of the template shares its frames; the first write to one
        // copies it (the template keeps its reference, so the count is > 1
        // and make_private copies): the cached page never changes.
        r.object = cached ? cached->segments[i]->cow_copy()
                          : std::make_shared<VmObject>(mm->frames(), file.bytes,
                                                       seg_bytes[i].offset, seg_bytes[i].length);
        r.name = path;
        if (auto m = mm->map(std::move(r)); !m) {
            if (m.error().code == ENOMEM)
                return Unexpected{ExecError{1, path + ": out of guest memory", ENOMEM}};
            return Unexpected{ExecError{126, path + ": bad segment"}};
        }
    }
    mm->brk_start = mm->brk = img.max_vaddr + bias;
    prefault_image(*mm, img, bias);

    // The stack: a fixed 8 MiB region below the top of user space.
    const u64 top = Mm::kUserTop;
    Region st;
    st.start = top - kStackSize;
    st.end = top;
    st.prot = kProtRead | kProtWrite | (img.exec_stack ? kProtExec : 0);
    st.object = std::make_shared<VmObject>(mm->frames());
    st.name = "[stack]";
    st.uncharged_ok = true;
    (void)mm->map(std::move(st));
    mm->stack_top = top;
    mm->mmap_base = top - kStackSize - (1ULL << 30);  // a gap below the stack, as Linux keeps
    // The vDSO, at the top of the mmap area ([vvar] then [vdso]); without
    // one (no frames for it at start) libc just makes the syscalls.
    u64 vdso_at = 0;
    if (Vdso* vdso = Vdso::of(machine)) {
        auto at = vdso->map_into(*mm);
        if (!at) return Unexpected{ExecError{1, "out of guest memory mapping the vDSO", ENOMEM}};
        vdso_at = at.value();
    }

    // Strings first, at the very top, then the vectors below them.
    u64 total = execfn_name.size() + 1;
    for (const auto& s : argv) total += s.size() + 1;
    for (const auto& s : envp) total += s.size() + 1;
    if (total > kArgMax) return Unexpected{ExecError{126, "argument list too long", E2BIG}};

    u64 sp = top;
    auto push = [&](const void* data, u64 len) -> Result<u64, ExecError> {
        sp -= len;
        if (!copy_out_bytes(*mm, sp, data, len))
            return Unexpected{ExecError{1, "out of guest memory building the stack", ENOMEM}};
        return sp;
    };
    const u64 execfn = VK_TRY(push(execfn_name.c_str(), execfn_name.size() + 1));
    std::vector<u64> env_ptrs, arg_ptrs;
    for (auto it = envp.rbegin(); it != envp.rend(); ++it)
        env_ptrs.insert(env_ptrs.begin(), VK_TRY(push(it->c_str(), it->size() + 1)));
    for (auto it = argv.rbegin(); it != argv.rend(); ++it)
        arg_ptrs.insert(arg_ptrs.begin(), VK_TRY(push(it->c_str(), it->size() + 1)));
    const char platform[] = "x86_64";
    const u64 platform_at = VK_TRY(push(platform, sizeof platform));
    u8 random[16];
    if (::getentropy(random, sizeof random) != 0) std::memset(random, 0x5a, sizeof random);
    sp &= ~15ULL;
    const u64 random_at = VK_TRY(push(random, sizeof random));

    unsigned a = 0, b = 0, c = 0, d = 0;
    __get_cpuid(1, &a, &b, &c, &d);
    const ExecIds ids = exec_ids(p, file.where);
    const u64 aux[][2] = {
        {AT_PHDR, img.phdr_vaddr ? img.phdr_vaddr + bias : 0},
        {AT_PHENT, img.phent},
        {AT_PHNUM, img.phnum},
        {AT_PAGESZ, kPageSize},
        {AT_BASE, 0},
        {AT_FLAGS, 0},
        {AT_ENTRY, img.entry + bias},
        {AT_UID, p.uid},
        {AT_EUID, ids.euid},
        {AT_GID, p.gid},
        {AT_EGID, ids.egid},
        {AT_SECURE, ids.secure},
        {AT_HWCAP, d},
        {AT_HWCAP2, 0},
        {AT_CLKTCK, 100},
        {AT_RANDOM, random_at},
        {AT_PLATFORM, platform_at},
        {AT_EXECFN, execfn},
        {AT_MINSIGSTKSZ, min_signal_stack_size(machine.xsave_layout().size)},
        {AT_RSEQ_FEATURE_SIZE, kRseqFeatureSize},
        {AT_RSEQ_ALIGN, kRseqAlign},
        {AT_SYSINFO_EHDR, vdso_at},  // left out when 0
        {AT_NULL, 0},
    };
    std::vector<u64> words;
    words.push_back(argv.size());
    words.insert(words.end(), arg_ptrs.begin(), arg_ptrs.end());
    words.push_back(0);
    words.insert(words.end(), env_ptrs.begin(), env_ptrs.end());
    words.push_back(0);
    for (const auto& kv : aux) {
        if (kv[0] == AT_SYSINFO_EHDR && kv[1] == 0) continue;
        words.push_back(kv[0]);
        words.push_back(kv[1]);
    }
    if (words.size() % 2) sp -= 8;  // argc must sit at a 16-byte boundary
    const u64 start_sp = VK_TRY(push(words.data(), words.size() * 8));
    (void)p;

    LoadedImage out;
    out.mm = std::move(mm);
    out.regs.rip = img.entry + bias;
    out.regs.rsp = start_sp;
    out.path = path;
    out.file = file.where;
    out.euid = ids.euid;
    out.egid = ids.egid;
    out.secure = ids.secure;
    return out;
}

}  // namespace

}  // namespace vk
