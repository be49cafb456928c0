#include "vkernel/strace.h"

#include <fmt/core.h>

#include <cstring>

#include "vkernel/task.h"
#include "vkernel/user_memory.h"

namespace vk {

namespace {

std::string quote(const std::string& s, bool truncated) {
    std::string out = "\"";
    for (unsigned char c : s) {
        switch (c) {
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        default:
            if (c < 32 || c >= 127)
                out += fmt::format("\\x{:02x}", c);
            else
                out += static_cast<char>(c);
        }
    }
    out += "\"";
    if (truncated) out += "...";
    return out;
}

}  // namespace

std::string strace_call(Task& task, u64 nr, const SyscallDesc* desc, const SyscallArgs& args) {
    std::string out;
    if (desc && desc->name)
        out = desc->name;
    else
        out = fmt::format("syscall_{}", nr);
    out += "(";
    bool any = false;
    for (int i = 0; i < 6; i++) {
        const ArgKind k = desc ? desc->args[i] : ArgKind::kNone;
        if (k == ArgKind::kNone) break;
        if (any) out += ", ";
        any = true;
        const u64 v = args[i];
        switch (k) {
        case ArgKind::kInt:
        case ArgKind::kFd: out += fmt::format("{}", static_cast<i64>(v)); break;
        case ArgKind::kUns: out += fmt::format("{}", v); break;
        case ArgKind::kStr: {
            // Show at most 64 bytes; an unreadable string shows as its address.
            char buf[65] = {};
            const u64 n = copy_in_partial(task.mm(), v, buf, 64);
            const std::size_t len = strnlen(buf, n);
            if (n == 0)
                out += fmt::format("{:#x}", v);
            else
                out += quote(std::string(buf, len), len == 64);
            break;
        }
        case ArgKind::kHex:
        case ArgKind::kBuf:
        case ArgKind::kNone: out += fmt::format("{:#x}", v); break;
        }
    }
    out += ")";
    return out;
}

void strace_result(const std::string& call, long ret, bool no_return, int tid) {
    if (no_return)
        fmt::print(stderr, "[pid {:>5}] {} = ?\n", tid, call);
    else if (ret < 0 && ret > -4096)
        fmt::print(stderr, "[pid {:>5}] {} = -1 {} ({})\n", tid, call, errno_name(static_cast<int>(-ret)),
                   std::strerror(static_cast<int>(-ret)));
    else if (ret >= 0 && ret < 0x10000)
        fmt::print(stderr, "[pid {:>5}] {} = {}\n", tid, call, ret);
    else
        fmt::print(stderr, "[pid {:>5}] {} = {:#x}\n", tid, call, static_cast<u64>(ret));
}

}  // namespace vk
