#include "vkernel/fs/cpio.h"

#include <sys/sysmacros.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <tuple>
#include <vector>

namespace vk::fs {

namespace {

constexpr u64 kHeaderSize = 110;
constexpr std::string_view kTrailer = "TRAILER!!!";

u64 align4(u64 v) { return (v + 3) & ~u64{3}; }

Unexpected<std::string> fail(const std::string& what) {
    return Unexpected<std::string>{"initramfs: " + what};
}

std::string at(u64 off) { return " at offset " + std::to_string(off); }

std::string describe(const Errno& e) {
    const char* d = strerrordesc_np(e.code);
    return d ? d : errno_name(e.code);
}

// One newc header, decoded.
struct Header {
    u32 ino = 0, mode = 0, uid = 0, gid = 0, nlink = 0, mtime = 0, filesize = 0;
    u32 devmajor = 0, devminor = 0, rdevmajor = 0, rdevminor = 0, namesize = 0, check = 0;
    bool has_crc = false;
};

std::optional<u32> hex8(const std::byte* p) {
    u32 v = 0;
    for (int i = 0; i < 8; ++i) {
        const char c = static_cast<char>(p[i]);
        u32 d;
        if (c >= '0' && c <= '9')
            d = static_cast<u32>(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = static_cast<u32>(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = static_cast<u32>(c - 'A' + 10);
        else
            return std::nullopt;
        v = v << 4 | d;
    }
    return v;
}

class Unpacker {
public:
    Unpacker(const Vfs& vfs, const Path& dir)
        : vfs_(vfs), cred_(Credentials::root()), ctx_{fsctx_, cred_}, dir_(dir) {
        // The target directory is the root for the whole unpack: absolute
        // symlinks and ".." cannot take a later entry outside it.
        fsctx_.root = dir;
        fsctx_.cwd = dir;
        fsctx_.umask = 0;
    }

    Result<CpioStats, std::string> run(std::span<const std::byte> a);

private:
    Result<Header, std::string> header(std::span<const std::byte> a, u64 off);
    Result<std::string, std::string> normalize(std::string_view raw, u64 off);
    Result<void, std::string> make_parents(const std::string& name);
    Result<void, std::string> clear_for(const std::string& name, u32 mode);
    Result<void, std::string> entry(const Header& h, const std::string& name,
                                    std::span<const std::byte> data);
    Result<void, std::string> regular(const Header& h, const std::string& name,
                                      std::span<const std::byte> data);
    Result<void, std::string> owner_mode_time(const std::string& name, const Header& h,
                                              bool symlink);
    Unexpected<std::string> vfs_fail(const char* verb, const std::string& name, const Errno& e) {
        return fail(std::string("cannot ") + verb + " " + (name.empty() ? "." : name) + ": " +
                    describe(e));
    }

    const Vfs& vfs_;
    FsContext fsctx_;
    Credentials cred_;
    Context ctx_;
    Path dir_;
    CpioStats stats_;
    // Regular files with nlink > 1 by (ino, dev major, dev minor): the
    // first name, which later names of the same file link to.
    std::map<std::tuple<u32, u32, u32>, std::string> links_;
    // Directory mtimes are set last: entries made inside change them.
    std::vector<std::pair<std::string, u32>> dir_times_;
};

Result<Header, std::string> Unpacker::header(std::span<const std::byte> a, u64 off) {
    if (a.size() - off < 6) return fail("truncated header" + at(off));
    // SAFETY: the 6 bytes at `off` are inside the archive (checked above);
    // std::byte and char have the same representation.
    const std::string_view magic(reinterpret_cast<const char*>(a.data() + off), 6);
    Header h;
    if (magic == "070702") {
        h.has_crc = true;
    } else if (magic != "070701") {
        if (a[off] == std::byte{0x1f} && a[off + 1] == std::byte{0x8b})
            return fail("the archive is gzip-compressed" + at(off) +
                        "; give an uncompressed newc archive (gunzip it first)");
        if (magic == "070707")
            return fail("old-style (odc) cpio header" + at(off) + "; make it with cpio -H newc");
        return fail("bad magic" + at(off) + " (not a newc cpio archive)");
    }
    if (a.size() - off < kHeaderSize) return fail("truncated header" + at(off));
    u32* fields[] = {&h.ino,      &h.mode,      &h.uid,       &h.gid,      &h.nlink,
                     &h.mtime,    &h.filesize,  &h.devmajor,  &h.devminor, &h.rdevmajor,
                     &h.rdevminor, &h.namesize, &h.check};
    for (size_t i = 0; i < std::size(fields); ++i) {
        const std::optional<u32> v = hex8(a.data() + off + 6 + 8 * i);
        if (!v) return fail("bad header field" + at(off + 6 + 8 * i));
        *fields[i] = *v;
    }
    return h;
}

Result<std::string, std::string> Unpacker::normalize(std::string_view raw, u64 off) {
    std::string out;
    size_t i = 0;
    while (i < raw.size()) {
        size_t j = raw.find('/', i);
        if (j == std::string_view::npos) j = raw.size();
        const std::string_view comp = raw.substr(i, j - i);
        i = j + 1;
        if (comp.empty() || comp == ".") continue;
        if (comp == "..")
            return fail("entry " + std::string(raw) + at(off) +
                        " escapes the target directory (a \"..\" component)");
        if (!out.empty()) out += '/';
        out += comp;
    }
    return out;
}

Result<void, std::string> Unpacker::make_parents(const std::string& name) {
    for (size_t slash = name.find('/'); slash != std::string::npos; slash = name.find('/', slash + 1)) {
        const std::string parent = name.substr(0, slash);
        Result<Stat> st = vfs_.stat(ctx_, dir_, parent, 0);
        if (st) continue;  // a directory (or a symlink to one) is fine; else the create fails
        if (st.error().code != ENOENT) return vfs_fail("look up", parent, st.error());
        // EEXIST: a dangling symlink is in the way; the entry's own
        // create will say what is wrong.
        if (Result<void> r = vfs_.mkdir(ctx_, dir_, parent, 0755); r)
            ++stats_.dirs;
        else if (r.error().code != EEXIST)
            return vfs_fail("create directory", parent, r.error());
    }
    return {};
}

Result<void, std::string> Unpacker::clear_for(const std::string& name, u32 mode) {
    // Linux's clean_path, and more: a later entry replaces an earlier one
    // of another type, a symlink or a special file (a regular file is
    // truncated and rewritten in place, a directory kept).
    Result<Stat> st = vfs_.stat(ctx_, dir_, name, AT_SYMLINK_NOFOLLOW);
    if (!st) return {};
    const u32 old_type = st->mode & S_IFMT;
    const u32 new_type = mode & S_IFMT;
    if (old_type == new_type && (S_ISDIR(old_type) || S_ISREG(old_type))) return {};
    Result<void> r = S_ISDIR(old_type) ? vfs_.rmdir(ctx_, dir_, name) : vfs_.unlink(ctx_, dir_, name);
    if (!r) return vfs_fail("replace", name, r.error());
    return {};
}

Result<void, std::string> Unpacker::owner_mode_time(const std::string& name, const Header& h,
                                                    bool symlink) {
    const int nofollow = symlink ? AT_SYMLINK_NOFOLLOW : 0;
    const std::string_view p = name.empty() ? std::string_view{} : std::string_view{name};
    const int empty = name.empty() ? AT_EMPTY_PATH : 0;
    if (Result<void> r = vfs_.chown(ctx_, dir_, p, h.uid, h.gid, nofollow | empty); !r)
        return vfs_fail("change the owner of", name, r.error());
    if (!symlink) {
        // After chown, which clears set-id bits.
        if (Result<void> r = vfs_.chmod(ctx_, dir_, p, h.mode & 07777, empty); !r)
            return vfs_fail("change the mode of", name, r.error());
    }
    if (S_ISDIR(h.mode)) {
        dir_times_.emplace_back(name, h.mtime);
        return {};
    }
    const Timespec t[2] = {{h.mtime, 0}, {h.mtime, 0}};
    if (Result<void> r = vfs_.utimens(ctx_, dir_, p, t, nofollow | empty); !r)
        return vfs_fail("set the time of", name, r.error());
    return {};
}

Result<void, std::string> Unpacker::regular(const Header& h, const std::string& name,
                                            std::span<const std::byte> data) {
    bool linked = false;
    if (h.nlink >= 2) {
        const auto key = std::make_tuple(h.ino, h.devmajor, h.devminor);
        auto it = links_.find(key);
        if (it != links_.end()) {
            // maybe_link: a later name of a file seen before.
            if (Result<void> r = vfs_.unlink(ctx_, dir_, name); !r && r.error().code != ENOENT)
                return vfs_fail("replace", name, r.error());
            if (Result<void> r = vfs_.link(ctx_, dir_, it->second, dir_, name, 0); !r)
                return vfs_fail("link", name, r.error());
            ++stats_.hardlinks;
            linked = true;
        } else {
            links_.emplace(key, name);
        }
    }
    // GNU cpio stores the data of a multiply linked file with its last
    // name; the earlier names have none, so writing never truncates a link.
    const int flags = O_WRONLY | O_CREAT | O_NOFOLLOW | (linked ? 0 : O_TRUNC);
    Result<std::shared_ptr<File>> f = vfs_.open(ctx_, dir_, name, flags, h.mode & 07777);
    if (!f) return vfs_fail("create", name, f.error());
    u64 done = 0;
    while (done < data.size()) {
        Result<u64> n = (*f)->write(data.subspan(done));
        if (!n) return vfs_fail("write", name, n.error());
        if (*n == 0) return vfs_fail("write", name, Errno{EIO});
        done += *n;
    }
    stats_.data_bytes += done;
    if (!linked) ++stats_.files;
    return owner_mode_time(name, h, false);
}

Result<void, std::string> Unpacker::entry(const Header& h, const std::string& name,
                                          std::span<const std::byte> data) {
    if (name.empty()) {
        // The target directory itself ("." in the archive).
        if (!S_ISDIR(h.mode)) return fail("the archive's \".\" is not a directory");
        return owner_mode_time(name, h, false);
    }
    VK_TRY(make_parents(name));
    VK_TRY(clear_for(name, h.mode));
    switch (h.mode & S_IFMT) {
    case S_IFDIR: {
        Result<void> r = vfs_.mkdir(ctx_, dir_, name, h.mode & 07777);
        if (!r && r.error().code != EEXIST) return vfs_fail("create directory", name, r.error());
        if (r) ++stats_.dirs;
        return owner_mode_time(name, h, false);
    }
    case S_IFREG:
        return regular(h, name, data);
    case S_IFLNK: {
        // SAFETY: the data span holds the target's bytes; std::byte and
        // char have the same representation.
        const std::string target(reinterpret_cast<const char*>(data.data()), data.size());
        if (Result<void> r = vfs_.symlink(ctx_, target, dir_, name); !r)
            return vfs_fail("create symlink", name, r.error());
        ++stats_.symlinks;
        return owner_mode_time(name, h, true);
    }
    case S_IFCHR:
    case S_IFBLK:
    case S_IFIFO:
    case S_IFSOCK: {
        const u64 rdev = makedev(h.rdevmajor, h.rdevminor);
        if (Result<void> r = vfs_.mknod(ctx_, dir_, name, h.mode, rdev); !r)
            return vfs_fail("create special file", name, r.error());
        ++stats_.specials;
        return owner_mode_time(name, h, false);
    }
    default: {
        char mode[16];
        std::snprintf(mode, sizeof mode, "%o", h.mode);
        return fail(std::string("unknown file type (mode 0") + mode + ") of " + name);
    }
    }
}

Result<CpioStats, std::string> Unpacker::run(std::span<const std::byte> a) {
    u64 off = 0;
    while (off < a.size()) {
        // Zero padding between concatenated archives.
        if (a[off] == std::byte{0}) {
            ++off;
            continue;
        }
        const Header h = VK_TRY(header(a, off));
        const u64 name_off = off + kHeaderSize;
        if (h.namesize == 0) return fail("empty name" + at(off));
        if (h.namesize > kPathMax) return fail("name too long (" + std::to_string(h.namesize) +
                                               " bytes)" + at(off));
        if (a.size() - name_off < h.namesize) return fail("truncated name" + at(name_off));
        // SAFETY: [name_off, name_off + namesize) is inside the archive.
        std::string_view raw(reinterpret_cast<const char*>(a.data() + name_off), h.namesize);
        raw = raw.substr(0, raw.find('\0'));
        const u64 data_off = align4(name_off + h.namesize);
        if (data_off > a.size() || a.size() - data_off < h.filesize)
            return fail("truncated data of " + std::string(raw) + at(data_off));
        const std::span<const std::byte> data = a.subspan(data_off, h.filesize);
        const u64 next = align4(data_off + h.filesize);
        if (raw == kTrailer) {
            off = next;
            continue;
        }
        if (h.has_crc && S_ISREG(h.mode)) {
            u32 sum = 0;
            for (std::byte b : data) sum += static_cast<u32>(b);
            if (sum != h.check) return fail("checksum mismatch for " + std::string(raw) + at(off));
        }
        const std::string name = VK_TRY(normalize(raw, off));
        VK_TRY(entry(h, name, data));
        off = next;
    }
    // Directory times last, deepest first (setting one does not change
    // its parent, but keep the order independent of that).
    for (auto it = dir_times_.rbegin(); it != dir_times_.rend(); ++it) {
        const Timespec t[2] = {{it->second, 0}, {it->second, 0}};
        const int empty = it->first.empty() ? AT_EMPTY_PATH : 0;
        if (Result<void> r = vfs_.utimens(ctx_, dir_, it->first, t, empty); !r)
            return vfs_fail("set the time of", it->first, r.error());
    }
    return stats_;
}

}  // namespace

Result<CpioStats, std::string> unpack_cpio(const Vfs& vfs, const Path& dir,
                                           std::span<const std::byte> archive) {
    if (!dir.inode().is_dir()) return fail("the unpack target is not a directory");
    Unpacker u(vfs, dir);
    return u.run(archive);
}

}  // namespace vk::fs
