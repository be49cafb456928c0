#pragma once

// Dentry: a name in the tree of one filesystem, linking a parent to an
// inode. The VFS walks ".." through dentries, keys mount points on them,
// and builds path names (getcwd, /proc/PID/fd) from them.
//
// The filesystem's directories are the truth about what a name refers to;
// dentries are an identity cache over them. The VFS asks the filesystem on
// every lookup and reuses the cached dentry when it still names the same
// inode, so a directory keeps one dentry while anyone holds it (a cwd, an
// open file, a mount). Every change of the namespace goes through the VFS,
// which keeps the cache in step: unlink and rmdir kill the dentry, rename
// moves it. A dentry lives only while something holds it (a Path, a child
// dentry, a mount); nothing is cached beyond that yet.

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "vkernel/fs/inode.h"

namespace vk::fs {

// Owns a reference to its inode and to its parent (parents outlive their
// children, as in Linux); children are weak. Guarded by the kernel lock.
class Dentry : public std::enable_shared_from_this<Dentry> {
public:
    // The root dentry of a filesystem: no parent, named "/".
    static std::shared_ptr<Dentry> make_root(std::shared_ptr<Inode> inode);
    // A dentry for an inode that has no name (O_TMPFILE): dead from the start.
    static std::shared_ptr<Dentry> make_anonymous(std::shared_ptr<Dentry> parent,
                                                  std::shared_ptr<Inode> inode);
    ~Dentry();
    Dentry(const Dentry&) = delete;
    Dentry& operator=(const Dentry&) = delete;

    const std::string& name() const { return name_; }
    // Null for the root of a filesystem.
    const std::shared_ptr<Dentry>& parent() const { return parent_; }
    Inode& inode() const { return *inode_; }
    const std::shared_ptr<Inode>& inode_ptr() const { return inode_; }
    // Removed from the namespace (unlinked, rmdir'ed, replaced by rename).
    bool dead() const { return dead_; }
    // Mounts sitting on this dentry.
    u32 mount_count() const { return mounts_; }
    // Whether `this` is `other` or one of its ancestors.
    bool is_ancestor_of(const Dentry& other) const;

    // ---- Cache upkeep, for the VFS ----
    // The dentry for child `name` whose inode the filesystem says is
    // `inode`: the cached one when it matches, else a new one (replacing a
    // stale entry).
    std::shared_ptr<Dentry> child(std::string_view name, const std::shared_ptr<Inode>& inode);
    // The cached child `name`, or null.
    std::shared_ptr<Dentry> cached_child(std::string_view name) const;
    // Marks this dentry removed and drops it from its parent's cache.
    void kill();
    // Moves this dentry to `new_parent` under `new_name` (rename), killing
    // any cached dentry that had that name.
    void move_to(const std::shared_ptr<Dentry>& new_parent, std::string_view new_name);
    // Swaps the places of `a` and `b` (RENAME_EXCHANGE).
    static void exchange(const std::shared_ptr<Dentry>& a, const std::shared_ptr<Dentry>& b);
    void add_mount() { ++mounts_; }
    void drop_mount() { --mounts_; }

private:
    Dentry(std::shared_ptr<Dentry> parent, std::string name, std::shared_ptr<Inode> inode)
        : parent_(std::move(parent)), name_(std::move(name)), inode_(std::move(inode)) {}
    void forget_child(const std::string& name, const Dentry* which);

    std::shared_ptr<Dentry> parent_;
    std::string name_;
    std::shared_ptr<Inode> inode_;
    std::map<std::string, std::weak_ptr<Dentry>, std::less<>> children_;
    bool dead_ = false;
    u32 mounts_ = 0;
};

}  // namespace vk::fs
