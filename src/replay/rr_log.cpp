#include "replay/rr_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace popek::replay {
namespace {

constexpr size_t kBufferBytes = 64 * 1024;
constexpr uint64_t kMaxLogBytes = uint64_t{1} << 34;   ///< 16 GiB: more is refused before reading

template <class T>
void append_le(std::vector<uint8_t>& out, T v) {
    for (size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<uint8_t>(static_cast<uint64_t>(v) >> (8 * i)));
}

}  // namespace

// ---- writer ----

Result<LogWriter> LogWriter::create(const std::string& path, std::string_view config) {
    if (config.size() > kMaxConfig) return fail("--record: the VM description is too long for the log ({} bytes)", config.size());
    LogWriter w;
    w.m_fd = UniqueFd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (w.m_fd.get() < 0) return fail_errno("--record: cannot create '{}'", path);
    w.m_buf.reserve(kBufferBytes + kMaxRead + 64);
    w.put(kMagic.data(), kMagic.size());
    std::vector<uint8_t> head;
    append_le<uint32_t>(head, kVersion);
    append_le<uint32_t>(head, static_cast<uint32_t>(config.size()));
    w.put(head.data(), head.size());
    w.put(config.data(), config.size());
    return w;
}

LogWriter::~LogWriter() {
    if (m_fd.get() >= 0) flush();
}

void LogWriter::put(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    m_buf.insert(m_buf.end(), b, b + n);
    m_total += n;
}

void LogWriter::flush() {
    size_t off = 0;
    while (off < m_buf.size() && m_errno == 0) {
        ssize_t n = ::write(m_fd.get(), m_buf.data() + off, m_buf.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            m_errno = errno;
            break;
        }
        off += static_cast<size_t>(n);
    }
    m_buf.clear();
}

void LogWriter::write(const Event& e) {
    std::vector<uint8_t> rec;
    rec.reserve(48 + e.bytes.size());
    rec.push_back(static_cast<uint8_t>(e.type));
    append_le<uint64_t>(rec, e.icount);
    switch (e.type) {
        case EventType::Exit:
            append_le<uint64_t>(rec, e.rip);
            rec.push_back(static_cast<uint8_t>(e.kind));
            append_le<uint64_t>(rec, e.addr);
            append_le<uint32_t>(rec, e.size);
            append_le<uint64_t>(rec, e.checksum);
            break;
        case EventType::Frame:
        case EventType::Input:
            append_le<uint64_t>(rec, e.idle);
            if (e.type == EventType::Frame) rec.push_back(e.nic);
            [[fallthrough]];
        case EventType::Dma:
        case EventType::Share:
            if (e.type == EventType::Dma) append_le<uint64_t>(rec, e.gpa);
            if (e.type == EventType::Share) {
                append_le<uint32_t>(rec, e.gathered);
                append_le<uint32_t>(rec, e.size);
            }
            [[fallthrough]];
        case EventType::Read:
            append_le<uint32_t>(rec, static_cast<uint32_t>(e.bytes.size()));
            rec.insert(rec.end(), e.bytes.begin(), e.bytes.end());
            break;
        case EventType::Random:
            rec.push_back(static_cast<uint8_t>(e.bytes.size()));
            rec.push_back(e.delivered ? 1 : 0);
            rec.insert(rec.end(), e.bytes.begin(), e.bytes.end());
            break;
        case EventType::End:
            append_le<uint32_t>(rec, e.status);
            rec.insert(rec.end(), e.memory.begin(), e.memory.end());
            rec.insert(rec.end(), e.serial.begin(), e.serial.end());
            break;
    }
    put(rec.data(), rec.size());
    if (m_buf.size() >= kBufferBytes) flush();
}

Result<void> LogWriter::finish() {
    flush();
    // No fdatasync: the log is complete once written (a power loss is not what it guards
    // against), and a sync under other disk load cost seconds at the end of short runs.
    m_fd.reset();
    if (m_errno != 0) return fail("--record: writing the log failed: {}", std::strerror(m_errno));
    return {};
}

// ---- reader ----

Result<LogReader> LogReader::open_file(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return fail_errno("--replay: cannot open '{}'", path);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return fail_errno("--replay: '{}'", path);
    if (!S_ISREG(st.st_mode)) return fail("--replay: '{}' is not a regular file", path);
    if (static_cast<uint64_t>(st.st_size) > kMaxLogBytes) return fail("--replay: '{}' is larger than 16 GiB", path);
    std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < bytes.size()) {
        ssize_t n = ::read(fd.get(), bytes.data() + got, bytes.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail_errno("--replay: reading '{}'", path);
        if (n == 0) break;
        got += static_cast<size_t>(n);
    }
    bytes.resize(got);
    auto r = open(std::move(bytes));
    if (!r) return std::unexpected(with_context(r.error(), fmt::format("--replay '{}'", path)));
    return r;
}

bool LogReader::take(void* out, size_t n) {
    if (n > m_bytes.size() - m_pos) return false;
    if (n == 0) return true;   // an empty field: `out` and the bytes may be null (memcpy's UB)
    std::memcpy(out, m_bytes.data() + m_pos, n);
    m_pos += n;
    return true;
}

Result<LogReader> LogReader::open(std::vector<uint8_t> bytes) {
    LogReader r;
    r.m_bytes = std::move(bytes);
    std::array<uint8_t, 8> magic{};
    if (!r.take(magic.data(), magic.size()) || magic != kMagic) return fail("not a popek record/replay log (bad magic)");
    uint8_t head[8];
    if (!r.take(head, sizeof head)) return fail("log truncated in its header");
    const uint32_t version = uint32_t{head[0]} | uint32_t{head[1]} << 8 | uint32_t{head[2]} << 16 | uint32_t{head[3]} << 24;
    const uint32_t len = uint32_t{head[4]} | uint32_t{head[5]} << 8 | uint32_t{head[6]} << 16 | uint32_t{head[7]} << 24;
    if (version < kMinVersion || version > kVersion)
        return fail("log version {} is not supported (this popek reads versions {} to {}: record the run again)", version,
                    kMinVersion, kVersion);
    r.m_version = version;
    if (len > kMaxConfig) return fail("log header: VM description of {} bytes (at most {})", len, kMaxConfig);
    r.m_config.resize(len);
    if (!r.take(r.m_config.data(), len)) return fail("log truncated in its VM description");
    return r;
}

Result<std::optional<Event>> LogReader::next() {
    if (m_ended) return std::optional<Event>{};
    const size_t start = m_pos;
    auto u = [this](auto& v) {
        uint8_t b[sizeof(v)];
        if (!take(b, sizeof b)) return false;
        using T = std::remove_reference_t<decltype(v)>;
        uint64_t x = 0;
        for (size_t i = 0; i < sizeof b; ++i) x |= uint64_t{b[i]} << (8 * i);
        v = static_cast<T>(x);
        return true;
    };
    auto truncated = [start] { return fail("log truncated in the event at byte {}", start); };
    if (m_pos == m_bytes.size()) return fail("log ends at byte {} without its End event (the recording was cut short)", start);
    Event e;
    uint8_t type = 0;
    if (!u(type) || !u(e.icount)) return truncated();
    switch (type) {
        case static_cast<uint8_t>(EventType::Exit): {
            uint8_t kind = 0;
            if (!u(e.rip) || !u(kind) || !u(e.addr) || !u(e.size) || !u(e.checksum)) return truncated();
            if (kind < 1 || kind > 6) return fail("log event at byte {}: exit kind {} does not exist", start, kind);
            e.kind = static_cast<ExitKind>(kind);
            break;
        }
        case static_cast<uint8_t>(EventType::Read):
        case static_cast<uint8_t>(EventType::Input):
        case static_cast<uint8_t>(EventType::Dma):
        case static_cast<uint8_t>(EventType::Frame):
        case static_cast<uint8_t>(EventType::Share): {
            uint32_t len = 0;
            const bool share = type == static_cast<uint8_t>(EventType::Share);
            if (share && m_version < 5) return fail("log event at byte {}: unknown type {}", start, type);
            if (share && (!u(e.gathered) || !u(e.size))) return truncated();
            const bool read = type == static_cast<uint8_t>(EventType::Read);
            const bool frame = type == static_cast<uint8_t>(EventType::Frame);
            if ((type == static_cast<uint8_t>(EventType::Input) || frame) && !u(e.idle)) return truncated();
            if (frame && !u(e.nic)) return truncated();
            if (type == static_cast<uint8_t>(EventType::Dma) && !u(e.gpa)) return truncated();
            if (!u(len)) return truncated();
            const uint32_t max = read ? kMaxRead
                                 : type == static_cast<uint8_t>(EventType::Input) ? kMaxInput
                                 : frame ? kMaxFrame
                                 : share ? kMaxShareAnswer
                                         : kMaxDma;
            if (len > max || (!read && len == 0))
                return fail("log event at byte {}: {} bytes of data (1 to {} allowed)", start, len, max);
            e.bytes.resize(len);
            if (!take(e.bytes.data(), len)) return truncated();
            break;
        }
        case static_cast<uint8_t>(EventType::Random): {
            uint8_t len = 0, delivered = 0;
            if (!u(len) || !u(delivered)) return truncated();
            if (len < 1 || len > 8 || delivered > 1) return fail("log event at byte {}: bad random value", start);
            e.delivered = delivered != 0;
            e.bytes.resize(len);
            if (!take(e.bytes.data(), len)) return truncated();
            break;
        }
        case static_cast<uint8_t>(EventType::End):
            if (!u(e.status) || !take(e.memory.data(), e.memory.size()) || !take(e.serial.data(), e.serial.size()))
                return truncated();
            if (m_pos != m_bytes.size()) return fail("log has {} bytes after its End event", m_bytes.size() - m_pos);
            m_ended = true;
            break;
        default:
            return fail("log event at byte {}: unknown type {}", start, type);
    }
    e.type = static_cast<EventType>(type);
    return std::optional<Event>{std::move(e)};
}

}  // namespace popek::replay
