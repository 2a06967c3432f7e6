#pragma once
/// Results of PV operations: a value, or a positive errno that reaches the guest (as a negative
/// hypercall return, or by name on the xs_wire). Guest errors are data here, not popek::Error.
#include <expected>

#include "util/result.h"  // TRY / TRY_VOID work on any std::expected

namespace popek::pv {

template <class T>
using PvResult = std::expected<T, int>;

/// Returns the positive errno `err` as a failed PvResult.
inline std::unexpected<int> pv_error(int err) { return std::unexpected(err); }

/// Xen hypercall return value for a result: 0 (or the value) on success, -errno on failure.
inline long to_hypercall_return(const PvResult<void>& r) { return r ? 0 : -static_cast<long>(r.error()); }

}  // namespace popek::pv
