#include "vmm/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/fd.h"
#include "util/huge_mapping.h"

namespace popek::vmm {

Result<InputFile> read_input_file(const std::string& path, std::string_view what, uint64_t max_bytes) {
    // O_NONBLOCK: opening a FIFO without a writer must not block (it is refused below).
    const int raw = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (raw < 0) return fail("cannot read {} '{}': {}", what, path, std::strerror(errno));
    UniqueFd fd(raw);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return fail("cannot read {} '{}': {}", what, path, std::strerror(errno));
    if (S_ISDIR(st.st_mode)) return fail("{} '{}' is a directory, not a file", what, path);
    if (!S_ISREG(st.st_mode)) return fail("{} '{}' is not a regular file (a device, FIFO or socket)", what, path);
    const auto size = static_cast<uint64_t>(st.st_size);
    if (size == 0) return fail("{} '{}' is empty", what, path);
    if (size > max_bytes)
        return fail("{} '{}' is {} MiB, more than fits ({} MiB; raise --mem?)", what, path, (size + (1 << 20) - 1) >> 20,
                    max_bytes >> 20);
    InputFile file{TRY(map_huge_anonymous(static_cast<size_t>(size), "the file's bytes", true)), static_cast<size_t>(size)};
    auto* const buffer = static_cast<uint8_t*>(file.data.get());
    size_t done = 0;
    while (done < file.size) {
        const ssize_t n = ::pread(fd.get(), buffer + done, file.size - done, static_cast<off_t>(done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail("cannot read {} '{}': {}", what, path, std::strerror(errno));
        if (n == 0) return fail("{} '{}' shrank while being read", what, path);
        done += static_cast<size_t>(n);
    }
    return file;
}

}  // namespace popek::vmm
