#pragma once
/// Where Firecracker-style metrics and log lines go (docs/metrics.md): one line appended to a file
/// per record, the file opened for each (O_APPEND, created if absent, never blocking on a FIFO
/// without a reader), as Firecracker's metrics_path and log_path are written.
#include <cstdint>
#include <string>

namespace popek::api {

/// Milliseconds since the Unix epoch (the records' `utc_timestamp_ms`).
uint64_t unix_ms();
/// Appends `line` and a newline to `path`; false when it cannot (empty path included).
bool append_line(const std::string& path, const std::string& line);

}  // namespace popek::api
