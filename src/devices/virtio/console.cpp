#include "devices/virtio/console.h"

#include <algorithm>
#include <vector>

namespace popek::devices::virtio {
namespace {

/// 5.3.4 struct virtio_console_config.
struct ConsoleConfig {
    uint16_t cols;
    uint16_t rows;
    uint32_t max_nr_ports;
    uint32_t emerg_wr;
};
static_assert(sizeof(ConsoleConfig) == 12);
constexpr uint64_t kEmergWrOffset = 8;

}  // namespace

void Console::read_config(uint64_t offset, std::span<uint8_t> data) {
    ConsoleConfig c{80, 25, 1, 0};
    read_config_bytes(std::span(reinterpret_cast<const uint8_t*>(&c), sizeof(c)), offset, data);
}

void Console::write_config(uint64_t offset, std::span<const uint8_t> data) {
    // 5.3.6.2: a write to emerg_wr sends its low byte to port 0's output.
    if (offset == kEmergWrOffset && !data.empty() && m_out) m_out(data.first(1));
}

void Console::notify(size_t index) {
    if (index == kConsoleTransmitQueue)
        process_queue(host(), index, [this](Chain& chain) { return transmit(chain); });
    else if (index == kConsoleReceiveQueue)
        deliver_input();
}

Result<uint32_t> Console::transmit(Chain& chain) {
    std::vector<uint8_t> bytes(chain.readable.size());
    TRY_VOID(chain.readable.read(host().memory(), 0, bytes));
    if (m_out && !bytes.empty()) m_out(bytes);
    return 0;
}

void Console::deliver_input() {
    if (m_input.empty()) return;
    const memory::GuestMemory& mem = host().memory();
    Queue& q = host().queue(kConsoleReceiveQueue);
    if (!q.ready() || q.broken()) return;
    Chain chain;
    bool used = false;
    while (!m_input.empty()) {
        auto got = q.pop(mem, chain);
        if (!got) {
            host().needs_reset(got.error());
            return;
        }
        if (!*got) break;
        size_t n = static_cast<size_t>(std::min<uint64_t>(chain.writable.size(), m_input.size()));
        std::vector<uint8_t> bytes(m_input.begin(), m_input.begin() + static_cast<ptrdiff_t>(n));
        auto w = chain.writable.write(mem, 0, bytes);
        if (!w || !q.add_used(mem, chain, static_cast<uint32_t>(n))) {
            host().needs_reset(w ? Error{"used ring update failed"} : w.error());
            return;
        }
        m_input.erase(m_input.begin(), m_input.begin() + static_cast<ptrdiff_t>(n));
        used = true;
    }
    if (used) host().signal_used(kConsoleReceiveQueue);
}

size_t Console::push_input(std::span<const uint8_t> bytes) {
    size_t taken = 0;
    host().with_lock([&] {
        taken = std::min(bytes.size(), kInputCapacity - m_input.size());
        m_input.insert(m_input.end(), bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(taken));
        deliver_input();
    });
    return taken;
}

}  // namespace popek::devices::virtio
