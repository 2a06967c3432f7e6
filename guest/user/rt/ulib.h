#pragma once
/// The user runtime: formatted output to the console, error strings.
#include <stddef.h>

#include "common/format.h"
#include "common/string.h"
#include "sys.h"

namespace pos {

void print(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void write_str(const char* s);
const char* error_string(long err);   ///< err: a negative POS_E* value
/// What a failed net_open means to the user (policy denial, no network, ...).
const char* net_open_error(long err);

}  // namespace pos
