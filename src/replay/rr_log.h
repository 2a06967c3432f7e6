#pragma once
/// The record/replay log (`popek run --record FILE`, `--replay FILE`; docs/record-replay.md):
/// a versioned header naming the VM it was recorded on, then events keyed by the vCPU's retired
/// instruction count. Little-endian throughout.
///
///   header:  "POPEKRR\0" (8 bytes), u32 version (kVersion), u32 config length (<= 64 KiB), config text
///   event:   u8 type, u64 instruction count, then by type:
///     Exit    u64 rip, u8 kind, u64 port or gpa, u32 size, u64 register checksum
///     Read    u32 length (<= 64 KiB), the bytes the VMM answered the exit before with
///     Random  u8 length (1..8), u8 delivered (0/1), the bytes
///     Input   u64 idle number (the how-manieth time the halted vCPU asked for time), u32
///             length (1..4096), console bytes fed to the guest at that halt
///     Dma     u64 gpa, u32 length (1..64 KiB), the bytes a back end wrote into guest RAM during
///             the exit before (read after it; a replay writes them back instead of the host's)
///     Frame   u64 idle number, u8 NIC, u32 length (1..64 KiB), a network frame delivered to the
///             guest's NIC at that halt
///     Share   u32 gathered, u32 scattered, u32 length (1..256): the answer (a popekfs_response)
///             the host directory gave one popekfs request (`--share`), how many data bytes the
///             back end read from the guest's granted pages for it and how many it copied into
///             them (those bytes are in the Dma events after)
///     End     (its count: the last instruction) u32 exit status, 32-byte hash of guest RAM,
///             32-byte hash of the serial output; nothing may follow it
///
/// The reader treats the file as hostile: every length is bounded before it is used, and a
/// truncated or malformed log is one clear error naming the byte offset.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "util/fd.h"
#include "util/result.h"

namespace popek::replay {

inline constexpr std::array<uint8_t, 8> kMagic{'P', 'O', 'P', 'E', 'K', 'R', 'R', 0};
/// 2: deterministic poll points (emu::Cpu::schedule); 3: End's memory hash skips zero pages
/// (replay/memory_hash.h); 4: Dma events (back ends' guest RAM writes), Frame events; 5: Share
/// events (a version 4 log is read too: it has none).
inline constexpr uint32_t kVersion = 5;
inline constexpr uint32_t kMinVersion = 4;
inline constexpr uint32_t kMaxConfig = 64 * 1024;
inline constexpr uint32_t kMaxRead = 64 * 1024;
inline constexpr uint32_t kMaxInput = 4096;
inline constexpr uint32_t kMaxDma = 64 * 1024;   ///< a longer write is logged as several Dma events
inline constexpr uint32_t kMaxFrame = 64 * 1024;
inline constexpr uint32_t kMaxShareAnswer = 256;

enum class EventType : uint8_t { Exit = 1, Read = 2, Random = 3, Input = 4, End = 5, Dma = 6, Frame = 7, Share = 8 };

/// Which exit an Exit event is (hv::VcpuExit's alternatives that reach the VMM).
enum class ExitKind : uint8_t { PioIn = 1, PioOut = 2, MmioRead = 3, MmioWrite = 4, Hypercall = 5, Other = 6 };

using Hash = std::array<uint8_t, 32>;

struct Event {
    EventType type = EventType::Exit;
    uint64_t icount = 0;
    // Exit
    uint64_t rip = 0;
    ExitKind kind = ExitKind::Other;
    uint64_t addr = 0;
    uint32_t size = 0;        ///< Exit: the access's size; Share: the data bytes scattered
    uint32_t gathered = 0;    ///< Share: the data bytes read from the guest's pages
    uint64_t checksum = 0;
    // Read, Random, Input, Dma, Frame, Share
    std::vector<uint8_t> bytes;
    bool delivered = false;   ///< Random
    uint64_t idle = 0;        ///< Input, Frame
    uint8_t nic = 0;          ///< Frame: which --net (0, 1, ...)
    uint64_t gpa = 0;         ///< Dma: where `bytes` go in guest RAM
    // End
    uint32_t status = 0;
    Hash memory{};
    Hash serial{};
};

/// Buffered, RAII: the file is flushed and closed by finish() (errors reported) or the destructor.
class LogWriter {
public:
    /// Creates (truncates) `path` and writes the header.
    static Result<LogWriter> create(const std::string& path, std::string_view config);
    LogWriter(LogWriter&&) noexcept = default;
    LogWriter& operator=(LogWriter&&) noexcept = default;
    ~LogWriter();

    void write(const Event& e);
    /// Flushes; the first write error since creation, if any.
    Result<void> finish();
    uint64_t bytes_written() const { return m_total; }

private:
    LogWriter() = default;
    void put(const void* p, size_t n);
    void flush();
    UniqueFd m_fd;
    std::vector<uint8_t> m_buf;
    uint64_t m_total = 0;
    int m_errno = 0;
};

/// Parses a whole log held in memory.
class LogReader {
public:
    /// Checks the header; events are parsed one by one by next().
    static Result<LogReader> open(std::vector<uint8_t> bytes);
    static Result<LogReader> open_file(const std::string& path);
    const std::string& config() const { return m_config; }
    /// The next event, nullopt after the End event (or at the end of a log whose recording was
    /// cut short: then ended() is false); an error for a malformed event.
    Result<std::optional<Event>> next();
    bool ended() const { return m_ended; }
    size_t offset() const { return m_pos; }
    /// Goes back to a position offset() returned (reverse execution rewinds the log with the VM).
    void seek(size_t offset, bool ended) {
        m_pos = std::min(offset, m_bytes.size());
        m_ended = ended;
    }

private:
    LogReader() = default;
    bool take(void* out, size_t n);
    std::vector<uint8_t> m_bytes;
    size_t m_pos = 0;
    std::string m_config;
    uint32_t m_version = kVersion;
    bool m_ended = false;
};

}  // namespace popek::replay
