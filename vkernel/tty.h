#pragma once

// The console tty: what the guest sees when the host's stdin is a terminal.
//
// Two parts:
//  * LineDiscipline: Linux's N_TTY in miniature — termios, canonical line
//    editing (VERASE, VKILL, VWERASE, VEOF, VEOL), echo (ECHO, ECHOE, ECHOK,
//    ECHOKE, ECHONL, ECHOCTL), input mapping (ICRNL, INLCR, IGNCR, ISTRIP),
//    ISIG characters, IXON flow control and output processing (OPOST,
//    ONLCR, OCRNL, ONLRET, ONOCR, XTABS). It has no kernel, no host fd and
//    no locking of its own, so it is unit tested by itself
//    (tests/unit/vkernel/tty_test.cpp).
//  * Tty: the kernel object. One LineDiscipline, the session and foreground
//    process group it is the controlling terminal of, the window size, and
//    the host terminal: input is pumped from host fd `in` by the reactor
//    (never by a vCPU thread), output goes to host fd `out`. The host
//    terminal itself is put in raw mode by tools/vkernel_main.cpp, so every
//    byte typed reaches the line discipline.
//
// A process has the tty as its controlling terminal when its session is the
// tty's session (there is one tty, so no per-process pointer is needed).
// Guarded by the kernel lock, except the host writes (out_mu_).

#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/types.h"
#include "base/unique_fd.h"
#include "vkernel/wait_queue.h"

namespace vk {

namespace fs {
class File;
class FileOps;
}  // namespace fs
class Kernel;
class Process;
class Task;

// struct termios as the Linux x86-64 ioctls (TCGETS, TCSETS*) pass it:
// 19 control characters and no speed fields, unlike glibc's.
struct KTermios {
    u32 c_iflag = 0;
    u32 c_oflag = 0;
    u32 c_cflag = 0;
    u32 c_lflag = 0;
    u8 c_line = 0;
    u8 c_cc[19] = {};
};
static_assert(sizeof(KTermios) == 36);

// struct winsize (TIOCGWINSZ, TIOCSWINSZ).
struct KWinsize {
    u16 ws_row = 0;
    u16 ws_col = 0;
    u16 ws_xpixel = 0;
    u16 ws_ypixel = 0;
};
static_assert(sizeof(KWinsize) == 8);

// Linux's tty_std_termios: what a fresh console starts with.
KTermios default_termios();

// Canonical lines and raw input, echo and output processing. Not thread
// safe: its owner locks.
class LineDiscipline {
public:
    // Linux bounds a tty's input at N_TTY_BUF_SIZE bytes; a canonical line
    // holds one byte less (room for its end).
    static constexpr std::size_t kBufSize = 4096;

    LineDiscipline() : termios_(default_termios()) {}

    const KTermios& termios() const { return termios_; }
    // New settings (TCSETS). Leaving canonical mode makes what was typed of
    // the current line readable at once, as Linux does; entering it makes
    // unread raw input one line.
    void set_termios(const KTermios& t);

    // What input processing asks its owner to do.
    struct Effects {
        std::string echo;          // bytes for the terminal (output-processed)
        std::vector<int> signals;  // for the foreground process group, in order
    };
    // Processes bytes typed on the terminal.
    void receive(std::span<const u8> in, Effects& fx);

    // Bytes a read may take now; in canonical mode a read ends at a line end.
    bool readable() const;
    // An end of file (VEOF on an empty line) is next: a read returns 0.
    bool at_eof() const { return !lines_.empty() && lines_.front().empty(); }
    // Bytes waiting to be read (FIONREAD).
    std::size_t available() const;
    // Takes up to dst.size() bytes (at most one line in canonical mode). A
    // pending end of file is consumed and gives 0.
    std::size_t read(std::span<u8> dst);
    // Bytes typed but not readable yet (the canonical line being edited).
    std::size_t editing() const { return line_.size(); }
    // True when no more input fits: the owner stops reading the host.
    bool full() const;
    // TCFLSH TCIFLUSH: drops all unread input and the line being edited.
    void flush_input();

    // Output processing (OPOST and its flags) of bytes written to the tty;
    // also follows the cursor column for ECHOE over tabs.
    std::string process_output(std::span<const u8> src);

    // IXON: output stopped by VSTOP (or TCXONC TCOOFF) until VSTART.
    bool stopped() const { return stopped_; }
    void set_stopped(bool s) { stopped_ = s; }

private:
    bool canonical() const { return termios_.c_lflag & kIcanon; }
    bool is_cc(u8 c, int index) const { return c != 0 && termios_.c_cc[index] == c; }
    void echo_char(u8 c, std::string& out);
    void echo_raw(std::string_view s, std::string& out);
    void erase(int kind, std::string& out);  // kind: the VERASE/VKILL/VWERASE index
    void end_line(bool keep_char, u8 c);
    std::size_t column_after(std::string_view s, std::size_t start) const;

    static constexpr u32 kIcanon = 0000002;
    KTermios termios_;
    std::string line_;                // the canonical line being edited
    std::deque<std::string> lines_;   // finished lines (an empty one is an EOF)
    std::deque<u8> raw_;              // non-canonical input
    std::size_t column_ = 0;          // the terminal's cursor column, as output moved it
    std::size_t line_column_ = 0;     // column where line_ began
    bool stopped_ = false;
    bool lnext_ = false;              // VLNEXT: the next byte is literal
};

// The console tty. Made once by the kernel (console_tty()) when the host's
// stdin is a terminal; guest files (the first process's fds, /dev/tty,
// /dev/console) share it. Everything is guarded by the kernel lock.
class Tty : public std::enable_shared_from_this<Tty> {
public:
    // Host fds `in` (a terminal) and `out` are not owned: they are the
    // vkernel's stdio. Starts the input pump and the SIGWINCH watch.
    static std::shared_ptr<Tty> create(Kernel& k, int in, int out);
    ~Tty();

    LineDiscipline& ldisc() { return ldisc_; }
    WaitQueue& waiters() { return waiters_; }

    // Session and foreground process group (0: none).
    int session() const { return session_; }
    int pgrp() const { return pgrp_; }
    // True if `p` has this tty as its controlling terminal.
    bool is_ctty_of(const Process& p) const;
    // Makes the tty the controlling terminal of `leader`'s session with its
    // group in the foreground (init at boot; TIOCSCTTY).
    void attach(const Process& leader);
    // The session leader exits or gives it up (TIOCNOTTY): SIGHUP and
    // SIGCONT to the foreground group, then no session.
    void detach();

    // read(2) and write(2) by `t` (the calling task): EAGAIN means "sleep on
    // waiters() and retry"; job control may stop the caller's group and ask
    // for a restart (kERestartSys) or fail with EIO.
    Result<u64> read(Task& t, std::span<std::byte> dst);
    Result<u64> write(Task& t, std::span<const std::byte> src);
    u32 poll() const;

    // Job control for calls that change the tty (TCSETS, TIOCSPGRP, TCFLSH,
    // TCXONC): a background process gets SIGTTOU unless it ignores or
    // blocks it.
    Result<void> check_change(Task& t);
    // The ioctls whose arguments are already copied in (syscalls/fd.cpp).
    Result<void> set_termios(Task& t, const KTermios& tio, bool flush);
    Result<void> set_pgrp(Task& t, int pgrp);
    Result<void> set_ctty(Task& t, bool steal);
    Result<void> give_up_ctty(Task& t);
    Result<int> foreground_pgrp(Task& t) const;
    Result<int> session_of(Task& t) const;
    KWinsize winsize() const { return winsize_; }
    // TIOCSWINSZ or a host resize: SIGWINCH to the foreground group if it changed.
    void set_winsize(const KWinsize& ws);
    Result<void> flush(Task& t, int queue);
    Result<void> flow(Task& t, int action);

private:
    Tty(Kernel& k, int in, int out) : kernel_(k), in_(in), out_(out) {}
    void arm_pump();                    // kernel lock held
    void on_input(int revents);         // reactor thread, takes the kernel lock
    void arm_winch();
    void on_winch();
    void signal_pgrp(int pgrp, int sig);
    bool pgrp_orphaned(int pgrp) const;

    Kernel& kernel_;
    int in_, out_;
    LineDiscipline ldisc_;
    WaitQueue waiters_;  // readers, and writers waiting for VSTART
    int session_ = 0, pgrp_ = 0;
    KWinsize winsize_;
    bool pumping_ = false;  // a reactor poll on in_ is pending
    bool hung_up_ = false;  // the host terminal went away: reads see EOF
    UniqueFd winch_fd_;     // signalfd for the host's SIGWINCH
    // Orders writes to `out_`: held while writing, never with the kernel
    // lock taken after it (lock order: kernel lock → out_mu_).
    std::mutex out_mu_;
};

// True if the host's stdin is a terminal: the console is then a Tty.
bool host_console_is_tty();

// FileOps of a guest file on `tty` (/dev/tty, /dev/console), and a File
// with them on an anonymous inode (the first process's fds 0-2).
std::shared_ptr<fs::FileOps> tty_file_ops(Kernel& k, std::shared_ptr<Tty> tty);
Result<std::shared_ptr<fs::File>> make_tty_file(Kernel& k, std::shared_ptr<Tty> tty, int flags);
// The tty a guest file is on, or null (ioctl asks).
Tty* tty_of(fs::File& f);

}  // namespace vk
