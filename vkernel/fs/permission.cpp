#include "vkernel/fs/permission.h"

#include <algorithm>

namespace vk::fs {

Credentials Credentials::root() {
    Credentials c;
    c.caps = ~u64{0};
    return c;
}

Credentials Credentials::user(u32 uid, u32 gid, std::vector<u32> groups) {
    Credentials c;
    c.uid = uid;
    c.gid = gid;
    c.groups = std::move(groups);
    return c;
}

bool Credentials::in_group(u32 g) const {
    return g == gid || std::find(groups.begin(), groups.end(), g) != groups.end();
}

namespace {

// acl_permission_check without ACLs: which class of bits applies.
bool mode_allows(const Credentials& cred, const Inode& inode, int mask) {
    u32 bits = inode.mode();
    if (cred.uid == inode.uid())
        bits >>= 6;
    else if (cred.in_group(inode.gid()))
        bits >>= 3;
    const u32 want = static_cast<u32>(mask) & (kMayRead | kMayWrite | kMayExec);
    return (bits & want) == want;
}

// setattr_should_drop_sgid: S_ISGID goes when the file is group-executable
// (a real set-group-ID program) or the caller is neither in its group nor
// holds CAP_FSETID.
bool drop_sgid(const Credentials& cred, const Inode& inode) {
    const u32 m = inode.mode();
    if (!(m & S_ISGID)) return false;
    if (m & S_IXGRP) return true;
    return !cred.in_group(inode.gid()) && !cred.capable(CAP_FSETID);
}

}  // namespace

Result<void> permission(const Credentials& cred, const Inode& inode, int mask) {
    mask &= kMayRead | kMayWrite | kMayExec;
    if (mode_allows(cred, inode, mask)) return {};
    if (inode.is_dir()) {
        // DACs are overridable for directories.
        if (!(mask & kMayWrite) && cred.capable(CAP_DAC_READ_SEARCH)) return {};
        if (cred.capable(CAP_DAC_OVERRIDE)) return {};
        return err(EACCES);
    }
    if (mask == kMayRead && cred.capable(CAP_DAC_READ_SEARCH)) return {};
    // Read and write are always overridable; execute only when some x bit is set.
    if ((!(mask & kMayExec) || (inode.mode() & 0111)) && cred.capable(CAP_DAC_OVERRIDE)) return {};
    return err(EACCES);
}

bool owner_or_capable(const Credentials& cred, const Inode& inode) {
    return cred.uid == inode.uid() || cred.capable(CAP_FOWNER);
}

Result<void> may_create(const Credentials& cred, const Inode& dir) {
    return permission(cred, dir, kMayWrite | kMayExec);
}

Result<void> may_delete(const Credentials& cred, const Inode& dir, const Inode& victim,
                        bool want_dir) {
    VK_TRY(permission(cred, dir, kMayWrite | kMayExec));
    // check_sticky: in a sticky directory only the file's owner, the
    // directory's owner or CAP_FOWNER may remove or rename an entry.
    if ((dir.mode() & S_ISVTX) && cred.uid != victim.uid() && cred.uid != dir.uid() &&
        !cred.capable(CAP_FOWNER))
        return err(EPERM);
    if (want_dir) {
        if (!victim.is_dir()) return err(ENOTDIR);
    } else if (victim.is_dir()) {
        return err(EISDIR);
    }
    return {};
}

Result<void> may_link(const Credentials& cred, const Inode& inode) {
    if (owner_or_capable(cred, inode)) return {};
    if (!inode.is_reg()) return err(EPERM);
    if (inode.mode() & S_ISUID) return err(EPERM);
    if ((inode.mode() & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP)) return err(EPERM);
    if (!permission(cred, inode, kMayRead | kMayWrite)) return err(EPERM);
    return {};
}

NewInode new_inode_owner(const Credentials& cred, const Inode& dir, u32 mode) {
    NewInode n;
    n.uid = cred.uid;
    n.gid = cred.gid;
    n.mode = mode;
    if (dir.mode() & S_ISGID) {
        n.gid = dir.gid();
        if (S_ISDIR(mode)) n.mode |= S_ISGID;
    }
    // mode_strip_sgid: a set-group-ID file only for members of its group.
    if (!S_ISDIR(mode) && (n.mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP) &&
        !cred.in_group(n.gid) && !cred.capable(CAP_FSETID))
        n.mode &= ~u32{S_ISGID};
    return n;
}

Result<SetAttr> prepare_chmod(const Credentials& cred, const Inode& inode, u32 mode) {
    if (!owner_or_capable(cred, inode)) return err(EPERM);
    SetAttr a;
    a.valid = kAttrMode | kAttrCtime;
    a.mode = mode & 07777;
    if (!cred.in_group(inode.gid()) && !cred.capable(CAP_FSETID)) a.mode &= ~u32{S_ISGID};
    a.ctime = now();
    return a;
}

Result<SetAttr> prepare_chown(const Credentials& cred, const Inode& inode, u32 uid, u32 gid) {
    constexpr u32 kLeave = ~u32{0};
    const bool owner = cred.uid == inode.uid();
    SetAttr a;
    a.valid = kAttrCtime;
    a.ctime = now();
    if (uid != kLeave) {
        // chown_ok: the owner may "change" the owner to itself; anything
        // else needs CAP_CHOWN.
        if (!(owner && uid == inode.uid()) && !cred.capable(CAP_CHOWN)) return err(EPERM);
        a.valid |= kAttrUid;
        a.uid = uid;
    }
    if (gid != kLeave) {
        // chgrp_ok: the owner may pick the same group or one of theirs.
        if (!(owner && (gid == inode.gid() || cred.in_group(gid))) && !cred.capable(CAP_CHOWN))
            return err(EPERM);
        a.valid |= kAttrGid;
        a.gid = gid;
    }
    if (!inode.is_dir()) {
        // notify_change's ATTR_KILL_SUID, and ATTR_KILL_SGID as
        // setattr_should_drop_sgid decides — for every caller, root too.
        u32 m = inode.mode() & 07777;
        const u32 before = m;
        m &= ~u32{S_ISUID};
        if (drop_sgid(cred, inode)) m &= ~u32{S_ISGID};
        if (m != before) {
            a.valid |= kAttrMode;
            a.mode = m;
        }
    }
    return a;
}

Result<SetAttr> prepare_utimens(const Credentials& cred, const Inode& inode,
                                const Timespec* times) {
    SetAttr a;
    if (times) {
        for (int i = 0; i < 2; ++i) {
            const i64 ns = times[i].nsec;
            if (ns != kUtimeNow && ns != kUtimeOmit && (ns < 0 || ns > 999'999'999))
                return err(EINVAL);
        }
        if (times[0].nsec == kUtimeOmit && times[1].nsec == kUtimeOmit) return a;
        if (times[0].nsec == kUtimeNow && times[1].nsec == kUtimeNow) times = nullptr;
    }
    if (times) {
        // Any explicit choice (ATTR_TIMES_SET), even "now" for one of them.
        if (!owner_or_capable(cred, inode)) return err(EPERM);
    } else if (!owner_or_capable(cred, inode)) {
        // Both "now" (ATTR_TOUCH): write permission is enough.
        VK_TRY(permission(cred, inode, kMayWrite));
    }
    const Timespec t = now();
    a.valid = kAttrCtime;
    a.ctime = t;
    const Timespec at = times ? times[0] : Timespec{0, kUtimeNow};
    const Timespec mt = times ? times[1] : Timespec{0, kUtimeNow};
    if (at.nsec != kUtimeOmit) {
        a.valid |= kAttrAtime;
        a.atime = at.nsec == kUtimeNow ? t : at;
    }
    if (mt.nsec != kUtimeOmit) {
        a.valid |= kAttrMtime;
        a.mtime = mt.nsec == kUtimeNow ? t : mt;
    }
    return a;
}

std::optional<u32> mode_after_kill_priv(const Credentials& cred, const Inode& inode) {
    if (!inode.is_reg() || cred.capable(CAP_FSETID)) return std::nullopt;
    u32 m = inode.mode() & 07777;
    const u32 before = m;
    m &= ~u32{S_ISUID};
    if (drop_sgid(cred, inode)) m &= ~u32{S_ISGID};
    if (m == before) return std::nullopt;
    return m;
}

}  // namespace vk::fs
