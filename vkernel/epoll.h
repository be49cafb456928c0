#pragma once

// epoll: an epoll file's ops keep an interest list of (fd, file, events,
// data). Readiness is found by polling the files (level-triggered by
// nature); EPOLLET reports an entry once until its file's state changes,
// EPOLLONESHOT disables it after one report until EPOLL_CTL_MOD.
//
// Entries hold weak references: an entry whose file description is gone
// (closed everywhere) disappears, as Linux's eventpoll_release does.
// Guarded by the kernel lock.

#include <list>
#include <memory>
#include <vector>

#include "base/result.h"
#include "vkernel/files.h"

namespace vk {

class Kernel;

// A file that counts its wakeups, so EPOLLET can tell a new event from an
// old one that is still there (eventfd: a second write with the counter
// already non-zero is a new EPOLLIN edge).
class EpollSource {
public:
    virtual ~EpollSource() = default;
    // Changes whenever the file wakes its waiters with one of `events`.
    virtual u64 event_generation(u32 events) const = 0;
};

struct EpollEvent {
    u32 events;
    u64 data;
};

class EpollOps final : public BlockingOps {
public:
    bool seekable() const override { return false; }
    // Woken on interest-list changes only: a poll(2) of an epoll fd sees
    // readiness of its files when it rescans, not when they change.
    WaitQueue* queue() override { return &waiters_; }
    u32 poll(fs::File&) override;

    // epoll_ctl(2) on `target` (the file behind guest descriptor `fd`);
    // `self` is the epoll file. `ev` is ignored for EPOLL_CTL_DEL.
    Result<void> ctl(Kernel& k, const std::shared_ptr<fs::File>& self, int op, int fd,
                     const std::shared_ptr<fs::File>& target, EpollEvent ev);
    // One scan: up to `max` ready events (entries consumed per EPOLLET /
    // EPOLLONESHOT).
    std::vector<EpollEvent> collect(int max);
    // The wait queues and host fds (with their events) whose changes may
    // make an entry ready, through nested epoll files; `keep` holds their
    // files alive while the caller sleeps on them.
    void sources(std::vector<WaitQueue*>& queues, std::vector<std::pair<int, short>>& host,
                 std::vector<std::shared_ptr<fs::File>>& keep, int depth = 0);

private:
    struct Entry {
        int fd;
        const fs::File* key;
        std::weak_ptr<fs::File> file;
        u32 events;
        u64 data;
        // EPOLLET: the state last reported (poll mask and byte count); an
        // entry is reported again only when it differs.
        bool pending = true;
        u32 seen_mask = 0;
        long seen_bytes = 0;
        u64 seen_gen = 0;
    };
    // The entry's file's readiness for its events (0 when the file is gone
    // or the entry is disarmed); tracks EPOLLET edges.
    u32 check(Entry& e, const fs::File& f);
    Entry* find(int fd, const fs::File* key);
    // Whether `target` (an epoll) reaches `self` through nested epolls, or
    // the nesting would pass Linux's limit.
    static bool loops(EpollOps& target, const EpollOps& self, int depth);

    std::list<Entry> entries_;  // in the order events are reported
    WaitQueue waiters_;
};

// epoll_create1(2): flags O_CLOEXEC only (the caller installs the fd).
Result<std::shared_ptr<fs::File>> make_epoll(Kernel& k);

}  // namespace vk
