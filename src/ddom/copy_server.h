#pragma once
/// The VMM's half of a driver domain's grant copies: a GrantCopy message is carried out on the
/// guest's GrantTable *as the driver domain* (`grantee`), op by op, stopping at the first refusal,
/// exactly as pv::LocalGrantAccess does for popek's own back ends. Only pages the guest granted to
/// that domain, within the granted page, with the grant's access mode; the answer is the
/// GrantCopyResult datagram (the GNTST_* status and, when okay, the bytes read from the guest).
///
/// This is the only way a driver domain's bytes reach guest RAM (the process has none mapped), so
/// the own engine hears of them here: GrantTable::copy_to reports each copy (pv::RamWrites) before
/// the answer goes back and so before the blkif response is pushed and its event raised. A driver
/// domain given shared mappings instead would have to report its writes over its socket before
/// that event; calling its pages "data pages" would not be safe, since a guest may run code from
/// any page it granted (a blkif read of a program).
#include <cstdint>
#include <vector>

#include "ddom/ddom_wire.h"
#include "pv/grant_table.h"

namespace popek::ddom {

/// `copy` must be a parsed GrantCopy message.
std::vector<uint8_t> serve_copy(pv::GrantTable& grants, pv::DomId grantee, const Message& copy);

}  // namespace popek::ddom
