// libFuzzer target: the gdb remote protocol's packet decoder (src/gdb/rsp_framing.cpp).
//
// The input is a client's byte stream, fed to RspDecoder in pieces of input-chosen size. Every
// packet decoded is framed again and must decode to the same payload (escapes and checksums
// round-trip); payloads never exceed kMaxPacket; hex helpers see every payload.
// fuzz-sources: src/gdb/rsp_framing.cpp
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "gdb/rsp_framing.h"

using namespace popek::gdb;

namespace {

void check_round_trip(const std::string& payload) {
    const std::string framed = rsp_frame(payload);
    RspDecoder again;
    size_t used = 0;
    auto ev = again.feed(std::span(reinterpret_cast<const uint8_t*>(framed.data()), framed.size()), used);
    if (!ev || ev->kind != RspEvent::Packet || ev->payload != payload || used != framed.size()) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    RspDecoder decoder;
    size_t pos = 0;
    while (pos < size) {
        size_t piece = 1 + data[pos] % 97;
        ++pos;
        piece = std::min(piece, size - pos);
        std::span<const uint8_t> in(data + pos, piece);
        pos += piece;
        while (!in.empty()) {
            size_t used = 0;
            auto ev = decoder.feed(in, used);
            if (used > in.size()) __builtin_trap();
            in = in.subspan(used);
            if (!ev) break;
            if (ev->kind == RspEvent::Packet) {
                if (ev->payload.size() > kMaxPacket) __builtin_trap();
                check_round_trip(ev->payload);
                std::string bytes;
                (void)from_hex(ev->payload, bytes);
                (void)parse_hex(std::string_view(ev->payload).substr(0, 20));
            }
        }
    }
    return 0;
}

#ifdef POPEK_FUZZ_REPLAY
// g++ builds (ctest): seed packets plus a deterministic stream of mutations.
#include <cstdlib>
#include <random>
#include <vector>

int main(int argc, char** argv) {
    const long iterations = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 20000;
    const std::vector<std::string> seeds = {
        "+$qSupported:multiprocess+;swbreak+#00", "$g#67", "$m100000,4#fd", "$X100000,2:}\x03}\x04#00",
        "\x03", "-$vCont;s:1;c#00", "$Z0,100000,1#00+", std::string(300, '$'), "$" + std::string(5000, 'a') + "#00"};
    std::mt19937_64 rng(0x67646273);
    for (const auto& s : seeds) LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
    for (long i = 0; i < iterations; ++i) {
        std::string d = seeds[static_cast<size_t>(i) % seeds.size()];
        const int flips = 1 + static_cast<int>(rng() % 8);
        for (int k = 0; k < flips && !d.empty(); ++k) d[rng() % d.size()] = static_cast<char>(rng());
        if (rng() % 4 == 0) d += seeds[rng() % seeds.size()];
        LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(d.data()), d.size());
    }
    return 0;
}
#endif
