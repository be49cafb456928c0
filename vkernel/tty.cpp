#include "vkernel/tty.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "base/log.h"
#include "vkernel/files.h"
#include "vkernel/kernel.h"
#include "vkernel/signal_delivery.h"

namespace vk {

namespace {

constexpr int kSiKernel = 0x80;  // si_code of signals the kernel sends

bool is_control(u8 c) { return c < 0x20 || c == 0x7f; }
bool is_continuation(u8 c) { return (c & 0xc0) == 0x80; }  // a UTF-8 byte after the first

// Writes all of `bytes` to host fd `fd` (a terminal or whatever stdout is).
// Waits out a non-blocking fd; gives up quietly if the terminal is gone.
void write_all(int fd, std::string_view bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n > 0) {
            done += static_cast<std::size_t>(n);
        } else if (n < 0 && errno == EAGAIN) {
            struct pollfd p{fd, POLLOUT, 0};
            ::poll(&p, 1, 100);
        } else if (!(n < 0 && errno == EINTR)) {
            return;
        }
    }
}

}  // namespace

KTermios default_termios() {
    KTermios t;
    t.c_iflag = ICRNL | IXON;
    t.c_oflag = OPOST | ONLCR;
    t.c_cflag = B38400 | CS8 | CREAD | HUPCL;
    t.c_lflag = ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN;
    // INIT_C_CC: ^C ^\ ^? ^U ^D, TIME 0, MIN 1, SWTC 0, ^Q ^S ^Z, EOL 0,
    // ^R ^O ^W ^V, EOL2 0.
    static constexpr u8 cc[] = {3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22, 0};
    std::copy(std::begin(cc), std::end(cc), t.c_cc);
    return t;
}

// --- LineDiscipline ---------------------------------------------------------

void LineDiscipline::set_termios(const KTermios& t) {
    const bool was_canonical = canonical();
    termios_ = t;
    if (was_canonical && !canonical()) {
        // Everything typed, finished lines and the one being edited, is raw input now.
        for (const std::string& l : lines_) raw_.insert(raw_.end(), l.begin(), l.end());
        raw_.insert(raw_.end(), line_.begin(), line_.end());
        lines_.clear();
        line_.clear();
    } else if (!was_canonical && canonical() && !raw_.empty()) {
        // Linux "pushes" unread raw input: it is readable as one line.
        lines_.emplace_back(raw_.begin(), raw_.end());
        raw_.clear();
    }
    if (!(termios_.c_iflag & IXON)) stopped_ = false;
}

std::size_t LineDiscipline::column_after(std::string_view s, std::size_t start) const {
    std::size_t col = start;
    const bool echoctl = termios_.c_lflag & ECHOCTL;
    const bool utf8 = termios_.c_iflag & IUTF8;
    for (const char ch : s) {
        const u8 c = static_cast<u8>(ch);
        if (c == '\t')
            col = (col | 7) + 1;
        else if (is_control(c))
            col += echoctl ? 2 : 0;
        else if (!(utf8 && is_continuation(c)))
            col++;
    }
    return col;
}

std::string LineDiscipline::process_output(std::span<const u8> src) {
    const u32 o = termios_.c_oflag;
    const bool utf8 = termios_.c_iflag & IUTF8;
    std::string out;
    out.reserve(src.size() + src.size() / 8);
    for (const u8 c : src) {
        if (!(o & OPOST)) {
            out.push_back(static_cast<char>(c));
            continue;
        }
        switch (c) {
        case '\n':
            if (o & ONLRET) column_ = 0;
            if (o & ONLCR) {
                out += "\r\n";
                column_ = 0;
                continue;
            }
            out.push_back('\n');
            break;
        case '\r':
            if ((o & ONOCR) && column_ == 0) continue;
            if (o & OCRNL) {
                if (o & ONLRET) column_ = 0;
                out.push_back('\n');
                continue;
            }
            column_ = 0;
            out.push_back('\r');
            break;
        case '\t': {
            const std::size_t spaces = 8 - (column_ & 7);
            column_ += spaces;
            if ((o & TABDLY) == XTABS)
                out.append(spaces, ' ');
            else
                out.push_back('\t');
            break;
        }
        case '\b':
            if (column_ > 0) column_--;
            out.push_back('\b');
            break;
        default:
            if (!is_control(c) && !(utf8 && is_continuation(c))) column_++;
            out.push_back(static_cast<char>(c));
            break;
        }
    }
    return out;
}

void LineDiscipline::echo_raw(std::string_view s, std::string& out) {
    // SAFETY: char and u8 have the same size and may alias each other.
    out += process_output({reinterpret_cast<const u8*>(s.data()), s.size()});
}

void LineDiscipline::echo_char(u8 c, std::string& out) {
    if ((termios_.c_lflag & ECHOCTL) && is_control(c) && c != '\t' && c != '\n') {
        const char shown[2] = {'^', static_cast<char>(c ^ 0x40)};
        echo_raw({shown, 2}, out);
    } else {
        const char ch = static_cast<char>(c);
        echo_raw({&ch, 1}, out);
    }
}

void LineDiscipline::erase(int kind, std::string& out) {
    const u32 l = termios_.c_lflag;
    if (line_.empty()) return;
    if (kind == VKILL) {
        if (!(l & ECHO)) {
            line_.clear();
            return;
        }
        if (!(l & ECHOK) || !(l & ECHOKE) || !(l & ECHOE)) {
            line_.clear();
            echo_char(termios_.c_cc[VKILL], out);
            if (l & ECHOK) echo_raw("\n", out);
            return;
        }
    }
    const bool utf8 = termios_.c_iflag & IUTF8;
    int seen_alnums = 0;
    while (!line_.empty()) {
        u8 c = static_cast<u8>(line_.back());
        if (kind == VWERASE) {
            // Linux's word: letters, digits and '_'; what trails it goes first.
            if (std::isalnum(c) || c == '_')
                seen_alnums++;
            else if (seen_alnums)
                break;
        }
        line_.pop_back();
        // A multibyte character goes as one.
        while (utf8 && is_continuation(c) && !line_.empty()) {
            c = static_cast<u8>(line_.back());
            line_.pop_back();
            if (!is_continuation(c)) break;
        }
        if (l & ECHO) {
            if (kind == VERASE && !(l & ECHOE)) {
                echo_char(termios_.c_cc[VERASE], out);
            } else if (c == '\t') {
                const std::size_t col = column_after(line_, line_column_);
                if (column_ > col) echo_raw(std::string(column_ - col, '\b'), out);
            } else {
                if (is_control(c) && (l & ECHOCTL)) echo_raw("\b \b", out);
                if (!is_control(c) || (l & ECHOCTL)) echo_raw("\b \b", out);
            }
        }
        if (kind == VERASE) break;
    }
}

void LineDiscipline::end_line(bool keep_char, u8 c) {
    if (keep_char) line_.push_back(static_cast<char>(c));
    lines_.push_back(std::move(line_));
    line_.clear();
}

void LineDiscipline::receive(std::span<const u8> in, Effects& fx) {
    const u32 i = termios_.c_iflag, l = termios_.c_lflag;
    const bool ext = l & IEXTEN;
    for (u8 c : in) {
        if (i & ISTRIP) c &= 0x7f;
        const bool literal = lnext_;
        lnext_ = false;
        if (!literal) {
            if (i & IXON) {
                if (is_cc(c, VSTART)) {
                    stopped_ = false;
                    continue;
                }
                if (is_cc(c, VSTOP)) {
                    stopped_ = true;
                    continue;
                }
                if (stopped_ && (i & IXANY)) stopped_ = false;
            }
            if (l & ISIG) {
                int sig = 0;
                if (is_cc(c, VINTR)) sig = SIGINT;
                else if (is_cc(c, VQUIT)) sig = SIGQUIT;
                else if (is_cc(c, VSUSP)) sig = SIGTSTP;
                if (sig) {
                    if (!(l & NOFLSH)) flush_input();
                    if (i & IXON) stopped_ = false;
                    fx.signals.push_back(sig);
                    if (l & ECHO) echo_char(c, fx.echo);
                    continue;
                }
            }
            if (c == '\r') {
                if (i & IGNCR) continue;
                if (i & ICRNL) c = '\n';
            } else if (c == '\n' && (i & INLCR)) {
                c = '\r';
            }
            if (canonical()) {
                if (is_cc(c, VERASE) || is_cc(c, VKILL) || (ext && is_cc(c, VWERASE))) {
                    erase(is_cc(c, VERASE) ? VERASE : is_cc(c, VKILL) ? VKILL : VWERASE, fx.echo);
                    continue;
                }
                if (ext && is_cc(c, VLNEXT)) {
                    lnext_ = true;
                    if ((l & ECHO) && (l & ECHOCTL)) {
                        if (line_.empty()) line_column_ = column_;
                        echo_raw("^\b", fx.echo);
                    }
                    continue;
                }
                if (ext && is_cc(c, VREPRINT)) {
                    if (l & ECHO) {
                        echo_char(c, fx.echo);
                        echo_raw("\n", fx.echo);
                        line_column_ = column_;
                        for (const char ch : line_) echo_char(static_cast<u8>(ch), fx.echo);
                    }
                    continue;
                }
                if (c == '\n') {
                    if ((l & ECHO) || (l & ECHONL)) echo_raw("\n", fx.echo);
                    end_line(true, c);
                    continue;
                }
                if (is_cc(c, VEOF)) {
                    end_line(false, c);
                    continue;
                }
                if (is_cc(c, VEOL) || (ext && is_cc(c, VEOL2))) {
                    if (l & ECHO) echo_char(c, fx.echo);
                    end_line(true, c);
                    continue;
                }
            }
        }
        if (canonical()) {
            if (available() + line_.size() >= kBufSize - 1) {
                if (i & IMAXBEL) echo_raw("\a", fx.echo);
                continue;
            }
            if (line_.empty()) line_column_ = column_;
            if (l & ECHO) echo_char(c, fx.echo);
            line_.push_back(static_cast<char>(c));
        } else {
            if (raw_.size() >= kBufSize) continue;
            if (l & ECHO) echo_char(c, fx.echo);
            raw_.push_back(c);
        }
    }
}

bool LineDiscipline::readable() const { return canonical() ? !lines_.empty() : !raw_.empty(); }

std::size_t LineDiscipline::available() const {
    if (!canonical()) return raw_.size();
    std::size_t n = 0;
    for (const std::string& s : lines_) n += s.size();
    return n;
}

bool LineDiscipline::full() const {
    // A canonical line being edited never blocks the input: it must still
    // be possible to end or erase it.
    return canonical() ? available() >= kBufSize - 1 : raw_.size() >= kBufSize;
}

std::size_t LineDiscipline::read(std::span<u8> dst) {
    if (canonical()) {
        if (lines_.empty()) return 0;
        std::string& front = lines_.front();
        const std::size_t n = std::min(dst.size(), front.size());
        std::copy_n(front.begin(), n, dst.begin());
        front.erase(0, n);
        if (front.empty()) lines_.pop_front();  // the whole line, or the EOF mark
        return n;
    }
    const std::size_t n = std::min(dst.size(), raw_.size());
    std::copy_n(raw_.begin(), n, dst.begin());
    raw_.erase(raw_.begin(), raw_.begin() + static_cast<long>(n));
    return n;
}

void LineDiscipline::flush_input() {
    lines_.clear();
    line_.clear();
    raw_.clear();
    lnext_ = false;
}

// --- Tty ----------------------------------------------------------------------

bool host_console_is_tty() { return ::isatty(0) == 1; }

std::shared_ptr<Tty> Tty::create(Kernel& k, int in, int out) {
    std::shared_ptr<Tty> tty(new Tty(k, in, out));
    struct winsize ws{};
    // SAFETY: TIOCGWINSZ writes one struct winsize.
    if (::ioctl(in, TIOCGWINSZ, &ws) == 0)
        tty->winsize_ = KWinsize{ws.ws_row, ws.ws_col, ws.ws_xpixel, ws.ws_ypixel};
    // The host's SIGWINCH is read from a signalfd in the reactor. It must be
    // blocked in every vkernel thread: this runs on the main thread before
    // the vCPU and reactor threads start, and they inherit the mask (the
    // vCPUs keep it inside KVM_RUN too).
    sigset_t winch;
    sigemptyset(&winch);
    sigaddset(&winch, SIGWINCH);
    pthread_sigmask(SIG_BLOCK, &winch, nullptr);
    tty->winch_fd_ = UniqueFd(::signalfd(-1, &winch, SFD_NONBLOCK | SFD_CLOEXEC));
    tty->arm_pump();
    tty->arm_winch();
    return tty;
}

Tty::~Tty() = default;  // pending reactor polls hold only weak pointers

bool Tty::is_ctty_of(const Process& p) const {
    return session_ != 0 && p.sid == session_ && !p.no_ctty;
}

void Tty::attach(const Process& leader) {
    session_ = leader.sid;
    pgrp_ = leader.pgid;
}

void Tty::detach() {
    if (pgrp_) {
        signal_pgrp(pgrp_, SIGHUP);
        signal_pgrp(pgrp_, SIGCONT);
    }
    session_ = pgrp_ = 0;
}

void Tty::arm_pump() {
    if (pumping_ || hung_up_ || ldisc_.full()) return;
    pumping_ = true;
    std::weak_ptr<Tty> weak = weak_from_this();
    kernel_.reactor().poll_fd(in_, POLLIN, [weak](int revents) {
        if (auto tty = weak.lock()) tty->on_input(revents);
    });
}

void Tty::on_input(int revents) {
    std::unique_lock g(kernel_.lock());
    pumping_ = false;
    if (revents < 0) return;  // the poll itself failed: the fd is unusable
    u8 buf[512];
    // The terminal is readable: this read does not block.
    const ssize_t n = ::read(in_, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        arm_pump();
        return;
    }
    if (n <= 0) {
        // The host terminal hung up: readers see end of file.
        hung_up_ = true;
        if (pgrp_) signal_pgrp(pgrp_, SIGHUP);
        kernel_.wake_all(waiters_);
        return;
    }
    LineDiscipline::Effects fx;
    ldisc_.receive({buf, static_cast<std::size_t>(n)}, fx);
    // The echo must reach the terminal before anything a woken reader
    // writes (the newline of a line before the program's answer to it):
    // the output lock is taken before the readers can run.
    std::unique_lock out(out_mu_, std::defer_lock);
    if (!fx.echo.empty()) out.lock();
    for (const int sig : fx.signals)
        if (pgrp_) signal_pgrp(pgrp_, sig);
    kernel_.wake_all(waiters_);
    arm_pump();
    g.unlock();
    write_all(out_, fx.echo);
}

void Tty::arm_winch() {
    if (!winch_fd_.valid()) return;
    std::weak_ptr<Tty> weak = weak_from_this();
    kernel_.reactor().poll_fd(winch_fd_.get(), POLLIN, [weak](int) {
        if (auto tty = weak.lock()) tty->on_winch();
    });
}

void Tty::on_winch() {
    signalfd_siginfo si;
    while (::read(winch_fd_.get(), &si, sizeof si) == sizeof si) {
    }
    struct winsize ws{};
    // SAFETY: TIOCGWINSZ writes one struct winsize.
    const bool ok = ::ioctl(in_, TIOCGWINSZ, &ws) == 0;
    std::lock_guard g(kernel_.lock());
    if (ok) set_winsize(KWinsize{ws.ws_row, ws.ws_col, ws.ws_xpixel, ws.ws_ypixel});
    arm_winch();
}

void Tty::set_winsize(const KWinsize& ws) {
    if (std::memcmp(&ws, &winsize_, sizeof ws) == 0) return;
    winsize_ = ws;
    if (pgrp_) signal_pgrp(pgrp_, SIGWINCH);
}

void Tty::signal_pgrp(int pgrp, int sig) {
    KSigInfo info;
    info.signo = sig;
    info.code = kSiKernel;
    for (const auto& [pid, p] : kernel_.processes())
        if (p->pgid == pgrp && !p->zombie) kernel_.send_signal(*p, sig, info);
}

// Linux's will_become_orphaned_pgrp: no member has a parent in another
// group of the same session. Linux does not count a parent that is init;
// here init is often the user's shell (`vkernel` with no command runs
// /bin/sh as pid 1), whose jobs would then all be orphans and could never
// stop for terminal input, so init counts like any other parent.
bool Tty::pgrp_orphaned(int pgrp) const {
    for (const auto& [pid, p] : kernel_.processes()) {
        if (p->pgid != pgrp || p->zombie) continue;
        const Process* parent = p->parent;
        if (!parent) continue;
        if (parent->pgid != pgrp && parent->sid == p->sid) return false;
    }
    return true;
}

namespace {

// A signal the caller ignores or blocks (is_ignored in Linux's tty code).
bool ignores(const Task& t, int sig) {
    // SAFETY: the handler is stored as the guest's u64; SIG_IGN is the value 1.
    return (t.sigmask & sigbit(sig)) ||
           t.process->sighand->actions[sig - 1].handler == reinterpret_cast<u64>(SIG_IGN);
}

}  // namespace

Result<void> Tty::check_change(Task& t) {
    const Process& p = *t.process;
    if (!is_ctty_of(p) || pgrp_ == 0 || p.pgid == pgrp_) return {};
    if (ignores(t, SIGTTOU)) return {};
    if (pgrp_orphaned(p.pgid)) return err(EIO);
    signal_pgrp(p.pgid, SIGTTOU);
    return err(kERestartSys);
}

Result<u64> Tty::read(Task& t, std::span<std::byte> dst) {
    const Process& p = *t.process;
    // Job control: a background group reading its terminal stops (SIGTTIN).
    if (is_ctty_of(p) && pgrp_ != 0 && p.pgid != pgrp_) {
        if (ignores(t, SIGTTIN) || pgrp_orphaned(p.pgid)) return err(EIO);
        signal_pgrp(p.pgid, SIGTTIN);
        return err(kERestartSys);
    }
    if (dst.empty()) return 0;
    const KTermios& tio = ldisc_.termios();
    const bool canonical = tio.c_lflag & ICANON;
    // Non-canonical: a read waits for MIN bytes (at most what was asked for).
    const std::size_t min =
        canonical ? 1 : std::clamp<std::size_t>(tio.c_cc[VMIN], 1, dst.size());
    if (ldisc_.readable() && (canonical || ldisc_.available() >= min)) {
        // SAFETY: std::byte and u8 have the same size and may alias each other.
        const std::size_t n = ldisc_.read({reinterpret_cast<u8*>(dst.data()), dst.size()});
        arm_pump();  // there is room again
        return n;
    }
    if (hung_up_) return 0;
    // MIN 0 and TIME 0: a poll, never a wait.
    if (!canonical && tio.c_cc[VMIN] == 0 && tio.c_cc[VTIME] == 0) return 0;
    return err(EAGAIN);
}

Result<u64> Tty::write(Task& t, std::span<const std::byte> src) {
    const Process& p = *t.process;
    if ((ldisc_.termios().c_lflag & TOSTOP) && is_ctty_of(p) && pgrp_ != 0 && p.pgid != pgrp_ &&
        !ignores(t, SIGTTOU)) {
        if (pgrp_orphaned(p.pgid)) return err(EIO);
        signal_pgrp(p.pgid, SIGTTOU);
        return err(kERestartSys);
    }
    if (ldisc_.stopped()) return err(EAGAIN);  // ^S: wait for ^Q
    // SAFETY: std::byte and u8 have the same size and may alias each other.
    const std::string out =
        ldisc_.process_output({reinterpret_cast<const u8*>(src.data()), src.size()});
    kernel_.without_lock([&] {
        std::lock_guard o(out_mu_);
        write_all(out_, out);
    });
    return src.size();
}

u32 Tty::poll() const {
    u32 m = 0;
    if (ldisc_.readable() || hung_up_) m |= POLLIN | POLLRDNORM;
    if (hung_up_) m |= POLLHUP;
    if (!ldisc_.stopped()) m |= POLLOUT | POLLWRNORM;
    return m;
}

Result<void> Tty::set_termios(Task& t, const KTermios& tio, bool flush) {
    VK_TRY(check_change(t));
    log_debug("tty: pid {} sets lflag {:#o} (was {:#o}), {} bytes unread, {} in the line",
              t.process->pid, tio.c_lflag, ldisc_.termios().c_lflag, ldisc_.available(),
              ldisc_.editing());
    if (flush) ldisc_.flush_input();
    ldisc_.set_termios(tio);
    kernel_.wake_all(waiters_);  // canonical mode changed, or IXON went off
    arm_pump();
    return {};
}

Result<void> Tty::set_pgrp(Task& t, int pgrp) {
    if (auto ok = check_change(t); !ok) return err(ok.error().code == EIO ? ENOTTY : ok.error().code);
    const Process& p = *t.process;
    if (!is_ctty_of(p)) return err(ENOTTY);
    if (pgrp < 0) return err(EINVAL);
    const Process* member = nullptr;
    for (const auto& [pid, q] : kernel_.processes())
        if (q->pgid == pgrp && !q->zombie) member = q.get();
    if (!member) return err(ESRCH);
    if (member->sid != session_) return err(EPERM);
    pgrp_ = pgrp;
    return {};
}

Result<void> Tty::set_ctty(Task& t, bool steal) {
    const Process& p = *t.process;
    if (p.pid == p.sid && session_ == p.sid) return {};  // already ours
    if (p.pid != p.sid) return err(EPERM);                // not a session leader
    if (session_ != 0) {
        // Another session's terminal: only CAP_SYS_ADMIN may take it (TIOCSCTTY 1).
        constexpr int kCapSysAdmin = 21;
        if (!steal || !((effective_caps(p) >> kCapSysAdmin) & 1)) return err(EPERM);
        session_ = pgrp_ = 0;
    }
    attach(p);
    return {};
}

Result<void> Tty::give_up_ctty(Task& t) {
    Process& p = *t.process;
    if (!is_ctty_of(p)) return err(ENOTTY);
    // The leader hangs the terminal up for the whole session; another
    // member only drops it for itself (Linux's no_tty).
    if (p.pid == p.sid)
        detach();
    else
        p.no_ctty = true;
    return {};
}

Result<int> Tty::foreground_pgrp(Task& t) const {
    if (!is_ctty_of(*t.process)) return err(ENOTTY);
    return pgrp_;
}

Result<int> Tty::session_of(Task& t) const {
    if (!is_ctty_of(*t.process)) return err(ENOTTY);
    return session_;
}

Result<void> Tty::flush(Task& t, int queue) {
    if (queue != TCIFLUSH && queue != TCOFLUSH && queue != TCIOFLUSH) return err(EINVAL);
    VK_TRY(check_change(t));
    // Output is written through at once: there is no output queue to drop.
    if (queue != TCOFLUSH) ldisc_.flush_input();
    arm_pump();
    return {};
}

Result<void> Tty::flow(Task& t, int action) {
    VK_TRY(check_change(t));
    const KTermios& tio = ldisc_.termios();
    switch (action) {
    case TCOOFF: ldisc_.set_stopped(true); return {};
    case TCOON:
        ldisc_.set_stopped(false);
        kernel_.wake_all(waiters_);
        return {};
    case TCIOFF:
    case TCION: {
        const u8 c = tio.c_cc[action == TCIOFF ? VSTOP : VSTART];
        if (c) {
            const char ch = static_cast<char>(c);
            kernel_.without_lock([&] {
                std::lock_guard o(out_mu_);
                write_all(out_, {&ch, 1});
            });
        }
        return {};
    }
    default: return err(EINVAL);
    }
}

// --- Files on the tty -----------------------------------------------------------

namespace {

class TtyFileOps final : public BlockingOps {
public:
    TtyFileOps(Kernel& k, std::shared_ptr<Tty> tty) : kernel_(k), tty_(std::move(tty)) {}
    bool seekable() const override { return false; }
    WaitQueue* queue() override { return &tty_->waiters(); }

    Result<u64> read(fs::File&, std::span<std::byte> dst, u64) override {
        Task* t = kernel_.current_task();
        if (!t) return err(EIO);
        return tty_->read(*t, dst);
    }
    Result<u64> write(fs::File&, std::span<const std::byte> src, u64) override {
        Task* t = kernel_.current_task();
        if (!t) return err(EIO);
        return tty_->write(*t, src);
    }
    Result<i64> seek(fs::File&, i64, int) override { return err(ESPIPE); }
    u32 poll(fs::File&) override { return tty_->poll(); }
    Result<long> ioctl(fs::File&, u32 cmd, u64) override {
        if (cmd == FIONREAD) return static_cast<long>(tty_->ldisc().available());
        return err(ENOTTY);
    }
    Tty& tty() { return *tty_; }

private:
    Kernel& kernel_;
    std::shared_ptr<Tty> tty_;
};

}  // namespace

std::shared_ptr<fs::FileOps> tty_file_ops(Kernel& k, std::shared_ptr<Tty> tty) {
    return std::make_shared<TtyFileOps>(k, std::move(tty));
}

Result<std::shared_ptr<fs::File>> make_tty_file(Kernel& k, std::shared_ptr<Tty> tty, int flags) {
    return make_anon_file(k, S_IFCHR, flags, tty_file_ops(k, std::move(tty)));
}

Tty* tty_of(fs::File& f) {
    auto* ops = dynamic_cast<TtyFileOps*>(&f.ops());
    return ops ? &ops->tty() : nullptr;
}

}  // namespace vk
