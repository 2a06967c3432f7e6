#pragma once
/// Authorization: users are public keys; every file open and program start is checked against
/// the policy file packed in the boot image (/etc/policy, syntax in docs/guest-os.md).
/// Default deny; every denial is logged as
///   denied: user=<name> action=<open|write|exec|connect|accept> object=<path|key> reason=<...>
#include <stddef.h>
#include <stdint.h>

namespace pos {

struct User {
    char name[32];
    uint8_t public_key[32];   ///< Ed25519/X25519 public key: the user's identity
};

/// Open/Write/Exec name a path; Connect/Accept a peer's public key in hex (net_open).
enum class Action { Open, Write, Exec, Connect, Accept };

/// Parses the policy text. On error returns false with the line number and reason; the
/// previous policy (initially: nothing allowed, no users) stays in force.
bool policy_load(const char* text, size_t len, int* error_line, const char** reason);
/// The user the first process runs as (`boot NAME`), or nullptr.
const User* policy_boot_user();
size_t policy_user_count();
size_t policy_rule_count();
/// The declared user `name`, or nullptr.
const User* policy_find_user(const char* name);

/// True when some rule names `action` for `user` (or `*`), whatever its object: an accept-any
/// channel may be opened then, and each peer is authorized as its messages arrive.
bool policy_has_rule(const User* user, Action action);
/// True when a rule allows `user` to do `action` on `object`; logs the denial otherwise.
bool authorize(const User* user, Action action, const char* object);

}  // namespace pos
