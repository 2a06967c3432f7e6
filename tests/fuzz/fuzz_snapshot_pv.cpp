// libFuzzer target: the snapshot sections fuzz_snapshot does not reach, fed to their decoders
// directly (docs/snapshot.md "Xen guests", "VIRT"): EVTC (EventChannels::load), GNTT
// (GrantTable::load, v1 and v2), XSTR (PvDomain::load_store: the XenStore tree, watches,
// transactions, the guest's store session), the domain part of XEN (PvDomain::load_domain: HVM
// parameters, upcall vectors, console), XDEV (XenbusBackend::load of a connected vbd: its ring
// mapping, dom0 port and BlkifBackend ring indices), SHRE (the popekfs device of --share: its
// connection, ring indices and handle table, each open handle reopened by its path beneath a
// scratch directory) and VIRT (MmioTransport::load with its
// virtqueues, on a virtio-rng).
//
// Input: byte 0 picks the section, the rest is its payload. The other Xen sections come from a
// valid snapshot of a domain whose vbd front end is connected (made once, by the real encoders),
// loaded in XenPlatform::load_state's order into a fresh domain built the same way, with the
// fuzzed payload in place of one of them. Whatever the bytes: a clear rejection or a state the
// model then runs on without harm (sends, unmasks and VIRQs on every port, grant maps and copies,
// store reads, the vbd's ring and the popekfs ring serviced (reads and stats on every handle), a
// virtqueue notified) under ASan and UBSan.
// fuzz-sources: src/pv/event_channels.cpp src/pv/event_channel_ops.cpp src/pv/event_channels_snapshot.cpp src/pv/grant_table.cpp src/pv/grant_table_snapshot.cpp src/pv/grant_table_version.cpp src/pv/grant_access.cpp src/pv/pv_domain.cpp src/pv/pv_domain_snapshot.cpp src/pv/store_connection.cpp src/pv/store_connection_snapshot.cpp src/pv/store_ring.cpp src/pv/store_wire.cpp src/pv/store/*.cpp src/pv/backends/console_backend.cpp src/pv/backends/xenbus_backend.cpp src/pv/backends/xenbus_backend_snapshot.cpp src/pv/backends/ring_device.cpp src/pv/backends/vbd_device.cpp src/pv/backends/vif_device.cpp src/pv/backends/blkif_backend.cpp src/pv/backends/blkif_handler.cpp src/pv/backends/netif_backend.cpp src/pv/backends/netif_backend_snapshot.cpp src/pv/backends/share_device.cpp src/pv/backends/share_backend.cpp src/pv/backends/share_backend_snapshot.cpp src/pv/backends/share_dir.cpp src/host/block_file.cpp src/memory/guest_memory.cpp src/util/huge_mapping.cpp src/devices/virtio/mmio_transport.cpp src/devices/virtio/virtio_snapshot.cpp src/devices/virtio/queue.cpp src/devices/virtio/chain.cpp src/devices/virtio/device.cpp src/devices/virtio/entropy.cpp src/devices/virtio/guest_error.cpp
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "devices/virtio/entropy.h"
#include "devices/virtio/mmio_transport.h"
#include "pv/backends/share_device.h"
#include "pv/backends/vbd_device.h"
#include "pv/backends/vif_device.h"
#include "pv/pv_domain.h"
#include "snapshot/snap_codec.h"

using namespace popek;
using namespace popek::pv;

namespace {

constexpr uint64_t kRam = 1 << 20;
constexpr uint64_t kSharedPfn = 0x10, kStorePfn = 0x11, kTablePfn = 0x12, kRingPfn = 0x13, kDataPfn = 0x14;
constexpr uint64_t kTxPfn = 0x20, kRxPfn = 0x21, kPacketPfn = 0x22;
constexpr uint64_t kShareRingPfn = 0x30, kShareDataPfn = 0x31;
constexpr grant_ref_t kRingRef = 8, kDataRef = 9, kTxRef = 10, kRxRef = 11, kPacketRef = 12, kShareRingRef = 13,
                      kShareDataRef = 14;
constexpr const char* kFrontend = "/local/domain/1/device/vbd/51712";

/// The fuzzed section, byte 0 of the input.
enum Part : uint8_t { kEvtc, kGntt, kXstr, kXdom, kXdev, kXvif, kVirt, kShre, kParts };

/// A 32 KiB disk in an unlinked file, opened again through /proc for every vbd.
const std::string& disk_path() {
    static const std::string path = [] {
        char tmpl[] = "/tmp/popek-fuzz-snapshot-pv-XXXXXX";
        const int fd = ::mkstemp(tmpl);
        std::vector<uint8_t> data(64 * 512, 0x5a);
        if (fd < 0 || ::write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size())) __builtin_trap();
        ::unlink(tmpl);
        return "/proc/self/fd/" + std::to_string(fd);
    }();
    return path;
}

/// The --share directory: a file and a subdirectory (read, never written: the fuzzer only reads).
const std::string& share_path() {
    static const std::string path = [] {
        char tmpl[] = "/tmp/popek-fuzz-snapshot-share-XXXXXX";
        if (!::mkdtemp(tmpl)) __builtin_trap();
        const std::string dir = tmpl;
        if (::mkdir((dir + "/sub").c_str(), 0755) != 0) __builtin_trap();
        const int fd = ::open((dir + "/sub/f").c_str(), O_WRONLY | O_CREAT, 0644);
        if (fd < 0 || ::write(fd, "popekfs", 7) != 7) __builtin_trap();
        ::close(fd);
        return dir;
    }();
    return path;
}

/// A domain with a vbd, built as XenPlatform builds it (store ring connected, vbd attached).
struct Domain {
    memory::GuestMemory mem = memory::GuestMemory::create(kRam).value();
    PvDomain dom{mem, PvDomainConfig{}, {}};
    std::unique_ptr<VbdDevice> vbd;
    std::unique_ptr<VifDevice> vif;
    std::unique_ptr<ShareDevice> share;

    Domain() {
        if (!dom.connect_store(kStorePfn)) __builtin_trap();
        vbd = std::make_unique<VbdDevice>(dom, host::BlockFile::open(disk_path(), false).value());
        if (!vbd->attach()) __builtin_trap();
        vif = std::make_unique<VifDevice>(dom, VifDevice::Mac{0, 0x16, 0x3e, 1, 2, 3}, [](std::span<const uint8_t>) {});
        if (!vif->attach()) __builtin_trap();
        share = std::make_unique<ShareDevice>(dom, ShareDir::open(share_path(), false).value());
        if (!share->attach()) __builtin_trap();
    }
    uint8_t* page(uint64_t pfn) { return mem.host_ptr(pfn << 12, 4096); }

    /// The vbd's front end as a guest sets it up; the store nodes written as dom0 (which may).
    void connect_frontend() {
        (void)dom.event_channels().place_shared_info(kSharedPfn << 12);
        (void)dom.grant_table().place_frame(0, kTablePfn);
        auto* table = reinterpret_cast<grant_entry_v1_t*>(page(kTablePfn));
        table[kRingRef] = grant_entry_v1_t{GTF_permit_access, 0, static_cast<uint32_t>(kRingPfn)};
        table[kDataRef] = grant_entry_v1_t{GTF_permit_access, 0, static_cast<uint32_t>(kDataPfn)};
        table[kTxRef] = grant_entry_v1_t{GTF_permit_access, 0, static_cast<uint32_t>(kTxPfn)};
        table[kRxRef] = grant_entry_v1_t{GTF_permit_access, 0, static_cast<uint32_t>(kRxPfn)};
        table[kPacketRef] = grant_entry_v1_t{GTF_permit_access | GTF_readonly, 0, static_cast<uint32_t>(kPacketPfn)};
        table[kShareRingRef] = grant_entry_v1_t{GTF_permit_access, 0, static_cast<uint32_t>(kShareRingPfn)};
        table[kShareDataRef] = grant_entry_v1_t{GTF_permit_access, 0, static_cast<uint32_t>(kShareDataPfn)};
        SHARED_RING_INIT(reinterpret_cast<popekfs_sring*>(page(kShareRingPfn)));
        SHARED_RING_INIT(reinterpret_cast<blkif_sring*>(page(kRingPfn)));
        auto* ts = reinterpret_cast<netif_tx_sring*>(page(kTxPfn));
        SHARED_RING_INIT(ts);
        SHARED_RING_INIT(reinterpret_cast<netif_rx_sring*>(page(kRxPfn)));
        evtchn_alloc_unbound al{DOMID_SELF, 0, 0}, vif_al{DOMID_SELF, 0, 0}, share_al{DOMID_SELF, 0, 0};
        (void)dom.event_channels().alloc_unbound(al);
        (void)dom.event_channels().alloc_unbound(vif_al);
        (void)dom.event_channels().alloc_unbound(share_al);
        evtchn_bind_virq virq{VIRQ_TIMER, 0, 0};
        (void)dom.event_channels().bind_virq(virq);
        const std::string fe = kFrontend;
        dom.with_store([&](Store& s, ConnId c) {
            (void)s.write(c, kNoTransaction, fe + "/ring-ref", std::to_string(kRingRef));
            (void)s.write(c, kNoTransaction, fe + "/event-channel", std::to_string(al.port));
            (void)s.write(c, kNoTransaction, fe + "/state", "3");
            const std::string vif_fe = "/local/domain/1/device/vif/0";
            (void)s.write(c, kNoTransaction, vif_fe + "/tx-ring-ref", std::to_string(kTxRef));
            (void)s.write(c, kNoTransaction, vif_fe + "/rx-ring-ref", std::to_string(kRxRef));
            (void)s.write(c, kNoTransaction, vif_fe + "/event-channel", std::to_string(vif_al.port));
            (void)s.write(c, kNoTransaction, vif_fe + "/request-rx-copy", "1");
            (void)s.write(c, kNoTransaction, vif_fe + "/state", "4");
            const std::string share_fe = "/local/domain/1/device/popekfs/0";
            (void)s.write(c, kNoTransaction, share_fe + "/ring-ref", std::to_string(kShareRingRef));
            (void)s.write(c, kNoTransaction, share_fe + "/event-channel", std::to_string(share_al.port));
            (void)s.write(c, kNoTransaction, share_fe + "/state", "3");
            (void)s.watch(c, "/local/domain/1/data", "fuzz");
            (void)s.transaction_start(c);
            return 0;
        });
        if (!vbd->connected() || !vif->connected() || !share->connected()) __builtin_trap();
        // Two popekfs handles open (a file for reading and writing, a directory), then a read.
        auto* fs = reinterpret_cast<popekfs_sring*>(page(kShareRingPfn));
        std::memcpy(page(kShareDataPfn), "sub/f", 5);
        // Slots by index: the ring's entries are a variable-length array declared of length 1.
        auto slot = [fs](RING_IDX i) { return &(fs->ring + (i % 32))->req; };
        *slot(0) = popekfs_request{.id = 1, .op = POPEKFS_OP_OPEN, .nr_pages = 1,
                                          .flags = POPEKFS_O_READ | POPEKFS_O_WRITE, .handle = 0, .offset = 0,
                                          .length = 5, ._pad = 0, .data_ref = {kShareDataRef}};
        *slot(1) = popekfs_request{.id = 2, .op = POPEKFS_OP_OPEN, .nr_pages = 1, .flags = POPEKFS_O_DIRECTORY,
                                          .handle = 0, .offset = 0, .length = 3, ._pad = 0, .data_ref = {kShareDataRef}};
        fs->req_prod = 2;
        (void)dom.event_channels().send(share_al.port);
        if (share->open_handles() != 2) __builtin_trap();
        // The first slot of a two-slot packet (NETTXF_more_data): gathered, not yet sent.
        ts->ring[0].req = netif_tx_request{kPacketRef, 0, NETTXF_more_data, 1, 100};
        ts->req_prod = 1;
        (void)dom.event_channels().send(vif_al.port);
    }

    std::vector<std::vector<uint8_t>> save() {
        std::vector<snapshot::Writer> w(kParts);
        dom.event_channels().save(w[kEvtc]);
        dom.grant_table().save(w[kGntt]);
        {
            auto store_held = dom.hold_store();
            auto console_held = dom.hold_console();
            dom.save_store(w[kXstr]);
            dom.save_domain(w[kXdom]);
        }
        vbd->save(w[kXdev]);
        {
            auto held = vif->hold_rx();
            vif->save(w[kXvif]);
        }
        share->save(w[kShre]);
        std::vector<std::vector<uint8_t>> out;
        for (auto& x : w) out.push_back(x.buffer());
        return out;
    }
};

/// The valid sections and guest RAM every input starts from.
struct Base {
    std::vector<std::vector<uint8_t>> parts;
    std::vector<uint8_t> ram;
};

const Base& base() {
    static const Base b = [] {
        Domain d;
        d.connect_frontend();
        Base out{d.save(), {}};
        const uint8_t* ram = d.mem.host_ptr(0, kRam);
        out.ram.assign(ram, ram + kRam);
        return out;
    }();
    return b;
}

bool load_part(Domain& d, Part p, std::span<const uint8_t> bytes) {
    snapshot::Reader r(bytes);
    switch (p) {
        case kEvtc: d.dom.event_channels().load(r); break;
        case kGntt: d.dom.grant_table().load(r); break;
        case kXstr: d.dom.load_store(r); break;
        case kXdom: d.dom.load_domain(r); break;
        case kXdev: d.vbd->load(r); break;
        case kXvif: d.vif->load(r); break;
        case kShre: d.share->load(r); break;
        default: return false;
    }
    return static_cast<bool>(r.finish("section"));
}

/// What a running guest and its back ends do next, on whatever state was accepted.
void drive_domain(Domain& d) {
    EventChannels& ev = d.dom.event_channels();
    for (evtchn_port_t p = 0; p < 64; ++p) {
        (void)ev.send(p);
        (void)ev.unmask(p);
        (void)ev.port_pending(p);
        evtchn_status st{DOMID_SELF, p, 0, 0, {}};
        (void)ev.status(st);
        (void)ev.backend_send(p);
    }
    for (uint32_t v = 0; v < kNumVirqs; ++v) (void)ev.raise_virq(v, 0);
    (void)ev.upcall_pending(0);
    GrantTable& gt = d.dom.grant_table();
    std::array<uint8_t, 16> buf{};
    for (grant_handle_t h = 0; h < 8; ++h) (void)gt.mapping(h, false), (void)gt.mapping(h, true);
    for (grant_ref_t ref = 0; ref < 16; ++ref) {
        (void)gt.copy_from(kControlDomain, ref, 0, buf);
        if (auto m = gt.map(kControlDomain, ref, true)) (void)gt.unmap(m->handle);
    }
    (void)gt.status_frames(4);
    for (uint32_t i = 0; i < 4; ++i) (void)gt.host_frame(i), (void)gt.host_frame(i | XENMAPIDX_grant_table_status);
    d.dom.with_store([&](Store& s, ConnId c) {
        for (const char* path : {"/local/domain/1", kFrontend, "/local/domain/0/backend/vbd/1/51712/state"})
            (void)s.read(c, kNoTransaction, path), (void)s.directory(c, kNoTransaction, path);
        (void)s.write(c, kNoTransaction, "/local/domain/1/data/x", "1");
        return 0;
    });
    d.vif->deliver(std::vector<uint8_t>(60, 0xab));
    d.dom.service_store();
    d.dom.service_console();
    for (uint32_t p = 0; p < 8; ++p) (void)d.dom.get_param(p);
    (void)d.dom.upcall_vector(0);
}

/// The guest's next popekfs requests: READ and FSTAT on every handle slot (any generation the
/// restored table has) and a READDIR; the back end answers whatever its restored indices let it.
void drive_share(Domain& d) {
    auto* fs = reinterpret_cast<popekfs_sring*>(d.page(kShareRingPfn));
    RING_IDX prod = fs->req_prod;
    for (uint32_t slot = 1; slot <= 4; ++slot)
        for (uint8_t op : {uint8_t{POPEKFS_OP_READ}, uint8_t{POPEKFS_OP_FSTAT}, uint8_t{POPEKFS_OP_READDIR}}) {
            fs->ring[prod % 32].req = popekfs_request{.id = prod, .op = op, .nr_pages = 1, .flags = 0,
                                                      .handle = 1u << 16 | slot, .offset = 0, .length = 64, ._pad = 0,
                                                      .data_ref = {kShareDataRef}};
            ++prod;
        }
    fs->req_prod = prod;
    (void)d.share->unsaveable();
    for (evtchn_port_t p = 0; p < 8; ++p) (void)d.dom.event_channels().send(p);
    (void)d.share->open_handles();
}

/// More of what the fuzzed section holds (also: each part's accepted inputs cover edges of their
/// own, so libFuzzer keeps every part's seeds, not only the first one's).
void drive_fuzzed(Domain& d, Part fuzzed) {
    switch (fuzzed) {
        case kEvtc: {
            // Every VIRQ the table says is bound (EEXIST) has a port bound to it (EVTCHNOP_status).
            EventChannels& ev = d.dom.event_channels();
            for (uint32_t q = 0; q < kNumVirqs; ++q) {
                evtchn_bind_virq b{q, 0, 0};
                if (auto e = ev.bind_virq(b); e || e.error() != EEXIST) continue;
                bool found = false;
                for (evtchn_port_t p = 1; p < ev.max_ports() && !found; ++p) {
                    evtchn_status st{DOMID_SELF, p, 0, 0, {}};
                    found = ev.status(st) && st.status == EVTCHNSTAT_virq && st.u.virq == q && st.vcpu == 0;
                }
                if (!found) __builtin_trap();   // accepted, but the VIRQ table names no port of it
            }
            for (evtchn_port_t p = 1; p < 64; ++p) (void)ev.close(p);
            for (int i = 0; i < 4; ++i) {
                evtchn_alloc_unbound al{DOMID_SELF, 0, 0};
                (void)ev.alloc_unbound(al);
            }
            break;
        }
        case kGntt: {
            gnttab_query_size q{};
            d.dom.grant_table().query_size(q);
            (void)d.dom.grant_table().setup_table(2);
            (void)d.dom.grant_table().set_version(d.dom.grant_table().version() == 1 ? 2 : 1);
            break;
        }
        case kXstr:
            d.dom.with_store([&](Store& s, ConnId c) {
                // A transaction started now is a fresh one: it commits (not a restored, doomed one).
                if (auto tx = s.transaction_start(c)) {
                    if (s.write(c, *tx, "/local/domain/1/fuzz", "1") && !s.transaction_end(c, *tx, true))
                        __builtin_trap();   // accepted, but the id was handed out again
                }
                for (TxId tx = 1; tx < 8; ++tx) (void)s.read(c, tx, "/local"), (void)s.transaction_end(c, tx, true);
                (void)s.rm(c, kNoTransaction, "/local/domain/1/data");
                (void)s.directory(c, kNoTransaction, "/");
                return 0;
            });
            d.dom.service_store();
            break;
        case kXdom:
            for (uint32_t p = 0; p < HVM_NR_PARAMS; ++p) (void)d.dom.get_param(p);
            d.dom.console_input("fuzz");
            break;
        case kXdev: (void)d.vbd->connected(); break;
        case kXvif: (void)d.vif->connected(); break;
        case kShre: drive_share(d); break;
        default: break;
    }
}

/// True when every section was accepted (and the domain then driven).
bool run_xen(Part fuzzed, std::span<const uint8_t> payload) {
    const Base& b = base();
    Domain d;
    std::memcpy(d.mem.host_ptr(0, kRam), b.ram.data(), kRam);
    for (uint8_t p = kEvtc; p < kParts; ++p) {
        const Part part = static_cast<Part>(p);
        if (part == kVirt) continue;
        if (!load_part(d, part, part == fuzzed ? payload : std::span<const uint8_t>(b.parts[p]))) return false;
    }
    drive_domain(d);
    drive_fuzzed(d, fuzzed);
    return true;
}

namespace vio = popek::devices::virtio;
constexpr uint64_t kDesc = 0x1000, kAvail = 0x2000, kUsed = 0x3000, kVirtRam = 0x10000;

bool run_virtio(std::span<const uint8_t> payload) {
    auto mem = memory::GuestMemory::create(kVirtRam).value();
    vio::MmioTransport t(std::make_shared<vio::Entropy>(), mem, [](bool) {});
    snapshot::Reader r(payload);
    t.load(r);
    if (!r.finish("VIRT")) return false;
    // A chain in the tiny RAM, made available, then the queue notified.
    auto* desc = reinterpret_cast<uint64_t*>(mem.host_ptr(kDesc, 16));
    desc[0] = 0x8000;
    desc[1] = uint64_t{64} | uint64_t{2} << 32;   // len 64, VIRTQ_DESC_F_WRITE
    auto* avail = reinterpret_cast<uint16_t*>(mem.host_ptr(kAvail, 8));
    avail[1] = static_cast<uint16_t>(avail[1] + 1);
    std::array<uint8_t, 4> buf{};
    for (uint32_t q : {0u, 1u, 0xffffu}) {
        std::memcpy(buf.data(), &q, 4);
        t.write(vio::mmio_reg::kQueueNotify, buf);
    }
    for (uint64_t off : {vio::mmio_reg::kInterruptStatus, vio::mmio_reg::kStatus, vio::mmio_reg::kQueueNumMax,
                         vio::mmio_reg::kQueueReady, vio::mmio_reg::kConfigGeneration})
        t.read(off, buf);
    t.write(vio::mmio_reg::kInterruptAck, buf);
    return true;
}

bool run(std::span<const uint8_t> input) {
    if (input.empty()) return false;
    const Part part = static_cast<Part>(input[0] % kParts);
    return part == kVirt ? run_virtio(input.subspan(1)) : run_xen(part, input.subspan(1));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    (void)run(std::span(data, size));
    return 0;
}

#ifdef POPEK_FUZZ_REPLAY
// g++ builds (ctest): the valid sections as seeds, plus mutations.
#include <cstdio>
#include <cstdlib>
#include <random>

#include "seed_writer.h"

namespace {

void reg(vio::MmioTransport& t, uint64_t off, uint32_t v) {
    std::array<uint8_t, 4> b{};
    std::memcpy(b.data(), &v, 4);
    t.write(off, b);
}

/// `part`'s byte, then the section.
std::vector<uint8_t> tagged(uint8_t part, const std::vector<uint8_t>& section) {
    std::vector<uint8_t> out(section.size() + 1, part);
    std::copy(section.begin(), section.end(), out.begin() + 1);
    return out;
}

/// A virtio-rng whose driver set up its queue (4.2.3.1.1) and went DRIVER_OK.
std::vector<uint8_t> virt_seed(bool ready) {
    auto mem = memory::GuestMemory::create(kVirtRam).value();
    vio::MmioTransport t(std::make_shared<vio::Entropy>(), mem, [](bool) {});
    using namespace vio::mmio_reg;
    reg(t, kStatus, vio::kStatusAcknowledge | vio::kStatusDriver);
    reg(t, kDriverFeaturesSel, 1);
    reg(t, kDriverFeatures, 1);   // VIRTIO_F_VERSION_1
    reg(t, kStatus, vio::kStatusAcknowledge | vio::kStatusDriver | vio::kStatusFeaturesOk);
    if (ready) {
        reg(t, kQueueSel, 0);
        reg(t, kQueueNum, 8);
        reg(t, kQueueDescLow, kDesc);
        reg(t, kQueueDriverLow, kAvail);
        reg(t, kQueueDeviceLow, kUsed);
        reg(t, kQueueReady, 1);
        reg(t, kStatus, vio::kStatusAcknowledge | vio::kStatusDriver | vio::kStatusFeaturesOk | vio::kStatusDriverOk);
    }
    snapshot::Writer w;
    t.save(w);
    return tagged(kVirt, w.buffer());
}

std::vector<std::vector<uint8_t>> seeds() {
    std::vector<std::vector<uint8_t>> out;
    const Base& b = base();
    for (uint8_t p = kEvtc; p < kParts; ++p)
        if (p != kVirt) out.push_back(tagged(p, b.parts[p]));
    out.push_back(virt_seed(true));
    out.push_back(virt_seed(false));
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    const long iterations = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 20000;
    const auto all = seeds();
    if (argc > 2 && !popek::fuzz::write_seeds(argv[2], all)) return 1;   // `0 DIR`: the seed corpus
    std::mt19937 rng(0x70767370);
    for (size_t i = 0; i < all.size(); ++i)
        if (!run(all[i])) {   // the real encoders' sections are taken as they are
            std::fprintf(stderr, "fuzz_snapshot_pv: seed %zu is refused\n", i);
            return 1;
        }
    for (long i = 0; i < iterations; ++i) {
        std::vector<uint8_t> d = all[static_cast<size_t>(i) % all.size()];
        popek::fuzz::mutate(d, rng);
        d[0] = all[static_cast<size_t>(i) % all.size()][0];   // keep the section the seed is
        LLVMFuzzerTestOneInput(d.data(), d.size());
    }
    return 0;
}
#endif
