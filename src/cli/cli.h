#pragma once
/// popek's command line: parses argv into an action (run a VM, net-peer, help, version) or a usage error.
#include <string>
#include <vector>

#include "ddom/backend_main.h"
#include "host/privilege_drop.h"
#include "netsec/net_peer.h"
#include "vmm/vm_options.h"

namespace popek::cli {

struct Parsed {
    enum Action { Run, NetPeer, Backend, DiskInspect, Exit } action = Run;
    int exit_status = 0;         ///< for Exit: 0 after --help/--version, 2 on a usage error
    std::string message;         ///< text to print for Exit (stdout when status 0, stderr otherwise)
    vmm::VmOptions options;
    /// `--api-sock PATH`: serve Firecracker's API there (src/api/, docs/api.md).
    std::string api_sock;
    /// `popek run`: each thread under its seccomp allow-list (host/thread_confinement.h); --no-seccomp: off.
    bool seccomp = true;
    /// `popek run --uid UID --gid GID --chroot DIR` (host/privilege_drop.h); main() fills in
    /// the api_sock, gdb_unix and net_dgram fields from the run's other options.
    host::PrivilegeDrop privileges;
    /// The VM is described (--kernel or --config-file): with --api-sock popek boots it at once;
    /// without, it waits for InstanceStart (Firecracker's behaviour). Without --api-sock an
    /// undescribed VM is the built-in demo guest.
    bool vm_described = false;
    netsec::NetPeerOptions net_peer;   ///< for NetPeer
    ddom::BackendOptions backend;      ///< for Backend (`popek backend`, started by popek itself)
    std::string disk_image;            ///< for DiskInspect (`popek disk-inspect IMG`)
};

Parsed parse(const std::vector<std::string>& args);

/// `FILE[,ro]` of --disk; an error names what is wrong.
Result<vmm::DiskOption> parse_disk(const std::string& spec);
/// `DIR[,ro]` of --share.
Result<vmm::ShareOption> parse_share(const std::string& spec);
/// `user`, `tap=NAME` or `dgram=LOCAL,REMOTE` of --net.
Result<vmm::NetOption> parse_net(const std::string& spec);

}  // namespace popek::cli
