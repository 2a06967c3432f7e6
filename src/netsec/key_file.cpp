#include "netsec/key_file.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fd.h"

namespace popek::netsec {
namespace {

constexpr size_t kHexDigits = 2 * kKeyBytes;

/// Exactly 64 hex digits (surrounding whitespace allowed) into 32 bytes.
bool hex_to_key(std::string_view text, uint8_t out[kKeyBytes]) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\n' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\n' || text.back() == '\r' || text.back() == '\t'))
        text.remove_suffix(1);
    if (text.size() != kHexDigits) return false;
    size_t bin_len = 0;
    const char* end = nullptr;
    return sodium_hex2bin(out, kKeyBytes, text.data(), text.size(), nullptr, &bin_len, &end) == 0 &&
           bin_len == kKeyBytes && end == text.data() + text.size();
}

}  // namespace

std::string to_hex(const uint8_t* bytes, size_t len) {
    std::string hex(2 * len + 1, '\0');
    sodium_bin2hex(hex.data(), hex.size(), bytes, len);
    hex.pop_back();
    return hex;
}

Result<PublicKey> parse_public_key(std::string_view text) {
    if (sodium_init() < 0) return fail("libsodium failed to initialize");
    PublicKey key{};
    if (!hex_to_key(text, key.data()))
        return fail("public key '{}' is not {} hex digits", text, kHexDigits);
    if (sodium_is_zero(key.data(), key.size())) return fail("public key '{}' is all zero", text);
    return key;
}

Result<Identity> generate_key_file(const std::string& path) {
    Identity id{};
    if (!identity_generate(id)) return fail("libsodium failed to initialize");
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return fail_errno("key file '{}'", path);
    UniqueFd owner(fd);
    std::string text = to_hex(id.secret_key, kKeyBytes) + "\n";
    bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    sodium_memzero(text.data(), text.size());
    if (!ok) {
        ::unlink(path.c_str());
        return fail_errno("writing key file '{}'", path);
    }
    return id;
}

Result<Identity> read_key_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail_errno("key file '{}'", path);
    UniqueFd owner(fd);
    struct stat st{};
    if (::fstat(fd, &st) != 0) return fail_errno("key file '{}'", path);
    if (!S_ISREG(st.st_mode)) return fail("key file '{}' is not a regular file", path);
    if (st.st_mode & 077)
        return fail("key file '{}' may be read by others (mode {:04o}); chmod 600 it", path, st.st_mode & 07777);
    char buf[128];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) return fail_errno("reading key file '{}'", path);
    uint8_t secret[kKeyBytes];
    bool ok = hex_to_key(std::string_view(buf, static_cast<size_t>(n)), secret);
    sodium_memzero(buf, sizeof buf);
    if (!ok) return fail("key file '{}' is not a popek net key ({} hex digits expected)", path, kHexDigits);
    Identity id{};
    ok = identity_from_secret(id, secret);
    sodium_memzero(secret, sizeof secret);
    if (!ok) return fail("key file '{}': libsodium failed", path);
    return id;
}

}  // namespace popek::netsec
