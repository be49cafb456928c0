// The vkernel command: parses the command line, connects the kernel with the
// Linux personality, runs the program, and exits with its status.

#include <fcntl.h>
#include <getopt.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "base/log.h"
#include "syscalls/syscalls.h"
#include "vkernel/kernel.h"

namespace {

// Exit statuses of the vkernel itself (README.md, "Exit codes").
constexpr int kExitError = 1;       // any other vkernel error
constexpr int kExitUsage = 2;       // bad command line, or no usable /dev/kvm
constexpr int kExitNotRunnable = 126;

void usage(FILE* out) {
    std::fputs(
        "usage: vkernel [OPTIONS] [--] PROGRAM [ARGS...]\n"
        "Runs a static x86-64 Linux PROGRAM (a path on the host, for now) in its own\n"
        "kernel, and exits with its status (128+N if a signal N killed it).\n"
        "\n"
        "  -m, --memory SIZE     guest memory, with K, M or G suffix (default 256M)\n"
        "  -n, --cpus N          virtual CPUs: host threads running guest code (default 1)\n"
        "  -e, --env NAME=VALUE  set a guest environment variable (repeatable); the\n"
        "                        guest inherits nothing from the host but TERM\n"
        "      --strace          print each guest syscall to stderr\n"
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

}  // namespace

int main(int argc, char** argv) {
    vk::KernelOptions opts;
    std::vector<std::string> env;
    enum { kOptStrace = 256, kOptVersion, kOptDebug };
    static const option long_opts[] = {
        {"memory", required_argument, nullptr, 'm'},
        {"cpus", required_argument, nullptr, 'n'},
        {"env", required_argument, nullptr, 'e'},
        {"strace", no_argument, nullptr, kOptStrace},
        {"help", no_argument, nullptr, 'h'},
        {"version", no_argument, nullptr, kOptVersion},
        {"debug", no_argument, nullptr, kOptDebug},
        {nullptr, 0, nullptr, 0},
    };
    int c;
    // '+': options end at the first non-option, so the program's own options pass through.
    while ((c = getopt_long(argc, argv, "+m:n:e:h", long_opts, nullptr)) != -1) {
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
        case kOptStrace: opts.strace = true; break;
        case kOptDebug: vk::g_debug_log = true; break;
        case 'h': usage(stdout); return 0;
        case kOptVersion: std::puts("vkernel 0.1.0"); return 0;
        default: usage(stderr); return kExitUsage;
        }
    }
    if (optind >= argc) {
        vk::log_error("no program given; see vkernel --help");
        return kExitUsage;
    }
    if (const char* term = std::getenv("TERM")) {
        bool set = false;
        for (const auto& e : env) set |= e.rfind("TERM=", 0) == 0;
        if (!set) env.push_back(std::string("TERM=") + term);
    }
    const std::string program = argv[optind];
    std::vector<std::string> args(argv + optind, argv + argc);

    if (!check_kvm()) return kExitUsage;

    auto kernel = vk::Kernel::create(opts, vk::sys::linux64_table());
    if (!kernel) {
        vk::log_error("cannot start: {}", kernel.error().message());
        return kExitError;
    }
    auto status = kernel.value()->run(program, args, env);
    if (!status) {
        vk::log_error("{}", status.error().message);
        return status.error().status;
    }
    const int ws = status.value();
    std::fflush(stdout);
    if (WIFSIGNALED(ws)) return 128 + WTERMSIG(ws);
    (void)kExitNotRunnable;
    return WEXITSTATUS(ws);
}
