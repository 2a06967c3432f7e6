// Xen back ends report the guest RAM they write (pv::RamWrites -> hv::Vm::device_wrote_ram), so
// the own engine drops code decoded from it without the event-channel upcall making it re-verify
// everything: a grant copy or a blkif read into a page whose code the vCPU has already run, then
// the guest runs the new code, on interp and on bt. And each writer reports what it wrote: grant
// pins and copies, ring responses and indices, byte rings, event bits, time, hypercall results.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "arch/x86_64/boot_cpu.h"
#include "emu/cpu.h"
#include "host/block_file.h"
#include "hv/interp/interp_hypervisor.h"
#include "hv/interp/interp_vcpu.h"
#include "pv/backends/blkif_backend.h"
#include "pv/byte_ring.h"
#include "pv/grant_access.h"
#include "pv/guest_access.h"
#include "pv/pv_domain.h"

namespace popek {
namespace {

using namespace pv;

// 32-bit flat code on page 0x1000: 100 passes of "jump to the block at 0x1100 (mov eax, imm32;
// jmp back), add esi, eax, out 0x80, al", then hlt (as tests/unit/interp_exit_ram_test.cpp).
std::vector<uint8_t> guest_code(uint8_t imm) {
    std::vector<uint8_t> code(0x110, 0x90);
    const uint8_t head[] = {0xb9, 0x64, 0x00, 0x00, 0x00,   // 1000: mov ecx, 100
                            0x31, 0xf6,                     // 1005: xor esi, esi
                            0xe9, 0xf4, 0x00, 0x00, 0x00,   // 1007: jmp 0x1100
                            0x01, 0xc6,                     // 100c: add esi, eax
                            0xe6, 0x80,                     // 100e: out 0x80, al
                            0x49,                           // 1010: dec ecx
                            0x75, 0xf4,                     // 1011: jnz 0x1007
                            0xf4};                          // 1013: hlt
    std::memcpy(code.data(), head, sizeof head);
    const uint8_t callee[] = {0xb8, imm, 0x00, 0x00, 0x00,    // 1100: mov eax, imm
                              0xe9, 0x02, 0xff, 0xff, 0xff};  // 1105: jmp 0x100c
    std::memcpy(code.data() + 0x100, callee, sizeof callee);
    return code;
}

constexpr uint64_t kCodePfn = 0x1, kTablePfn = 0x2, kRingPfn = 0x3;
constexpr grant_ref_t kCodeRef = 8, kRingRef = 9;

/// How a Xen back end rewrites the callee's immediate (1 -> 3) during the guest's 60th OUT.
enum class Path { GrantCopy, BlkifRead };

/// A disk whose sector 0 holds the code page's first 512 bytes with the new immediate.
struct TempDisk {
    std::string path;
    TempDisk() {
        char tmpl[] = "/tmp/popek-xenram-XXXXXX";
        int fd = ::mkstemp(tmpl);
        path = tmpl;
        std::vector<uint8_t> sector(8 * 512, 0);
        const auto code = guest_code(3);
        std::memcpy(sector.data(), code.data(), code.size());
        EXPECT_EQ(::write(fd, sector.data(), sector.size()), static_cast<ssize_t>(sector.size()));
        ::close(fd);
    }
    ~TempDisk() { ::unlink(path.c_str()); }
};

struct GuestRun {
    uint64_t esi = 0;
    uint64_t epoch_moves = 0;
};

/// Runs the guest to its HLT. Every OUT exit is claimed to have written no RAM; at the 60th the
/// Xen back end writes the code page (reporting it when `report`), then raises the event (the
/// upcall vector), as popek's vbd does.
GuestRun run_guest(bool bt, Path path, bool report) {
    auto hyp = bt ? hv::interp::open_bt() : hv::interp::open_interp();
    EXPECT_TRUE(hyp);
    auto v = (*hyp)->create_vm(hv::VmConfig{});
    EXPECT_TRUE(v);
    auto m = memory::GuestMemory::create(1 << 20);
    EXPECT_TRUE(m);
    EXPECT_TRUE((*v)->set_memory(*m));
    EXPECT_TRUE(m->write(kCodePfn << 12, guest_code(1)));

    PvDomainConfig config;
    config.memory_bytes = 1 << 20;
    hv::Vm& vm = **v;
    if (report) config.ram_written = [&vm](uint64_t gpa, uint64_t len) { vm.device_wrote_ram(gpa, len); };
    PvDomain dom(*m, config, {});
    // The guest grants its code page and a ring page to dom0, writable.
    EXPECT_TRUE(dom.grant_table().place_frame(0, kTablePfn));
    auto* table = reinterpret_cast<grant_entry_v1_t*>(m->host_ptr(kTablePfn << 12, 4096));
    table[kCodeRef] = grant_entry_v1_t{GTF_permit_access, kControlDomain, static_cast<uint32_t>(kCodePfn)};
    table[kRingRef] = grant_entry_v1_t{GTF_permit_access, kControlDomain, static_cast<uint32_t>(kRingPfn)};
    LocalGrantAccess access(dom.grant_table(), kControlDomain);

    TempDisk file;
    auto disk = host::BlockFile::open(file.path, false);
    EXPECT_TRUE(disk);
    BlkifHandler handler(access, *disk);
    auto ring = dom.grant_table().map(kControlDomain, kRingRef, false);
    EXPECT_TRUE(ring);
    auto* sring = reinterpret_cast<blkif_sring*>(ring->page.data());
    SHARED_RING_INIT(sring);
    BlkifBackend backend(handler, ring->page, &dom.ram_writes());

    auto c = vm.create_vcpu(0);
    EXPECT_TRUE(c);
    hv::Vcpu& vcpu = **c;
    EXPECT_TRUE(vcpu.set_state(arch::protected_mode_flat_state(kCodePfn << 12)));
    auto& shared = dynamic_cast<hv::interp::InterpVcpu&>(vcpu).cpu().shared();
    GuestRun r;
    for (int outs = 0; outs < 200;) {
        const uint64_t before = shared.dma_epoch.load();
        auto e = vcpu.run();
        EXPECT_TRUE(e);
        if (!e) break;
        if (shared.dma_epoch.load() != before) ++r.epoch_moves;
        if (std::holds_alternative<hv::Halt>(*e)) break;
        EXPECT_TRUE(std::holds_alternative<hv::PioOut>(*e)) << "exit " << e->index();
        if (!std::holds_alternative<hv::PioOut>(*e)) break;
        if (++outs == 60) {
            if (path == Path::GrantCopy) {
                uint8_t imm[4] = {3, 0, 0, 0};
                const GrantCopy op{kCodeRef, 0x101, true, std::span<uint8_t>(imm)};
                EXPECT_TRUE(access.copy(std::span(&op, 1)));
            } else {
                // The front end's request: sector 0 of the disk into sector 0 of the code page.
                blkif_request_t req{};
                req.operation = BLKIF_OP_READ;
                req.id = 7;
                req.nr_segments = 1;
                req.seg[0].gref = kCodeRef;   // first_sect = last_sect = 0
                sring->ring[0].req = req;
                __atomic_store_n(&sring->req_prod, 1u, __ATOMIC_RELEASE);
                (void)backend.process();
                EXPECT_EQ(__atomic_load_n(&sring->rsp_prod, __ATOMIC_ACQUIRE), 1u);
                EXPECT_EQ(sring->ring[0].rsp.status, BLKIF_RSP_OKAY);
            }
            EXPECT_EQ(m->read_obj<uint32_t>(0x1101).value_or(0), 3u);
            (void)vm.inject_vector(0, 0xf3);   // the event channel's upcall
        }
        vcpu.exit_wrote_no_ram();
    }
    auto st = vcpu.get_state();
    EXPECT_TRUE(st);
    if (st) r.esi = st->gpr[6];
    return r;
}

struct Case {
    bool bt;
    Path path;
};

class XenBackendWrites : public ::testing::TestWithParam<Case> {};

TEST_P(XenBackendWrites, CodeTheBackEndWroteRunsWithoutTheDmaEpoch) {
    // Passes 1-60 add 1 (the back end writes during the 60th OUT), passes 61-100 add 3.
    const GuestRun r = run_guest(GetParam().bt, GetParam().path, true);
    EXPECT_EQ(r.esi, 60u + 40u * 3u);
    EXPECT_EQ(r.epoch_moves, 0u) << "neither the exits nor the upcall re-verify all code";
}

TEST_P(XenBackendWrites, AnUnreportedWriteWouldLeaveTheOldCodeRunning) {
    // The engine relies on the report: without it, the translation of the old bytes keeps
    // running (what this change would break if a back end forgot to report).
    const GuestRun r = run_guest(GetParam().bt, GetParam().path, false);
    EXPECT_EQ(r.esi, 100u);
    EXPECT_EQ(r.epoch_moves, 0u);
}

INSTANTIATE_TEST_SUITE_P(InterpAndBt, XenBackendWrites,
                         ::testing::Values(Case{false, Path::GrantCopy}, Case{true, Path::GrantCopy},
                                           Case{false, Path::BlkifRead}, Case{true, Path::BlkifRead}),
                         [](const auto& param_info) {
                             return std::string(param_info.param.bt ? "bt" : "interp") +
                                    (param_info.param.path == Path::GrantCopy ? "_GrantCopy" : "_BlkifRead");
                         });

// ---------------------------------------------------------------- each writer reports

/// Records every report as [gpa, gpa + len).
struct Recorder {
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    RamWrites::Sink sink() {
        return [this](uint64_t gpa, uint64_t len) { ranges.emplace_back(gpa, len); };
    }
    bool covered(uint64_t gpa, uint64_t len) const {
        for (const auto& [a, n] : ranges)
            if (gpa >= a && gpa + len <= a + n) return true;
        return false;
    }
};

TEST(XenRamWrites, HostPointersMapToGuestAddressesAndOthersAreIgnored) {
    auto m = memory::GuestMemory::create(1 << 20);
    ASSERT_TRUE(m);
    Recorder rec;
    const RamWrites writes(*m, rec.sink());
    writes.wrote(m->host_ptr(0x5008, 8), 8);
    uint64_t host_only = 0;
    writes.wrote(&host_only, sizeof host_only);
    writes.wrote(m->host_ptr(0x6000, 1), 0);
    writes.wrote_gpa(0x7000, 16);
    ASSERT_EQ(rec.ranges.size(), 2u);
    EXPECT_EQ(rec.ranges[0], std::make_pair(uint64_t{0x5008}, uint64_t{8}));
    EXPECT_EQ(rec.ranges[1], std::make_pair(uint64_t{0x7000}, uint64_t{16}));
    const RamWrites nobody;
    nobody.wrote(m->host_ptr(0x5000, 8), 8);   // no sink: nothing to call
}

struct DomainFixture : ::testing::Test {
    memory::GuestMemory mem = memory::GuestMemory::create(1 << 20).value();
    Recorder rec;
    std::unique_ptr<PvDomain> dom;
    void SetUp() override {
        PvDomainConfig config;
        config.memory_bytes = 1 << 20;
        config.ram_written = rec.sink();
        dom = std::make_unique<PvDomain>(mem, config, [](int) {});
    }
};

TEST_F(DomainFixture, AGrantCopyReportsTheBytesAndThePinBits) {
    ASSERT_TRUE(dom->grant_table().place_frame(0, kTablePfn));
    EXPECT_TRUE(rec.covered(kTablePfn << 12, 4096)) << "the table frame moved into guest RAM";
    auto* table = reinterpret_cast<grant_entry_v1_t*>(mem.host_ptr(kTablePfn << 12, 4096));
    table[kCodeRef] = grant_entry_v1_t{GTF_permit_access, kControlDomain, static_cast<uint32_t>(0x40)};
    rec.ranges.clear();
    uint8_t bytes[24] = {1};
    ASSERT_TRUE(dom->grant_table().copy_to(kControlDomain, kCodeRef, 0x300, bytes));
    EXPECT_TRUE(rec.covered((0x40 << 12) + 0x300, sizeof bytes));
    const uint64_t entry = (kTablePfn << 12) + kCodeRef * sizeof(grant_entry_v1_t);
    EXPECT_TRUE(rec.covered(entry, sizeof(uint16_t))) << "GTF_reading/GTF_writing set and cleared";
    rec.ranges.clear();
    ASSERT_TRUE(dom->grant_table().copy_from(kControlDomain, kCodeRef, 0, bytes));
    EXPECT_FALSE(rec.covered((0x40 << 12), sizeof bytes)) << "a read writes no data";
}

TEST_F(DomainFixture, RingResponsesAndIndicesAreReported) {
    std::span<uint8_t> page(mem.host_ptr(kRingPfn << 12, 4096), 4096);
    auto* sring = reinterpret_cast<blkif_sring*>(page.data());
    SHARED_RING_INIT(sring);
    SharedRing<blkif_sring> ring(page, &dom->ram_writes());
    sring->req_prod = 1;
    ASSERT_TRUE(ring.next_request());
    ASSERT_TRUE(ring.push_response(blkif_response_t{}));
    rec.ranges.clear();
    ring.publish_responses();
    EXPECT_TRUE(rec.covered(kRingPfn << 12, offsetof(blkif_sring, ring) + sizeof(sring->ring[0])));
    EXPECT_TRUE(rec.covered((kRingPfn << 12) + offsetof(blkif_sring, rsp_prod), sizeof(RING_IDX)));
    rec.ranges.clear();
    EXPECT_FALSE(ring.final_check_for_requests());
    EXPECT_TRUE(rec.covered((kRingPfn << 12) + offsetof(blkif_sring, req_event), sizeof(RING_IDX)));
}

TEST_F(DomainFixture, ByteRingBytesAndBothIndicesAreReported) {
    auto* in = reinterpret_cast<xencons_interface*>(mem.host_ptr(0x9000, 4096));
    const uint64_t base = 0x9000;
    ByteRing input(in->in, sizeof(in->in), &in->in_cons, &in->in_prod, &dom->ram_writes());
    const uint8_t text[] = {'h', 'i'};
    ASSERT_EQ(input.write(text).value_or(0), 2u);
    EXPECT_TRUE(rec.covered(base + offsetof(xencons_interface, in), 2));
    EXPECT_TRUE(rec.covered(base + offsetof(xencons_interface, in_prod), 4));
    in->out_prod = 2;
    ByteRing output(in->out, sizeof(in->out), &in->out_cons, &in->out_prod, &dom->ram_writes());
    uint8_t buf[4];
    ASSERT_EQ(output.read(buf).value_or(0), 2u);
    EXPECT_TRUE(rec.covered(base + offsetof(xencons_interface, out_cons), 4)) << "the consumer index is guest RAM too";
}

TEST_F(DomainFixture, EventBitsVcpuInfoAndTimeAreReported) {
    const uint64_t si = 0x8000;
    EventChannels& ev = dom->event_channels();
    ASSERT_TRUE(ev.place_shared_info(si));
    EXPECT_TRUE(rec.covered(si, 4096));
    auto ch = ev.host_channel([] {});
    ASSERT_TRUE(ch);
    rec.ranges.clear();
    ASSERT_TRUE(ev.backend_send(ch->backend_port));
    const uint64_t word = ch->guest_port / 64 * 8;
    EXPECT_TRUE(rec.covered(si + offsetof(shared_info_t, evtchn_pending) + word, 8));
    EXPECT_TRUE(rec.covered(si + offsetof(shared_info_t, vcpu_info) + offsetof(vcpu_info, evtchn_pending_sel), 8));
    EXPECT_TRUE(rec.covered(si + offsetof(shared_info_t, vcpu_info) + offsetof(vcpu_info, evtchn_upcall_pending), 1));
    rec.ranges.clear();
    ev.publish_time(0, 1, 2, 3, 0, 0);
    EXPECT_TRUE(rec.covered(si + offsetof(shared_info_t, vcpu_info) + offsetof(vcpu_info, time), sizeof(vcpu_time_info)));
    rec.ranges.clear();
    ev.publish_wallclock(5, 6);
    EXPECT_TRUE(rec.covered(si + offsetof(shared_info_t, wc_version), 4));
    EXPECT_TRUE(rec.covered(si + offsetof(shared_info_t, wc_sec), 8));
    rec.ranges.clear();
    ASSERT_TRUE(ev.place_vcpu_info(0, 0xa040));
    EXPECT_TRUE(rec.covered(0xa040, sizeof(vcpu_info)));
    rec.ranges.clear();
    ASSERT_TRUE(ev.close(ch->guest_port));
    EXPECT_TRUE(rec.covered(si + offsetof(shared_info_t, evtchn_pending) + word, 8)) << "the pending bit cleared";
}

TEST_F(DomainFixture, StoreAndConsoleRingsAreReported) {
    ASSERT_TRUE(dom->connect_store(0xb));
    EXPECT_TRUE(rec.covered(0xb000, 4096));
    ASSERT_TRUE(dom->connect_console(0xc, [](std::string_view) {}));
    EXPECT_TRUE(rec.covered(0xc000, 4096));
    rec.ranges.clear();
    dom->console_input("x");
    EXPECT_TRUE(rec.covered(0xc000 + offsetof(xencons_interface, in), 1));
    EXPECT_TRUE(rec.covered(0xc000 + offsetof(xencons_interface, in_prod), 4));
}

TEST_F(DomainFixture, HypercallResultsWrittenThroughGuestAccessAreReported) {
    GuestAccess guest(mem, {}, &dom->ram_writes());
    ASSERT_TRUE(guest.write_obj<uint64_t>(0, 0xdff8, 42));
    ASSERT_TRUE(guest.write_obj<uint64_t>(0, 0xeffc, 43));   // crosses a page: two pieces
    EXPECT_TRUE(rec.covered(0xdff8, 8));
    EXPECT_TRUE(rec.covered(0xeffc, 4));
    EXPECT_TRUE(rec.covered(0xf000, 4));
}

}  // namespace
}  // namespace popek
