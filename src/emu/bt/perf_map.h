#pragma once
/// `--perf-map`: the JIT symbol file that perf reads for code it cannot attribute to a binary
/// (perf's tools/perf/Documentation/jit-interface.txt: /tmp/perf-PID.map, one line per code
/// range, "START SIZE NAME" with START and SIZE in hex). Each translated block is named by its
/// guest address and mode, so `perf report` shows where the guest spends the translated time.
/// One file per popek process, shared by every vCPU's translator (lines are written whole,
/// under a lock).
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

namespace popek::emu {

class PerfMap {
public:
    /// /tmp/perf-<pid>.map, truncated; null (and one line on stderr) when it cannot be created.
    static std::shared_ptr<PerfMap> open_for_this_process();
    /// The same at `path` (tests).
    static std::shared_ptr<PerfMap> open(const std::string& path);
    ~PerfMap();
    PerfMap(const PerfMap&) = delete;
    PerfMap& operator=(const PerfMap&) = delete;

    /// Names [code, code + size) "popek-bt <vcpu> rip=<lip> gpa=<gpa> mode=<bits>".
    void add_block(const void* code, size_t size, int vcpu, uint64_t lip, uint64_t gpa, uint32_t mode);

private:
    explicit PerfMap(std::FILE* f) : m_file(f) {}
    std::mutex m_lock;
    std::FILE* m_file;
};

}  // namespace popek::emu
