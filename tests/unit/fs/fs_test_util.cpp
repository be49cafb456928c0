#include "fs_test_util.h"

#include <cstring>

namespace vk::fs::test {

std::vector<Dirent> parse_dirents(std::span<const std::byte> buf) {
    std::vector<Dirent> out;
    size_t pos = 0;
    while (pos + 19 <= buf.size()) {
        Dirent d;
        u16 reclen = 0;
        std::memcpy(&d.ino, buf.data() + pos, 8);
        std::memcpy(&d.off, buf.data() + pos + 8, 8);
        std::memcpy(&reclen, buf.data() + pos + 16, 2);
        std::memcpy(&d.type, buf.data() + pos + 18, 1);
        if (reclen < 20 || pos + reclen > buf.size()) {
            ADD_FAILURE() << "bad d_reclen " << reclen << " at " << pos;
            break;
        }
        EXPECT_EQ(reclen % 8, 0u);
        const char* name = reinterpret_cast<const char*>(buf.data() + pos + 19);
        d.name.assign(name, strnlen(name, reclen - 19));
        out.push_back(std::move(d));
        pos += reclen;
    }
    EXPECT_EQ(pos, buf.size());
    return out;
}

std::vector<std::string> World::list(std::string_view p) {
    std::vector<std::string> names;
    auto f = open(p, O_RDONLY | O_DIRECTORY);
    if (!f) {
        ADD_FAILURE() << p << ": " << ename_of(f);
        return names;
    }
    std::vector<std::byte> buf(4096);
    for (;;) {
        auto n = (*f)->getdents64(buf);
        if (!n) {
            ADD_FAILURE() << ename_of(n);
            break;
        }
        if (*n == 0) break;
        for (auto& d : parse_dirents(std::span(buf).first(*n)))
            if (d.name != "." && d.name != "..") names.push_back(d.name);
    }
    return names;
}

}  // namespace vk::fs::test
