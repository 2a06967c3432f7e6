#include "auth/policy.h"

#include "common/string.h"
#include "lib/kprint.h"

namespace pos {
namespace {

constexpr size_t kMaxUsers = 16, kMaxRules = 64, kMaxPattern = 128;

struct Rule {
    int user;                 ///< index into the users, or -1 for any user ("*")
    bool any_action;
    Action action;
    char pattern[kMaxPattern];   ///< exact path, or a prefix ending in '*'
};

struct Policy {
    User users[kMaxUsers];
    size_t user_count = 0;
    Rule rules[kMaxRules];
    size_t rule_count = 0;
    int boot_user = -1;
};

Policy g_policy;
Policy g_parsing;   // parsed here first so a bad file leaves the old policy in force

/// Splits the next whitespace-separated word off `line` into `out[cap]`; false if none or too long.
bool next_word(const char*& line, const char* end, char* out, size_t cap) {
    while (line < end && (*line == ' ' || *line == '\t')) ++line;
    const char* start = line;
    while (line < end && *line != ' ' && *line != '\t') ++line;
    size_t n = static_cast<size_t>(line - start);
    if (n == 0 || n >= cap) return false;
    memcpy(out, start, n);
    out[n] = 0;
    return true;
}

int find_user(const Policy& p, const char* name) {
    for (size_t i = 0; i < p.user_count; ++i)
        if (strcmp(p.users[i].name, name) == 0) return static_cast<int>(i);
    return -1;
}

const char* parse_line(Policy& p, const char* line, const char* end) {
    char word[kMaxPattern], a1[kMaxPattern], a2[kMaxPattern], a3[kMaxPattern];
    if (!next_word(line, end, word, sizeof word) || word[0] == '#') return nullptr;   // blank/comment
    if (strcmp(word, "user") == 0) {
        if (!next_word(line, end, a1, sizeof a1) || !next_word(line, end, a2, sizeof a2))
            return "expected: user NAME PUBLIC-KEY-HEX";
        if (strlen(a1) >= sizeof p.users[0].name) return "user name too long";
        if (find_user(p, a1) >= 0) return "duplicate user";
        if (p.user_count == kMaxUsers) return "too many users";
        User& u = p.users[p.user_count];
        if (strlen(a2) != 64 || !parse_hex(a2, 64, u.public_key)) return "public key must be 64 hex digits";
        copy_string(u.name, sizeof u.name, a1);
        ++p.user_count;
    } else if (strcmp(word, "boot") == 0) {
        if (!next_word(line, end, a1, sizeof a1)) return "expected: boot NAME";
        p.boot_user = find_user(p, a1);
        if (p.boot_user < 0) return "boot user is not declared";
    } else if (strcmp(word, "allow") == 0) {
        if (!next_word(line, end, a1, sizeof a1) || !next_word(line, end, a2, sizeof a2) ||
            !next_word(line, end, a3, sizeof a3))
            return "expected: allow USER|* open|write|exec|any PATH[*] or allow USER|* connect|accept KEYHEX64|*";
        if (p.rule_count == kMaxRules) return "too many rules";
        Rule& r = p.rules[p.rule_count];
        r.user = strcmp(a1, "*") == 0 ? -1 : find_user(p, a1);
        if (r.user == -1 && strcmp(a1, "*") != 0) return "rule names an undeclared user";
        r.any_action = strcmp(a2, "any") == 0;
        if (strcmp(a2, "open") == 0) r.action = Action::Open;
        else if (strcmp(a2, "write") == 0) r.action = Action::Write;
        else if (strcmp(a2, "exec") == 0) r.action = Action::Exec;
        else if (strcmp(a2, "connect") == 0) r.action = Action::Connect;
        else if (strcmp(a2, "accept") == 0) r.action = Action::Accept;
        else if (!r.any_action) return "action must be open, write, exec, connect, accept or any";
        if (!r.any_action && (r.action == Action::Connect || r.action == Action::Accept)) {
            uint8_t key[32];
            if (strcmp(a3, "*") != 0 && (strlen(a3) != 64 || !parse_hex(a3, 64, key)))
                return "peer must be 64 hex digits or *";
        } else if (a3[0] != '/') {
            return "path must be absolute";
        }
        copy_string(r.pattern, sizeof r.pattern, a3);
        ++p.rule_count;
    } else {
        return "unknown keyword";
    }
    if (next_word(line, end, word, sizeof word) && word[0] != '#') return "trailing words";
    return nullptr;
}

bool pattern_matches(const char* pattern, const char* path) {
    size_t n = strlen(pattern);
    if (n > 0 && pattern[n - 1] == '*') return strnlen(path, n - 1) == n - 1 && memcmp(pattern, path, n - 1) == 0;
    return strcmp(pattern, path) == 0;
}

const char* action_name(Action a) {
    switch (a) {
        case Action::Open: return "open";
        case Action::Write: return "write";
        case Action::Exec: return "exec";
        case Action::Connect: return "connect";
        case Action::Accept: return "accept";
    }
    return "?";
}

}  // namespace

bool policy_load(const char* text, size_t len, int* error_line, const char** reason) {
    Policy& p = g_parsing;
    p.user_count = p.rule_count = 0;
    p.boot_user = -1;
    const char* end = text + len;
    int line_no = 0;
    for (const char* line = text; line < end;) {
        ++line_no;
        const char* eol = line;
        while (eol < end && *eol != '\n') ++eol;
        if (const char* err = parse_line(p, line, eol)) {
            *error_line = line_no;
            *reason = err;
            return false;
        }
        line = eol + 1;
    }
    g_policy = p;
    return true;
}

const User* policy_boot_user() { return g_policy.boot_user >= 0 ? &g_policy.users[g_policy.boot_user] : nullptr; }
size_t policy_user_count() { return g_policy.user_count; }
size_t policy_rule_count() { return g_policy.rule_count; }
const User* policy_find_user(const char* name) {
    int i = find_user(g_policy, name);
    return i >= 0 ? &g_policy.users[i] : nullptr;
}

bool policy_has_rule(const User* user, Action action) {
    if (user == nullptr) return false;
    int uid = static_cast<int>(user - g_policy.users);
    for (size_t i = 0; i < g_policy.rule_count; ++i) {
        const Rule& r = g_policy.rules[i];
        if ((r.user == -1 || r.user == uid) && !r.any_action && r.action == action) return true;
    }
    return false;
}

bool authorize(const User* user, Action action, const char* object) {
    const char* reason = "no rule allows it (default deny)";
    if (user == nullptr) {
        reason = "process has no user";
    } else {
        int uid = static_cast<int>(user - g_policy.users);
        for (size_t i = 0; i < g_policy.rule_count; ++i) {
            const Rule& r = g_policy.rules[i];
            if ((r.user == -1 || r.user == uid) && (r.any_action || r.action == action) &&
                pattern_matches(r.pattern, object))
                return true;
        }
    }
    kprintf("denied: user=%s action=%s object=%s reason=%s\n", user != nullptr ? user->name : "?",
            action_name(action), object, reason);
    return false;
}

}  // namespace pos
