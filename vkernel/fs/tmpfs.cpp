// tmpfs: the filesystem object and its directories, symlinks and special
// files (regular files are in tmpfs_file.cpp).

#include "vkernel/fs/tmpfs.h"

#include <linux/fs.h>

#include <vector>

namespace vk::fs {

namespace {

// A symlink: its target is the data.
class TmpfsSymlink final : public TmpfsInode {
public:
    TmpfsSymlink(std::shared_ptr<TmpfsSuper> sb, const NewInode& init, std::string_view target)
        : TmpfsInode(std::move(sb), init), target_(target) {
        size_ = target_.size();
    }
    Result<std::string> readlink() override { return target_; }
    // Linux keeps targets shorter than 128 bytes in the inode and gives
    // longer ones a page.
    u64 allocated_bytes() const override { return target_.size() < 128 ? 0 : kPageSize; }

private:
    std::string target_;
};

// A device node, FIFO or socket: only attributes here; the VFS's special
// opener gives it behaviour.
class TmpfsSpecial final : public TmpfsInode {
public:
    TmpfsSpecial(std::shared_ptr<TmpfsSuper> sb, const NewInode& init)
        : TmpfsInode(std::move(sb), init) {}
};

}  // namespace

std::shared_ptr<Tmpfs> Tmpfs::create(pmap::FrameAllocator& frames, const TmpfsOptions& opts) {
    auto fs = std::shared_ptr<Tmpfs>(new Tmpfs(nullptr));
    auto sb = std::make_shared<TmpfsSuper>(frames, fs->dev());
    sb->max_pages = opts.max_pages ? opts.max_pages : std::max<u64>(frames.total_frames() / 2, 1);
    sb->max_inodes = opts.max_inodes ? opts.max_inodes : std::max<u64>(sb->max_pages, 16);
    fs->sb_ = sb;
    NewInode root;
    root.mode = S_IFDIR | (opts.root_mode & 07777);
    root.uid = opts.root_uid;
    root.gid = opts.root_gid;
    fs->set_root(std::make_shared<TmpfsDir>(sb, root));
    return fs;
}

StatFs Tmpfs::statfs() const {
    StatFs s;
    s.type = kTmpfsMagic;
    s.blocks = sb_->max_pages;
    s.bfree = s.bavail = sb_->max_pages - std::min(sb_->pages, sb_->max_pages);
    s.files = sb_->max_inodes;
    s.ffree = sb_->max_inodes - std::min(sb_->inodes, sb_->max_inodes);
    return s;
}

// ---- Directories ----

TmpfsDir::TmpfsDir(std::shared_ptr<TmpfsSuper> sb, const NewInode& init)
    : TmpfsInode(std::move(sb), init) {
    nlink_ = 2;
    size_ = 2 * kTmpfsDirentSize;
}

TmpfsDir::~TmpfsDir() {
    // Tear the tree down iteratively: a guest can nest directories deep
    // enough that recursive destruction would overflow a fiber stack.
    std::vector<std::shared_ptr<Inode>> pending;
    for (auto& [cookie, e] : by_cookie_) pending.push_back(std::move(e.inode));
    by_cookie_.clear();
    while (!pending.empty()) {
        std::shared_ptr<Inode> i = std::move(pending.back());
        pending.pop_back();
        if (i.use_count() != 1) continue;
        if (auto* d = dynamic_cast<TmpfsDir*>(i.get())) {
            for (auto& [cookie, e] : d->by_cookie_) pending.push_back(std::move(e.inode));
            d->by_cookie_.clear();
        }
    }
}

TmpfsDir::Entry* TmpfsDir::find(std::string_view name) {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : &by_cookie_.at(it->second);
}

void TmpfsDir::changed() { touch(kAttrMtime | kAttrCtime); }

void TmpfsDir::add(std::string_view name, std::shared_ptr<Inode> inode) {
    const u64 cookie = next_cookie_++;
    by_cookie_.emplace(cookie, Entry{std::string(name), std::move(inode)});
    by_name_.emplace(std::string(name), cookie);
    size_ += kTmpfsDirentSize;
    changed();
}

std::shared_ptr<Inode> TmpfsDir::remove(std::string_view name) {
    auto it = by_name_.find(name);
    VK_ASSERT(it != by_name_.end());
    auto node = by_cookie_.extract(it->second);
    by_name_.erase(it);
    size_ -= kTmpfsDirentSize;
    changed();
    return std::move(node.mapped().inode);
}

Result<void> TmpfsDir::check_new(std::shared_ptr<TmpfsSuper>& sb) const {
    if (removed_) return err(ENOENT);
    if (sb->inodes >= sb->max_inodes) return err(ENOSPC);
    return {};
}

Result<std::shared_ptr<Inode>> TmpfsDir::lookup(std::string_view name) {
    Entry* e = find(name);
    if (!e) return err(ENOENT);
    return e->inode;
}

Result<std::shared_ptr<Inode>> TmpfsDir::create(std::string_view name, const NewInode& init) {
    VK_TRY(check_new(sb_));
    auto f = std::make_shared<TmpfsFile>(sb_, init);
    add(name, f);
    return std::shared_ptr<Inode>(f);
}

Result<std::shared_ptr<Inode>> TmpfsDir::mkdir(std::string_view name, const NewInode& init) {
    VK_TRY(check_new(sb_));
    auto d = std::make_shared<TmpfsDir>(sb_, init);
    add(name, d);
    ++nlink_;  // the new directory's ".."
    return std::shared_ptr<Inode>(d);
}

Result<std::shared_ptr<Inode>> TmpfsDir::mknod(std::string_view name, const NewInode& init) {
    VK_TRY(check_new(sb_));
    std::shared_ptr<Inode> n;
    if (S_ISREG(init.mode))
        n = std::make_shared<TmpfsFile>(sb_, init);
    else
        n = std::make_shared<TmpfsSpecial>(sb_, init);
    add(name, n);
    return n;
}

Result<std::shared_ptr<Inode>> TmpfsDir::symlink(std::string_view name, std::string_view target,
                                                 const NewInode& init) {
    VK_TRY(check_new(sb_));
    auto l = std::make_shared<TmpfsSymlink>(sb_, init, target);
    add(name, l);
    return std::shared_ptr<Inode>(l);
}

Result<std::shared_ptr<Inode>> TmpfsDir::tmpfile(const NewInode& init) {
    VK_TRY(check_new(sb_));
    auto f = std::make_shared<TmpfsFile>(sb_, init);
    f->set_nlink(0);
    return std::shared_ptr<Inode>(f);
}

Result<void> TmpfsDir::link(std::string_view name, const std::shared_ptr<Inode>& target) {
    if (removed_) return err(ENOENT);
    auto* t = dynamic_cast<TmpfsInode*>(target.get());
    if (!t) return err(EXDEV);
    add(name, target);
    t->set_nlink(t->nlink() + 1);
    t->touch(kAttrCtime);
    return {};
}

Result<void> TmpfsDir::unlink(std::string_view name) {
    Entry* e = find(name);
    if (!e) return err(ENOENT);
    auto* t = static_cast<TmpfsInode*>(e->inode.get());
    VK_ASSERT(!t->is_dir() && t->nlink() > 0);
    t->set_nlink(t->nlink() - 1);
    t->touch(kAttrCtime);
    remove(name);
    return {};
}

Result<void> TmpfsDir::rmdir(std::string_view name) {
    Entry* e = find(name);
    if (!e) return err(ENOENT);
    auto* d = dynamic_cast<TmpfsDir*>(e->inode.get());
    VK_ASSERT(d);
    if (!d->empty_dir()) return err(ENOTEMPTY);
    d->nlink_ = 0;
    d->removed_ = true;
    d->touch(kAttrCtime);
    --nlink_;
    remove(name);
    return {};
}

Result<void> TmpfsDir::rename(std::string_view old_name, Inode& new_dir_inode,
                              std::string_view new_name, u32 flags) {
    auto* new_dir = dynamic_cast<TmpfsDir*>(&new_dir_inode);
    if (!new_dir) return err(EXDEV);
    Entry* src = find(old_name);
    if (!src) return err(ENOENT);
    if (new_dir->removed_) return err(ENOENT);
    std::shared_ptr<Inode> moving = src->inode;
    Entry* dst = new_dir->find(new_name);

    if (flags & RENAME_EXCHANGE) {
        if (!dst) return err(ENOENT);
        std::shared_ptr<Inode> other = dst->inode;
        if (this != new_dir && moving->is_dir() != other->is_dir()) {
            // The directory among the two changes parents: move its "..".
            TmpfsDir* gains = moving->is_dir() ? new_dir : this;
            TmpfsDir* loses = moving->is_dir() ? this : new_dir;
            ++gains->nlink_;
            --loses->nlink_;
        }
        src->inode = other;
        dst->inode = moving;
        moving->touch(kAttrCtime);
        other->touch(kAttrCtime);
        changed();
        new_dir->changed();
        return {};
    }

    if (dst) {
        if (dst->inode == moving) return {};  // two names of one inode
        auto* victim = static_cast<TmpfsInode*>(dst->inode.get());
        if (victim->is_dir()) {
            if (!victim->empty_dir()) return err(ENOTEMPTY);
            auto* vd = static_cast<TmpfsDir*>(victim);
            vd->set_nlink(0);
            vd->removed_ = true;
            --new_dir->nlink_;
        } else {
            victim->set_nlink(victim->nlink() - 1);
        }
        victim->touch(kAttrCtime);
        new_dir->remove(new_name);
    }
    remove(old_name);
    new_dir->add(new_name, moving);
    if (moving->is_dir() && new_dir != this) {
        --nlink_;
        ++new_dir->nlink_;
    }
    moving->touch(kAttrCtime);
    return {};
}

Result<void> TmpfsDir::iterate(u64 cookie, const DirEmit& emit) {
    for (auto it = by_cookie_.lower_bound(cookie); it != by_cookie_.end(); ++it) {
        const Inode& i = *it->second.inode;
        if (!emit(DirEntry{it->second.name, i.ino(), dirent_type(i.mode()), it->first + 1})) break;
    }
    return {};
}

}  // namespace vk::fs
