#include "vkernel/epoll.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "vkernel/kernel.h"

namespace vk {

namespace {

constexpr u32 kPrivateBits = EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE;
constexpr int kMaxNests = 4;  // EP_MAX_NESTS

}  // namespace

EpollOps::Entry* EpollOps::find(int fd, const fs::File* key) {
    entries_.remove_if([](const Entry& e) { return e.file.expired(); });  // closed files
    for (auto& e : entries_)
        if (e.fd == fd && e.key == key) return &e;
    return nullptr;
}

u32 EpollOps::check(Entry& e, const fs::File& cf) {
    auto& f = const_cast<fs::File&>(cf);
    const u32 mask = f.poll() & e.events;
    if (!(e.events & EPOLLET)) return mask;
    // Edge-triggered: a new edge is a readiness bit that was not there at
    // the last look, more bytes queued, or a counted wakeup.
    long bytes = 0;
    if (auto r = f.ioctl(FIONREAD, 0)) bytes = r.value();
    u64 gen = 0;
    if (auto* src = dynamic_cast<EpollSource*>(&f.ops())) gen = src->event_generation(e.events);
    if ((mask & ~e.seen_mask) || bytes > e.seen_bytes || gen != e.seen_gen) e.pending = true;
    e.seen_mask = mask;
    e.seen_bytes = bytes;
    e.seen_gen = gen;
    return e.pending ? mask : 0;
}

u32 EpollOps::poll(fs::File&) {
    for (auto it = entries_.begin(); it != entries_.end();) {
        auto f = it->file.lock();
        if (!f) {
            it = entries_.erase(it);
            continue;
        }
        if (check(*it, *f)) return EPOLLIN | EPOLLRDNORM;
        ++it;
    }
    return 0;
}

std::vector<EpollEvent> EpollOps::collect(int max) {
    std::vector<EpollEvent> out;
    std::vector<std::list<Entry>::iterator> again;  // level-triggered: to the back
    for (auto it = entries_.begin(); it != entries_.end() && static_cast<int>(out.size()) < max;) {
        auto f = it->file.lock();
        if (!f) {
            it = entries_.erase(it);
            continue;
        }
        if (const u32 mask = check(*it, *f)) {
            out.push_back({mask, it->data});
            if (it->events & EPOLLONESHOT) it->events &= kPrivateBits;
            if (it->events & EPOLLET) it->pending = false;
            else again.push_back(it);
        }
        ++it;
    }
    for (auto it : again) entries_.splice(entries_.end(), entries_, it);
    return out;
}

void EpollOps::sources(std::vector<WaitQueue*>& queues, std::vector<std::pair<int, short>>& host,
                       std::vector<std::shared_ptr<fs::File>>& keep, int depth) {
    queues.push_back(&waiters_);
    for (auto& e : entries_) {
        auto f = e.file.lock();
        if (!f || !(e.events & ~kPrivateBits)) continue;
        auto* ops = dynamic_cast<BlockingOps*>(&f->ops());
        if (!ops) continue;
        keep.push_back(f);
        if (auto* inner = dynamic_cast<EpollOps*>(ops)) {
            if (depth < kMaxNests) inner->sources(queues, host, keep, depth + 1);
        } else if (ops->host_fd() >= 0) {
            const short ev = static_cast<short>(e.events & (EPOLLIN | EPOLLOUT | EPOLLPRI));
            if (ev) host.emplace_back(ops->host_fd(), ev);
        } else if (WaitQueue* q = ops->queue()) {
            queues.push_back(q);
        }
    }
}

bool EpollOps::loops(EpollOps& target, const EpollOps& self, int depth) {
    if (&target == &self || depth >= kMaxNests) return true;
    for (auto& e : target.entries_) {
        auto f = e.file.lock();
        if (!f) continue;
        if (auto* inner = dynamic_cast<EpollOps*>(&f->ops()))
            if (loops(*inner, self, depth + 1)) return true;
    }
    return false;
}

Result<void> EpollOps::ctl(Kernel& k, const std::shared_ptr<fs::File>& self, int op, int fd,
                           const std::shared_ptr<fs::File>& target, EpollEvent ev) {
    if (target == self) return err(EINVAL);
    auto* inner = dynamic_cast<EpollOps*>(&target->ops());
    if ((ev.events & EPOLLEXCLUSIVE) && op != EPOLL_CTL_DEL) {
        if (op == EPOLL_CTL_MOD || inner) return err(EINVAL);
        if (ev.events & ~(EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET |
                          EPOLLEXCLUSIVE | EPOLLRDNORM | EPOLLWRNORM | EPOLLRDBAND | EPOLLWRBAND))
            return err(EINVAL);
    }
    Entry* e = find(fd, target.get());
    switch (op) {
    case EPOLL_CTL_ADD:
        if (e) return err(EEXIST);
        if (inner && loops(*inner, *this, 0)) return err(ELOOP);
        entries_.push_back(Entry{fd, target.get(), target, ev.events | EPOLLERR | EPOLLHUP, ev.data});
        break;
    case EPOLL_CTL_MOD:
        if (!e) return err(ENOENT);
        if (e->events & EPOLLEXCLUSIVE) return err(EINVAL);
        e->events = ev.events | EPOLLERR | EPOLLHUP;
        e->data = ev.data;
        e->pending = true;
        break;
    case EPOLL_CTL_DEL:
        if (!e) return err(ENOENT);
        entries_.remove_if([e](const Entry& x) { return &x == e; });
        break;
    default: return err(EINVAL);
    }
    k.wake_all(waiters_);
    return {};
}

Result<std::shared_ptr<fs::File>> make_epoll(Kernel& k) {
    return make_anon_file(k, S_IFREG, O_RDWR, std::make_shared<EpollOps>());
}

}  // namespace vk
