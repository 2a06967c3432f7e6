#pragma once
/// `popek backend`: the driver domain process. It is started by `popek run --xen --driver-domain`
/// (ddom::RemoteBlkif::spawn) with its socket and the already opened disk as inherited
/// descriptors, closes everything else, confines itself (ddom/sandbox.h) and then serves
/// BlkifRequests with the same pv::BlkifHandler popek uses in-process, reaching guest data only
/// through ddom::RemoteGrantAccess. It ends when the VMM closes the socket.
#include "pv/xen_abi.h"

namespace popek::ddom {

struct BackendOptions {
    int socket_fd = -1;
    int disk_fd = -1;
    bool read_only = false;
    pv::DomId domid = 2;
    bool sandbox = true;  ///< false only for debugging (`--no-sandbox`)
};

/// Runs the driver domain; returns the process exit status.
int run_backend(const BackendOptions& options);

}  // namespace popek::ddom
