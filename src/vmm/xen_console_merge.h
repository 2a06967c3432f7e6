#pragma once
/// A --xen guest's two consoles on popek's one output. Xen prints CONSOLEIO_write text on its own
/// console (the hypervisor log, `xl dmesg`) and the console ring on the guest's console
/// (`xl console`); popek shows both on stdout. A guest that writes each line to both, as XTF's
/// printk does (hypercall first, then the ring), would show every line twice, so text that repeats
/// byte for byte what the other console printed and is not yet matched is dropped.
///
/// The other console's recent writes are kept in order. Text that arrives is matched against them
/// from a write boundary on, the newest boundary first: a repeat starts where one of those writes
/// started (writes without a repeat, such as a hypercall-only message, are skipped over), and a
/// repeat may come in pieces (the ring is read as it fills).
#include <cstddef>
#include <deque>
#include <functional>
#include <string>
#include <string_view>

namespace popek::vmm {

class XenConsoleMerge {
public:
    enum class Source { Hypercall, Ring };
    using Out = std::function<void(std::string_view)>;
    /// How much unmatched output of one console is remembered (XTF's printk buffer is 2 KiB).
    static constexpr size_t kMaxPending = 4096;

    explicit XenConsoleMerge(Out out) : m_out(std::move(out)) {}

    /// Prints `text` from `from`, minus the part that repeats the other console's pending output.
    /// Not thread-safe: the caller serialises (XenPlatform's merge lock).
    void write(Source from, std::string_view text);

private:
    /// Bytes of `text` that repeat the pending writes from boundary `first` on.
    size_t common_prefix(size_t first, std::string_view text) const;
    size_t pending_bytes(size_t first) const;
    /// Drops the writes before `first` and then `n` bytes.
    void consume(size_t first, size_t n);
    void remember(Source from, std::string_view text);

    Out m_out;
    Source m_pending_from = Source::Hypercall;
    std::deque<std::string> m_pending;   ///< writes of m_pending_from not yet seen from the other console
};

}  // namespace popek::vmm
