#pragma once
/// Error handling for popek: Result<T> = std::expected<T, Error>, no exceptions across the vCPU loop.
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <expected>
#include <string>
#if !defined(__cpp_lib_expected)
#include "util/expected_compat.h"  // clang 16 + libstdc++ 12 (fuzz builds): <expected> is empty there
#endif
#include <utility>

#include <fmt/format.h>

namespace popek {

/// What kind of failure an Error is. Code that decides on a failure switches on this, never on
/// the message (which is for people and may change).
enum class ErrorKind : uint8_t {
    Failed,      ///< nothing more specific to decide on (fail())
    Os,          ///< a system call failed: os_errno says which (fail_errno())
    Timeout,     ///< nothing arrived within the time allowed
    Closed,      ///< the peer closed its end
    Oversized,   ///< an input larger than allowed was consumed and refused; the source is still usable
};

struct Error {
    std::string message;
    int os_errno = 0;  ///< errno when the failure came from the OS, 0 otherwise
    ErrorKind kind = ErrorKind::Failed;
};

template <class T>
using Result = std::expected<T, Error>;

/// Builds an unexpected Error from a format string.
template <class... Args>
[[nodiscard]] std::unexpected<Error> fail(fmt::format_string<Args...> f, Args&&... args) {
    return std::unexpected(Error{fmt::format(f, std::forward<Args>(args)...), 0});
}

/// Builds an unexpected Error of a given kind from a format string.
template <class... Args>
[[nodiscard]] std::unexpected<Error> fail_as(ErrorKind kind, fmt::format_string<Args...> f, Args&&... args) {
    return std::unexpected(Error{fmt::format(f, std::forward<Args>(args)...), 0, kind});
}

/// Builds an unexpected Error from errno with a context prefix ("open /dev/kvm: No such file").
template <class... Args>
[[nodiscard]] std::unexpected<Error> fail_errno(fmt::format_string<Args...> f, Args&&... args) {
    int saved = errno;
    return std::unexpected(
        Error{fmt::format(f, std::forward<Args>(args)...) + ": " + std::strerror(saved), saved, ErrorKind::Os});
}

/// Adds context in front of an error message ("loading kernel: ...").
inline Error with_context(Error e, std::string_view context) {
    e.message = std::string(context) + ": " + e.message;
    return e;
}

}  // namespace popek

/// Propagates an error: `auto v = TRY(f());`. GNU statement expression (g++ and clang).
#define TRY(expr)                                                           \
    ({                                                                      \
        auto&& popek_try_result_ = (expr);                                  \
        if (!popek_try_result_) return std::unexpected(std::move(popek_try_result_).error()); \
        std::move(popek_try_result_).value();                              \
    })

/// Same for Result<void>.
#define TRY_VOID(expr)                                                      \
    do {                                                                    \
        auto&& popek_try_result_ = (expr);                                  \
        if (!popek_try_result_) return std::unexpected(std::move(popek_try_result_).error()); \
    } while (0)
