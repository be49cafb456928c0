// The vkernel command: parses the command line, connects the kernel with the
// Linux personality, runs the program, and exits with its status.

#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "base/log.h"
#include "base/unique_fd.h"
#include "syscalls/syscalls.h"
#include "vkernel/kernel.h"

namespace {

// Exit statuses of the vkernel itself (README.md, "Exit codes").
constexpr int kExitError = 1;       // any other vkernel error
constexpr int kExitUsage = 2;       // bad command line, or no usable /dev/kvm
constexpr int kExitNotRunnable = 126;

void usage(FILE* out) {
    std::fputs(
        "usage: vkernel [OPTIONS] [-- COMMAND [ARGS...]]\n"
        "Boots a root filesystem (busybox by default) in its own kernel, runs COMMAND\n"
        "there (a static x86-64 Linux program: a path in the guest, or a name looked up\n"
        "in PATH; default /sbin/init if present, else /bin/sh) and exits with its\n"
        "status (128+N if a signal N killed it).\n"
        "\n"
        "  -i, --initrd FILE     root filesystem: a cpio (newc) archive (default\n"
        "                        vkernel-root.cpio beside the vkernel binary)\n"
        "      --bind HOST[:GUEST]  show host directory HOST read-only at GUEST\n"
        "                        (default: the same path) inside the guest (repeatable)\n"
        "  -m, --memory SIZE     guest memory, with K, M or G suffix (default 256M)\n"
        "  -n, --cpus N          virtual CPUs: host threads running guest code (default 1)\n"
        "  -e, --env NAME=VALUE  set a guest environment variable (repeatable); the\n"
        "                        guest inherits nothing from the host but TERM, and\n"
        "                        gets PATH=/bin:/sbin:/usr/bin:/usr/sbin unless given\n"
        "      --strace          print each guest syscall to stderr\n"
        "      --stats           at exit, print to stderr how many VM exits of each kind\n"
        "                        the guest caused\n"
        "      --no-fast-syscalls  make every guest syscall exit to the vkernel (on PVM\n"
        "                        a few simple calls, such as rt_sigprocmask, getpid,\n"
        "                        brk(0) and arch_prctl, are otherwise answered inside\n"
        "                        the guest; --strace implies this)\n"
        "      --hostname NAME   the guest's host name (uname -n; default vkernel)\n"
        "  -h, --help            show this help\n"
        "      --version         show the version\n",
        out);
}

bool parse_size(const char* s, vk::u64& out) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(s, &end, 10);
    if (errno || end == s) return false;
    vk::u64 mult = 1;
    if (*end) {
        switch (*end) {
        case 'k': case 'K': mult = 1ULL << 10; break;
        case 'm': case 'M': mult = 1ULL << 20; break;
        case 'g': case 'G': mult = 1ULL << 30; break;
        default: return false;
        }
        if (end[1] && !(end[1] == 'B' || end[1] == 'b' || end[1] == 'i')) return false;
    }
    if (v > (1ULL << 46) / mult) return false;
    out = v * mult;
    return true;
}

// /dev/kvm problems are the commonest failure: say what to do about them.
bool check_kvm() {
    const int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        ::close(fd);
        return true;
    }
    if (errno == ENOENT)
        vk::log_error("/dev/kvm does not exist: load the KVM module (modprobe kvm_intel or "
                      "kvm_amd) or run on a machine with virtualization enabled");
    else if (errno == EACCES || errno == EPERM)
        vk::log_error("no permission to open /dev/kvm: add your user to the kvm group "
                      "(usermod -aG kvm $USER) and log in again, or run as root");
    else
        vk::log_error("cannot open /dev/kvm: {}", std::strerror(errno));
    return false;
}

// The host terminal while the vkernel runs with a terminal as stdin: raw, so
// every key reaches the vkernel's own tty (vkernel/tty.h), which does the
// editing, echo and signals. The saved settings come back on every way out:
// the return from main, exit(), and the signals that end the process (the
// handler restores them, then the process dies of the signal as before).
struct termios g_saved_termios;
volatile sig_atomic_t g_terminal_raw = 0;

void restore_terminal() {
    if (!g_terminal_raw) return;
    g_terminal_raw = 0;
    ::tcsetattr(0, TCSADRAIN, &g_saved_termios);  // async-signal-safe
}

void die_of_signal(int sig) {
    restore_terminal();
    ::raise(sig);  // SA_RESETHAND put the default action back; SA_NODEFER lets it act
}

void make_terminal_raw() {
    if (::isatty(0) != 1 || ::tcgetattr(0, &g_saved_termios) != 0) return;
    struct termios raw = g_saved_termios;
    ::cfmakeraw(&raw);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    struct sigaction sa{};
    sa.sa_handler = die_of_signal;
    sa.sa_flags = SA_RESETHAND | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (const int sig : {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGALRM, SIGUSR1, SIGUSR2, SIGXCPU,
                          SIGXFSZ, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS}) {
        struct sigaction old{};
        // Signals someone already handles or ignores keep their disposition.
        if (::sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_DFL)
            ::sigaction(sig, &sa, nullptr);
    }
    g_terminal_raw = 1;
    std::atexit(restore_terminal);
    if (::tcsetattr(0, TCSADRAIN, &raw) != 0) g_terminal_raw = 0;
}

// bin/vkernel-root.cpio beside the running binary.
std::string default_initrd() {
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) return "vkernel-root.cpio";
    return (exe.parent_path() / "vkernel-root.cpio").string();
}

// Reads the whole root archive; a problem is one sentence on stderr.
bool read_archive(const std::string& path, std::vector<std::byte>& out) {
    const vk::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
        vk::log_error("cannot read the root filesystem archive {}: {}", path, std::strerror(errno));
        return false;
    }
    struct stat st{};
    if (::fstat(fd.get(), &st) < 0 || !S_ISREG(st.st_mode)) {
        vk::log_error("the root filesystem archive {} is not a regular file", path);
        return false;
    }
    out.resize(static_cast<std::size_t>(st.st_size));
    std::size_t done = 0;
    while (done < out.size()) {
        const ssize_t n = ::read(fd.get(), out.data() + done, out.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            vk::log_error("cannot read the root filesystem archive {}: {}", path,
                          n < 0 ? std::strerror(errno) : "it shrank while being read");
            return false;
        }
        done += static_cast<std::size_t>(n);
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    vk::KernelOptions opts;
    std::vector<std::string> env;
    std::string initrd;
    enum { kOptStrace = 256, kOptVersion, kOptDebug, kOptBind, kOptHostname, kOptStats, kOptNoFast };
    static const option long_opts[] = {
        {"memory", required_argument, nullptr, 'm'},
        {"cpus", required_argument, nullptr, 'n'},
        {"env", required_argument, nullptr, 'e'},
        {"strace", no_argument, nullptr, kOptStrace},
        {"stats", no_argument, nullptr, kOptStats},
        {"no-fast-syscalls", no_argument, nullptr, kOptNoFast},
        {"hostname", required_argument, nullptr, kOptHostname},
        {"help", no_argument, nullptr, 'h'},
        {"version", no_argument, nullptr, kOptVersion},
        {"debug", no_argument, nullptr, kOptDebug},
        {"bind", required_argument, nullptr, kOptBind},
        {"initrd", required_argument, nullptr, 'i'},
        {nullptr, 0, nullptr, 0},
    };
    int c;
    // '+': options end at the first non-option, so the program's own options pass through.
    while ((c = getopt_long(argc, argv, "+m:n:e:i:h", long_opts, nullptr)) != -1) {
        switch (c) {
        case 'm':
            if (!parse_size(optarg, opts.memory) || opts.memory < (4ULL << 20)) {
                vk::log_error("bad memory size '{}': give a number with K, M or G, at least 4M",
                              optarg);
                return kExitUsage;
            }
            break;
        case 'n': {
            char* end = nullptr;
            const long n = std::strtol(optarg, &end, 10);
            if (!*optarg || *end || n < 1 || n > 64) {
                vk::log_error("bad --cpus '{}': give a number from 1 to 64", optarg);
                return kExitUsage;
            }
            opts.cpus = static_cast<unsigned>(n);
            break;
        }
        case 'e':
            if (!std::strchr(optarg, '=')) {
                vk::log_error("bad --env '{}': write NAME=VALUE", optarg);
                return kExitUsage;
            }
            env.emplace_back(optarg);
            break;
        case 'i': initrd = optarg; break;
        case kOptStrace: opts.strace = true; break;
        case kOptStats: opts.stats = true; break;
        case kOptNoFast: opts.fast_syscalls = false; break;
        case kOptHostname:
            if (!*optarg || std::strlen(optarg) > 64) {
                vk::log_error("bad --hostname '{}': give 1 to 64 characters", optarg);
                return kExitUsage;
            }
            opts.hostname = optarg;
            break;
        case kOptDebug: vk::g_debug_log = true; break;
        case kOptBind: {
            std::string host = optarg, guest;
            if (const auto colon = host.find(':'); colon != std::string::npos) {
                guest = host.substr(colon + 1);
                host.resize(colon);
            }
            if (host.empty()) {
                vk::log_error("bad --bind '{}': write HOSTDIR[:GUESTDIR]", optarg);
                return kExitUsage;
            }
            if (guest.empty()) guest = host;
            std::error_code ec;
            host = std::filesystem::absolute(host, ec).lexically_normal().string();
            if (guest[0] != '/') guest = std::filesystem::absolute(guest, ec).lexically_normal().string();
            while (host.size() > 1 && host.back() == '/') host.pop_back();
            while (guest.size() > 1 && guest.back() == '/') guest.pop_back();
            opts.binds.emplace_back(host, guest);
            break;
        }
        case 'h': usage(stdout); return 0;
        case kOptVersion: std::puts("vkernel 0.1.0"); return 0;
        default: usage(stderr); return kExitUsage;
        }
    }
    if (const char* term = std::getenv("TERM")) {
        bool set = false;
        for (const auto& e : env) set |= e.rfind("TERM=", 0) == 0;
        if (!set) env.push_back(std::string("TERM=") + term);
    }
    {
        bool set = false;
        for (const auto& e : env) set |= e.rfind("PATH=", 0) == 0;
        if (!set) env.insert(env.begin(), "PATH=/bin:/sbin:/usr/bin:/usr/sbin");
    }
    // No COMMAND: the kernel picks /sbin/init or /bin/sh.
    const std::string program = optind < argc ? argv[optind] : "";
    std::vector<std::string> args(argv + optind, argv + argc);

    if (!check_kvm()) return kExitUsage;
    std::vector<std::byte> archive;
    if (initrd.empty()) initrd = default_initrd();
    if (!read_archive(initrd, archive)) return kExitError;


    auto kernel = vk::Kernel::create(opts, vk::sys::linux64_table());
    if (!kernel) {
        vk::log_error("cannot start: {}", kernel.error().message());
        return kExitError;
    }
    if (auto booted = kernel.value()->boot(archive, initrd); !booted) {
        vk::log_error("{}", booted.error());
        return kExitError;
    }
    make_terminal_raw();
    auto status = kernel.value()->run(program, args, env);
    restore_terminal();
    if (!status) {
        vk::log_error("{}", status.error().message);
        return status.error().status;
    }
    const int ws = status.value();
    std::fflush(stdout);
    if (opts.stats) std::fprintf(stderr, "%s\n", kernel.value()->stats_report().c_str());
    if (WIFSIGNALED(ws)) return 128 + WTERMSIG(ws);
    (void)kExitNotRunnable;
    return WEXITSTATUS(ws);
}
