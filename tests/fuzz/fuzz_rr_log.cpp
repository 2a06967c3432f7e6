// libFuzzer target: the record/replay log reader (src/replay/rr_log.cpp, docs/record-replay.md).
//
// The input is a log file. Whatever the bytes: the header is an error or a VM description of at
// most kMaxConfig bytes; events come out one by one until an error or the End event, each within
// its bounds (Read <= kMaxRead bytes, Input 1..kMaxInput, Random 1..8, Dma 1..kMaxDma, Frame 1..kMaxFrame), never a
// crash or a read
// past the input.
// fuzz-sources: src/replay/rr_log.cpp
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "replay/rr_log.h"

using namespace popek::replay;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto reader = LogReader::open(std::vector<uint8_t>(data, data + size));
    if (!reader) return 0;
    if (reader->config().size() > kMaxConfig) std::abort();
    for (int n = 0; n < 100000; ++n) {
        auto e = reader->next();
        if (!e || !*e) break;
        const Event& ev = **e;
        switch (ev.type) {
            case EventType::Read: if (ev.bytes.size() > kMaxRead) std::abort(); break;
            case EventType::Input: if (ev.bytes.empty() || ev.bytes.size() > kMaxInput) std::abort(); break;
            case EventType::Random: if (ev.bytes.empty() || ev.bytes.size() > 8) std::abort(); break;
            case EventType::Dma: if (ev.bytes.empty() || ev.bytes.size() > kMaxDma) std::abort(); break;
            case EventType::Frame: if (ev.bytes.empty() || ev.bytes.size() > kMaxFrame) std::abort(); break;
            default: break;
        }
        if (reader->offset() > size) std::abort();
    }
    return 0;
}

#ifdef POPEK_FUZZ_REPLAY
// g++ builds (ctest): a valid seed log plus a deterministic stream of mutations of it.
#include <random>
#include <unistd.h>

int main(int argc, char** argv) {
    const long iterations = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 20000;
    const std::filesystem::path p = std::filesystem::temp_directory_path() / ("popek-fuzz-rr-" + std::to_string(::getpid()));
    {
        auto w = LogWriter::create(p.string(), "accel=bt\nmem_mib=256\n");
        if (!w) return 1;
        Event e;
        e.type = EventType::Exit;
        e.icount = 10;
        e.kind = ExitKind::PioIn;
        e.addr = 0x71;
        e.size = 1;
        w->write(e);
        e = Event{};
        e.type = EventType::Read;
        e.bytes = {0x42};
        w->write(e);
        e = Event{};
        e.type = EventType::Random;
        e.bytes = {1, 2, 3, 4};
        e.delivered = true;
        w->write(e);
        e = Event{};
        e.type = EventType::Input;
        e.idle = 3;
        e.bytes = {'x'};
        w->write(e);
        e = Event{};
        e.type = EventType::Dma;
        e.icount = 12;
        e.gpa = 0x402000;
        e.bytes = {0, 0, 1, 0, 0, 0, 0x11, 2};
        w->write(e);
        e = Event{};
        e.type = EventType::Frame;
        e.icount = 14;
        e.idle = 4;
        e.nic = 1;
        e.bytes = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54};
        w->write(e);
        e = Event{};
        e.type = EventType::End;
        w->write(e);
        if (!w->finish()) return 1;
    }
    std::ifstream f(p, std::ios::binary);
    const std::vector<uint8_t> seed((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::filesystem::remove(p);
    std::mt19937_64 rng(0x72726c6f67);
    LLVMFuzzerTestOneInput(seed.data(), seed.size());
    for (long i = 0; i < iterations; ++i) {
        std::vector<uint8_t> d = seed;
        const int flips = 1 + static_cast<int>(rng() % 6);
        for (int k = 0; k < flips; ++k) d[rng() % d.size()] = static_cast<uint8_t>(rng());
        if (rng() % 3 == 0) d.resize(rng() % (d.size() + 1));
        LLVMFuzzerTestOneInput(d.data(), d.size());
    }
    return 0;
}
#endif
