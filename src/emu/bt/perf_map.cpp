#include "emu/bt/perf_map.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/core.h>

namespace popek::emu {

std::shared_ptr<PerfMap> PerfMap::open_for_this_process() {
    return open(fmt::format("/tmp/perf-{}.map", ::getpid()));
}

std::shared_ptr<PerfMap> PerfMap::open(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "we");
    if (!f) {
        fmt::print(stderr, "popek: --perf-map: cannot create {}: {}\n", path, std::strerror(errno));
        return nullptr;
    }
    return std::shared_ptr<PerfMap>(new PerfMap(f));
}

PerfMap::~PerfMap() { std::fclose(m_file); }

void PerfMap::add_block(const void* code, size_t size, int vcpu, uint64_t lip, uint64_t gpa, uint32_t mode) {
    const std::string line = fmt::format("{:x} {:x} popek-bt vcpu{} rip={:#x} gpa={:#x} mode={}{}\n",
                                         reinterpret_cast<uintptr_t>(code), size, vcpu, lip, gpa, mode & 0xff,
                                         (mode & 0x100) ? " user" : "");
    std::lock_guard guard(m_lock);
    std::fputs(line.c_str(), m_file);
    std::fflush(m_file);   // perf may read it while popek runs; a killed popek keeps what it wrote
}

}  // namespace popek::emu
