// Host tool: packs files into a popek-os file table ("POSFILES", guest/kernel/fs/packed_file_table.h).
// Usage: mkfiletable OUT [x:]SOURCE=/ABSOLUTE/PATH ...   (x: marks an executable)
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

struct Entry {
    char name[64];
    uint64_t offset;
    uint64_t size;
    uint32_t flags;
    uint32_t reserved;
};
static_assert(sizeof(Entry) == 88);

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: mkfiletable OUT [x:]SOURCE=/PATH...\n");
        return 2;
    }
    std::vector<Entry> entries;
    std::vector<std::vector<char>> contents;
    for (int i = 2; i < argc; ++i) {
        std::string arg = argv[i];
        uint32_t flags = 0;
        if (arg.rfind("x:", 0) == 0) {
            flags = 1;
            arg = arg.substr(2);
        }
        auto eq = arg.find('=');
        if (eq == std::string::npos || eq + 1 >= arg.size() || arg[eq + 1] != '/' || arg.size() - eq - 1 >= 64) {
            std::fprintf(stderr, "mkfiletable: bad argument %s\n", argv[i]);
            return 2;
        }
        std::ifstream in(arg.substr(0, eq), std::ios::binary);
        if (!in) {
            std::fprintf(stderr, "mkfiletable: cannot read %s\n", arg.substr(0, eq).c_str());
            return 1;
        }
        contents.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        Entry e{};
        std::strncpy(e.name, arg.c_str() + eq + 1, sizeof e.name - 1);
        e.size = contents.back().size();
        e.flags = flags;
        entries.push_back(e);
    }
    uint64_t offset = 16 + entries.size() * sizeof(Entry);
    for (auto& e : entries) {
        offset = (offset + 15) & ~uint64_t{15};
        e.offset = offset;
        offset += e.size;
    }
    std::ofstream out(argv[1], std::ios::binary | std::ios::trunc);
    uint32_t header[2] = {1, static_cast<uint32_t>(entries.size())};
    out.write("POSFILES", 8);
    out.write(reinterpret_cast<const char*>(header), sizeof header);
    out.write(reinterpret_cast<const char*>(entries.data()), static_cast<std::streamsize>(entries.size() * sizeof(Entry)));
    uint64_t pos = 16 + entries.size() * sizeof(Entry);
    for (size_t i = 0; i < entries.size(); ++i) {
        for (; pos < entries[i].offset; ++pos) out.put(0);
        out.write(contents[i].data(), static_cast<std::streamsize>(contents[i].size()));
        pos += contents[i].size();
    }
    return out ? 0 : 1;
}
