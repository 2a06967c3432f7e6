#pragma once
/// Host side of secure-net identities: hex public keys on the command line and secret key files
/// (`popek net-peer --gen-key FILE`). A key file holds the 64 hex digits of the X25519 secret key
/// and a newline; it is created mode 0600 and refused when others may read it.
#include <array>
#include <string>
#include <string_view>

#include "netsec/endpoint.h"
#include "util/result.h"

namespace popek::netsec {

using PublicKey = std::array<uint8_t, kKeyBytes>;

std::string to_hex(const uint8_t* bytes, size_t len);
/// A public key from 64 hex digits; the error says what is wrong with `text`.
Result<PublicKey> parse_public_key(std::string_view text);
/// Writes a new identity to `path` (which must not exist yet).
Result<Identity> generate_key_file(const std::string& path);
Result<Identity> read_key_file(const std::string& path);

}  // namespace popek::netsec
