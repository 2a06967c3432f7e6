/// The EXT bit of the error code when an event meets a not-present IDT entry (SDM Vol. 3A 6.13):
/// set for events external to the program (ICEBP's #DB, an exception), clear for INT n, INT3 and
/// INTO (XTF swint-emulation "p=0").
#include "emu_harness.h"

namespace popek::emu::test {
namespace {

class EmuEventExt : public EmuLongModeTest {
protected:
    /// Runs `code` with the IDT entry of `vector` not present; returns the #NP error code.
    uint64_t np_error(int vector, const std::vector<uint8_t>& code) {
        h.setup_long_mode();
        const uint64_t entry = kIdt + static_cast<uint64_t>(vector) * 16;
        h.poke<uint64_t>(entry, h.read<uint64_t>(entry) & ~(1ULL << 47));
        std::vector<uint8_t> bytes = code;
        bytes.push_back(0xf4);
        h.load_code(bytes);
        h.cpu().shared().dma_epoch.fetch_add(1);
        EXPECT_TRUE(is_halt(h.run()));
        EXPECT_TRUE(h.reported());
        EXPECT_EQ(h.reported_rip(), kCode) << "#NP is a fault on the instruction";
        return h.reported_error();
    }
};

TEST_F(EmuEventExt, NotPresentGateErrorCodes) {
    EXPECT_EQ(np_error(kDb, {0xf1}), (1u << 3) | 2 | 1);          // ICEBP: external, EXT=1
    EXPECT_EQ(np_error(kBp, {0xcc}), (3u << 3) | 2);              // INT3: EXT=0
    EXPECT_EQ(np_error(kDb, {0xcd, 0x01}), (1u << 3) | 2);        // INT 1: EXT=0
    EXPECT_EQ(np_error(kUd, {0x0f, 0x0b}), (6u << 3) | 2 | 1);    // UD2: an exception, EXT=1
}

}  // namespace
}  // namespace popek::emu::test
