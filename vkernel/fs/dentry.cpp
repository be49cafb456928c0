#include "vkernel/fs/dentry.h"

namespace vk::fs {

std::shared_ptr<Dentry> Dentry::make_root(std::shared_ptr<Inode> inode) {
    return std::shared_ptr<Dentry>(new Dentry(nullptr, "/", std::move(inode)));
}

std::shared_ptr<Dentry> Dentry::make_anonymous(std::shared_ptr<Dentry> parent,
                                               std::shared_ptr<Inode> inode) {
    // Linux names these "#<ino>" (d_tmpfile); the name is never looked up.
    std::string name = "#" + std::to_string(inode->ino());
    auto d = std::shared_ptr<Dentry>(new Dentry(std::move(parent), std::move(name), std::move(inode)));
    d->dead_ = true;
    return d;
}

Dentry::~Dentry() {
    // Release the chain of parents iteratively: a guest can build a tree
    // deep enough that recursive destruction would overflow a fiber stack.
    std::shared_ptr<Dentry> p = std::move(parent_);
    std::string name = std::move(name_);
    const Dentry* self = this;
    while (p) {
        p->forget_child(name, self);
        if (p.use_count() > 1) break;  // someone else keeps the parent alive
        // We hold the last reference: detach its own parent first so that
        // its destructor does not recurse, then continue one level up.
        std::shared_ptr<Dentry> next = std::move(p->parent_);
        name = std::move(p->name_);
        self = p.get();
        p.reset();
        p = std::move(next);
    }
}

void Dentry::forget_child(const std::string& name, const Dentry* which) {
    auto it = children_.find(name);
    if (it == children_.end()) return;
    // `which` may be gone already; then its weak entry has expired.
    std::shared_ptr<Dentry> cur = it->second.lock();
    if (!cur || cur.get() == which) children_.erase(it);
}

bool Dentry::is_ancestor_of(const Dentry& other) const {
    for (const Dentry* d = &other; d; d = d->parent_.get())
        if (d == this) return true;
    return false;
}

std::shared_ptr<Dentry> Dentry::child(std::string_view name, const std::shared_ptr<Inode>& inode) {
    auto it = children_.find(name);
    if (it != children_.end()) {
        if (std::shared_ptr<Dentry> d = it->second.lock()) {
            if (d->inode_ == inode && !d->dead_) return d;
            // The filesystem changed under the cache (a dynamic directory):
            // the old dentry no longer names anything.
            d->dead_ = true;
        }
    }
    auto d = std::shared_ptr<Dentry>(new Dentry(shared_from_this(), std::string(name), inode));
    children_.insert_or_assign(std::string(name), d);
    return d;
}

std::shared_ptr<Dentry> Dentry::cached_child(std::string_view name) const {
    auto it = children_.find(name);
    return it == children_.end() ? nullptr : it->second.lock();
}

void Dentry::kill() {
    dead_ = true;
    if (parent_) parent_->forget_child(name_, this);
}

void Dentry::move_to(const std::shared_ptr<Dentry>& new_parent, std::string_view new_name) {
    if (parent_) parent_->forget_child(name_, this);
    if (std::shared_ptr<Dentry> old = new_parent->cached_child(new_name); old && old.get() != this)
        old->kill();
    parent_ = new_parent;
    name_ = std::string(new_name);
    new_parent->children_.insert_or_assign(name_, weak_from_this());
}

void Dentry::exchange(const std::shared_ptr<Dentry>& a, const std::shared_ptr<Dentry>& b) {
    VK_ASSERT(a->parent_ && b->parent_);
    a->parent_->forget_child(a->name_, a.get());
    b->parent_->forget_child(b->name_, b.get());
    std::swap(a->parent_, b->parent_);
    std::swap(a->name_, b->name_);
    a->parent_->children_.insert_or_assign(a->name_, std::weak_ptr<Dentry>(a));
    b->parent_->children_.insert_or_assign(b->name_, std::weak_ptr<Dentry>(b));
}

}  // namespace vk::fs
