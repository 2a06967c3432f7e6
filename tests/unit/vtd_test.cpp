// The VT-d remapping unit (src/devices/iommu/): registers and global commands, second-level
// DMA translation with its faults (also for structures outside guest RAM), fault recording and
// events, queued invalidation, and interrupt remapping.
#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "devices/iommu/vtd_unit.h"
#include "devices/iommu/vtd_walk.h"
#include "devices/pci/edu.h"

namespace popek::devices::iommu {
namespace {

using namespace vtd;

constexpr uint16_t kRid = 0x10;   // 00:02.0
constexpr uint64_t kRoot = 0x100000, kContext = 0x101000, kL3 = 0x102000, kL2 = 0x103000, kL1 = 0x104000;
constexpr uint64_t kIrt = 0x110000, kQueue = 0x120000, kStatus = 0x130000;

struct VtdTest : ::testing::Test {
    memory::GuestMemory mem = memory::GuestMemory::create(16 << 20).value();
    std::vector<hv::MsiMessage> events;
    std::vector<std::pair<uint64_t, uint64_t>> wrote;
    VtdUnit unit{mem, [this](const hv::MsiMessage& m) { events.push_back(m); },
                 [this](uint64_t gpa, uint64_t len) { wrote.emplace_back(gpa, len); }};

    void w32(uint32_t off, uint32_t v) {
        std::array<uint8_t, 4> b{};
        bus::u64_to_span(v, b);
        static_cast<bus::Device&>(unit).write(off, b);
    }
    void w64(uint32_t off, uint64_t v) {
        std::array<uint8_t, 8> b{};
        bus::u64_to_span(v, b);
        static_cast<bus::Device&>(unit).write(off, b);
    }
    uint64_t r64(uint32_t off) {
        std::array<uint8_t, 8> b{};
        static_cast<bus::Device&>(unit).read(off, b);
        return bus::span_to_u64(b);
    }
    uint32_t r32(uint32_t off) {
        std::array<uint8_t, 4> b{};
        static_cast<bus::Device&>(unit).read(off, b);
        return static_cast<uint32_t>(bus::span_to_u64(b));
    }
    void put64(uint64_t gpa, uint64_t v) { ASSERT_TRUE(mem.write_obj(gpa, v)); }
    /// kvm-unit-tests' vtd_gcmd_or: GSTS | the command.
    void command(uint32_t bit) { w32(kGcmd, r32(kGsts) | bit); }
    /// Root and context entries for kRid (39-bit AGAW, domain 1) and the three table levels.
    void tables(bool fpd = false) {
        put64(kRoot + 16 * (kRid >> 8), kContext | 1);
        put64(kContext + 16 * (kRid & 0xff), kL3 | (fpd ? 2 : 0) | 1);
        put64(kContext + 16 * (kRid & 0xff) + 8, 1 | 1u << 8);
        put64(kL3, kL2 | 3);
        put64(kL2, kL1 | 3);
        w64(kRtaddr, kRoot);
        command(kSrtp);
        command(kTe);
    }
    void map4k(uint64_t iova, uint64_t gpa, uint64_t perms = 3) { put64(kL1 + 8 * ((iova >> 12) & 0x1ff), gpa | perms); }
    uint64_t frcd_hi(unsigned i) { return r64(kFrcd + 16 * i + 8); }
    unsigned fault_reason(unsigned i) { return static_cast<unsigned>((frcd_hi(i) >> 32) & 0xff); }
    /// The k-th fault recorded since the fault status was last clear (FSTS.FRI names the first).
    unsigned pending(unsigned k) { return ((r32(kFsts) >> 8) & 0xff) + k; }
    unsigned pending_reason(unsigned k) { return fault_reason(pending(k) % kFaultRecords); }
    void clear_faults() {
        for (unsigned i = 0; i < kFaultRecords; ++i) w64(kFrcd + 16 * i + 8, uint64_t{1} << 63);
        w32(kFsts, 0xff);
    }
};

TEST_F(VtdTest, RegistersAtResetAndReadOnlyOnes) {
    EXPECT_EQ(r32(kVer), 0x10u);
    EXPECT_EQ(((r32(kVer) >> 3) & 0xf), 2u) << "kvm-unit-tests asserts this >= 1";
    EXPECT_TRUE(r64(kCap) & (uint64_t{2} << 8)) << "SAGAW: 39-bit";
    EXPECT_EQ(r64(kCap) & (uint64_t{3} << 34), uint64_t{3} << 34) << "2 MiB and 1 GiB pages";
    EXPECT_EQ((r64(kCap) >> 24) & 0x3ff, kFrcd / 16u) << "FRO";
    EXPECT_EQ(((r64(kEcap) >> 8) & 0x3ff) * 16, uint64_t{kIva}) << "IRO";
    EXPECT_TRUE(r64(kEcap) & kEcapQi);
    EXPECT_TRUE(r64(kEcap) & kEcapIr);
    EXPECT_FALSE(r64(kEcap) & (1u << 4)) << "no EIM (eim=off)";
    EXPECT_EQ(r32(kGsts), 0u);
    EXPECT_EQ(r32(kFsts), 0u);
    EXPECT_EQ(r32(kFectl), kEventMask);
    w64(kCap, 0);
    w64(kEcap, 0);
    w32(kGsts, 0xffffffff);
    w64(kIqh, 0x1230);
    EXPECT_TRUE(r64(kCap) & (uint64_t{2} << 8));
    EXPECT_EQ(r32(kGsts), 0u);
    EXPECT_EQ(r64(kIqh), 0u);
    std::array<uint8_t, 2> two{};
    static_cast<bus::Device&>(unit).read(kVer, two);
    EXPECT_EQ(two[0], 0xff) << "2-byte accesses are not register accesses";
    std::array<uint8_t, 8> eight{};
    static_cast<bus::Device&>(unit).read(kVer + 4, eight);
    EXPECT_EQ(eight[0], 0xff) << "unaligned 8-byte access";
    static_cast<bus::Device&>(unit).read(0xffc, std::span(eight).first(4));
    EXPECT_EQ(eight[0], 0) << "an unused register reads 0";
}

TEST_F(VtdTest, GlobalCommandsSetTheirStatusAtOnce) {
    w64(kRtaddr, kRoot | 0xfff);
    EXPECT_EQ(r64(kRtaddr), kRoot) << "low bits reserved";
    command(kQie);
    command(kSrtp);
    w64(kIrta, kIrt | 0xf);
    command(kSirtp);
    command(kTe);
    command(kIre);
    EXPECT_EQ(r32(kGsts), kQie | kSrtp | kSirtp | kTe | kIre);
    EXPECT_EQ(r32(kGcmd), 0u) << "write-only";
    w32(kGcmd, r32(kGsts) & ~kTe);
    EXPECT_EQ(r32(kGsts) & kTe, 0u);
    EXPECT_TRUE(r32(kGsts) & kIre);
}

TEST_F(VtdTest, DmaWithTranslationOffGoesStraightToRam) {
    ASSERT_TRUE(mem.write_obj<uint32_t>(0x200000, 0x11223344));
    uint32_t v = 0;
    EXPECT_TRUE(unit.read(kRid, 0x200000, std::span(reinterpret_cast<uint8_t*>(&v), 4)));
    EXPECT_EQ(v, 0x11223344u);
    EXPECT_FALSE(unit.read(kRid, 0xfee00000, std::span(reinterpret_cast<uint8_t*>(&v), 4))) << "not RAM";
}

TEST_F(VtdTest, SecondLevelWalkTranslatesReadsAndWrites) {
    tables();
    map4k(0x0, 0x200000);
    map4k(0x1000, 0x300000);
    ASSERT_TRUE(mem.write_obj<uint16_t>(0x200ffe, 0xbbaa));
    ASSERT_TRUE(mem.write_obj<uint16_t>(0x300000, 0xddcc));
    std::array<uint8_t, 4> b{};
    ASSERT_TRUE(unit.read(kRid, 0xffe, b)) << "crosses two IOVA pages mapped apart";
    EXPECT_EQ(b, (std::array<uint8_t, 4>{0xaa, 0xbb, 0xcc, 0xdd}));
    const std::array<uint8_t, 4> in{1, 2, 3, 4};
    ASSERT_TRUE(unit.write(kRid, 0x10, in));
    EXPECT_EQ(mem.read_obj<uint32_t>(0x200010).value(), 0x04030201u);
    EXPECT_EQ(wrote.back(), (std::pair<uint64_t, uint64_t>{0x200010, 4}));
    EXPECT_EQ(r32(kFsts), 0u) << "no fault";
}

TEST_F(VtdTest, LargePagesTranslateTheirOffsetAndCheckTheirReservedBits) {
    tables();
    put64(kL2 + 8 * 1, 0x400000 | (1u << 7) | 3);   // IOVA 2 MiB..4 MiB -> 4 MiB..6 MiB
    const Translation t = translate(mem, kRoot, kRid, 0x212345, false);
    ASSERT_TRUE(t.ok);
    EXPECT_EQ(t.address, 0x412345u);
    EXPECT_EQ(t.remaining, 0x200000u - 0x12345u);
    put64(kL2 + 8 * 1, 0x401000 | (1u << 7) | 3);   // bit 12 of a 2 MiB page is reserved
    EXPECT_EQ(translate(mem, kRoot, kRid, 0x212345, false).fault, Fault::PagingEntryReserved);
}

TEST_F(VtdTest, EachMissingOrBadStructureIsItsFault) {
    // Straight to translate(): every fault reason of the walk.
    EXPECT_EQ(translate(mem, kRoot, kRid, 0, false).fault, Fault::RootNotPresent);
    EXPECT_EQ(translate(mem, 0x7fff'f000, kRid, 0, false).fault, Fault::RootTableAccess) << "root table outside RAM";
    put64(kRoot, kContext | 1 | (1u << 5));
    EXPECT_EQ(translate(mem, kRoot, kRid, 0, false).fault, Fault::RootReserved);
    put64(kRoot, 0x7fff'f000 | 1);
    EXPECT_EQ(translate(mem, kRoot, kRid, 0, false).fault, Fault::ContextTableAccess);
    put64(kRoot, kContext | 1);
    EXPECT_EQ(translate(mem, kRoot, kRid, 0, false).fault, Fault::ContextNotPresent);
    put64(kContext + 16 * kRid, kL3 | 1);
    put64(kContext + 16 * kRid + 8, 2);   // 48-bit AGAW: not in SAGAW
    EXPECT_EQ(translate(mem, kRoot, kRid, 0, false).fault, Fault::ContextInvalid);
    put64(kContext + 16 * kRid + 8, 1 | (uint64_t{1} << 40));
    EXPECT_EQ(translate(mem, kRoot, kRid, 0, false).fault, Fault::ContextReserved);
    put64(kContext + 16 * kRid + 8, 1);
    put64(kContext + 16 * kRid, kL3 | (1u << 2) | 1);   // device-TLB type: no ECAP.DT
    EXPECT_EQ(translate(mem, kRoot, kRid, 0, false).fault, Fault::ContextInvalid);
    put64(kContext + 16 * kRid, kL3 | 1);
    EXPECT_EQ(translate(mem, kRoot, kRid, uint64_t{1} << 39, false).fault, Fault::AddressBeyondMgaw);
    EXPECT_EQ(translate(mem, kRoot, kRid, 0, false).fault, Fault::Read) << "L3 entry not present";
    put64(kL3, 0x7fff'f000 | 3);
    EXPECT_EQ(translate(mem, kRoot, kRid, 0, false).fault, Fault::PagingEntryAccess) << "L2 table outside RAM";
    put64(kL3, kL2 | 1);                 // read-only from the top
    put64(kL2, kL1 | 3);
    put64(kL1, 0x200000 | 3);
    EXPECT_TRUE(translate(mem, kRoot, kRid, 0, false).ok);
    EXPECT_EQ(translate(mem, kRoot, kRid, 0, true).fault, Fault::Write) << "W must be set at every level";
    put64(kL1, 0x200000 | 3 | (uint64_t{1} << 45));   // above the host address width
    EXPECT_EQ(translate(mem, kRoot, kRid, 0, false).fault, Fault::PagingEntryReserved);
    put64(kContext + 16 * kRid, (2u << 2) | 1);   // pass-through
    const Translation pt = translate(mem, kRoot, kRid, 0x123456, true);
    ASSERT_TRUE(pt.ok);
    EXPECT_EQ(pt.address, 0x123456u);
}

TEST_F(VtdTest, FaultsAreRecordedUntilTheRecordsOverflowAndFpdSilencesThem) {
    tables();
    std::array<uint8_t, 4> b{};
    EXPECT_FALSE(unit.read(kRid, 0x5000, b)) << "not mapped";
    EXPECT_EQ(r32(kFsts) & (kFstsPpf | kFstsPfo), kFstsPpf);
    EXPECT_EQ((r32(kFsts) >> 8) & 0xff, 0u) << "FRI";
    EXPECT_EQ(fault_reason(0), unsigned(Fault::Read));
    EXPECT_EQ(frcd_hi(0) & 0xffff, kRid);
    EXPECT_TRUE(frcd_hi(0) & (uint64_t{1} << 62)) << "T: a read";
    EXPECT_EQ(r64(kFrcd), 0x5000u) << "fault info: the page";
    const std::array<uint8_t, 4> in{};
    for (int i = 0; i < 3; ++i) EXPECT_FALSE(unit.write(kRid, 0x6000, in));
    EXPECT_EQ(fault_reason(3), unsigned(Fault::Write));
    EXPECT_FALSE(frcd_hi(3) & (uint64_t{1} << 62)) << "T: a write";
    EXPECT_EQ(r32(kFsts) & kFstsPfo, 0u);
    EXPECT_FALSE(unit.write(kRid, 0x6000, in));
    EXPECT_TRUE(r32(kFsts) & kFstsPfo) << "all four records hold unserviced faults";
    w64(kFrcd + 8, uint64_t{1} << 63);   // software services record 0
    EXPECT_TRUE(r32(kFsts) & kFstsPpf) << "records 1..3 still pending";
    clear_faults();
    EXPECT_EQ(r32(kFsts), 0u);
    tables(true);   // FPD in the context entry
    EXPECT_FALSE(unit.read(kRid, 0x5000, b));
    EXPECT_EQ(r32(kFsts), 0u) << "fault processing disabled: nothing recorded";
}

TEST_F(VtdTest, FaultEventsAreSentOnceAndHeldWhileMasked) {
    w32(kFedata, 0x4e);
    w32(kFeaddr, 0xfee00000);
    w32(kFectl, 0);   // unmask
    std::array<uint8_t, 4> b{};
    tables();
    EXPECT_FALSE(unit.read(kRid, 0x5000, b));
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0], (hv::MsiMessage{0xfee00000, 0x4e}));
    EXPECT_FALSE(unit.read(kRid, 0x5000, b));
    EXPECT_EQ(events.size(), 1u) << "PPF was set already: no new interrupt condition";
    clear_faults();
    w32(kFectl, kEventMask);
    EXPECT_FALSE(unit.read(kRid, 0x5000, b));
    EXPECT_EQ(events.size(), 1u);
    EXPECT_EQ(r32(kFectl), kEventMask | kEventPending);
    w32(kFectl, 0);
    EXPECT_EQ(events.size(), 2u) << "unmasking sends the held event";
    EXPECT_EQ(r32(kFectl), 0u);
}

TEST_F(VtdTest, QueuedInvalidationConsumesDescriptorsAndWaitsWriteTheirStatus) {
    w64(kIqa, kQueue);   // 256 descriptors
    command(kQie);
    w32(kIedata, 0x4f);
    w32(kIeaddr, 0xfee00000);
    w32(kIectl, 0);
    put64(kQueue + 0x00, 0x1 | (1u << 4));            // context-cache, global
    put64(kQueue + 0x08, 0);
    put64(kQueue + 0x10, 0x2 | (1u << 4));            // IOTLB, global
    put64(kQueue + 0x18, 0);
    put64(kQueue + 0x20, 0x4 | (1u << 4));            // interrupt entry cache, global
    put64(kQueue + 0x28, 0);
    put64(kQueue + 0x30, 0x5 | (1u << 5) | (1u << 4) | (uint64_t{0xcafe} << 32));   // wait: SW, IF
    put64(kQueue + 0x38, kStatus);
    w64(kIqt, 0x40);
    EXPECT_EQ(r64(kIqh), 0x40u);
    EXPECT_EQ(mem.read_obj<uint32_t>(kStatus).value(), 0xcafeu);
    EXPECT_EQ(r32(kIcs), 1u);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0], (hv::MsiMessage{0xfee00000, 0x4f}));
    EXPECT_EQ(r32(kFsts), 0u);
    w32(kIcs, 1);
    EXPECT_EQ(r32(kIcs), 0u);
}

TEST_F(VtdTest, BadDescriptorsStopTheQueueWithIqe) {
    w64(kIqa, kQueue);
    command(kQie);
    put64(kQueue, 0x3);   // device-TLB invalidate: no device TLBs here
    w64(kIqt, 0x10);
    EXPECT_TRUE(r32(kFsts) & kFstsIqe);
    EXPECT_EQ(r64(kIqh), 0u) << "the head stays on the bad descriptor";
    put64(kQueue, 0x5 | (1u << 5));   // now a valid wait, but IQE still set
    put64(kQueue + 8, kStatus);
    w64(kIqt, 0x10);
    EXPECT_EQ(r64(kIqh), 0u) << "nothing runs while IQE is set";
    w32(kFsts, kFstsIqe);
    w64(kIqt, 0x10);
    EXPECT_EQ(r64(kIqh), 0x10u);
    put64(kQueue + 0x10, 0x2 | (1u << 4) | (1u << 12));   // reserved bit in an IOTLB descriptor
    w64(kIqt, 0x20);
    EXPECT_TRUE(r32(kFsts) & kFstsIqe);
    EXPECT_EQ(r64(kIqh), 0x10u);
    w32(kFsts, kFstsIqe);
    w64(kIqt, 0x1000 + 0x10);   // a tail beyond the one-page queue
    EXPECT_TRUE(r32(kFsts) & kFstsIqe);
    w32(kFsts, kFstsIqe);
    w64(kIqa, 0x7fff'f000);   // the queue outside RAM
    w64(kIqt, 0x20);
    EXPECT_TRUE(r32(kFsts) & kFstsIqe);
}

struct VtdIrTest : VtdTest {
    void SetUp() override {
        w64(kIrta, kIrt | 0x3);   // 16 entries
        command(kSirtp);
        command(kIre);
    }
    /// kvm-unit-tests' vtd_setup_irte: vector, destination, SVT = 01 for `sid`.
    void irte(unsigned index, uint8_t vector, uint8_t dest, uint16_t sid, bool fpd = false) {
        put64(kIrt + 16 * index, 1 | (fpd ? 2 : 0) | uint64_t{vector} << 16 | uint64_t{dest} << 40);
        put64(kIrt + 16 * index + 8, sid | (uint64_t{1} << 18));
    }
    static hv::MsiMessage remappable(unsigned handle) {
        return {0xfee00000ull | (handle & 0x7fff) << 5 | (1u << 4) | ((handle >> 15) & 1) << 2, 0};
    }
};

TEST_F(VtdIrTest, RemappableMsisBecomeTheirIrte) {
    irte(2, 0xee, 1, kRid);
    auto out = unit.remap(kRid, remappable(2));
    ASSERT_TRUE(out);
    EXPECT_EQ(out->address, 0xfee01000u) << "physical destination 1";
    EXPECT_EQ(out->data, 0xeeu);
    hv::MsiMessage shv = remappable(1);
    shv.address |= 1u << 3;   // SHV: handle 1 + subhandle 1
    shv.data = 1;
    ASSERT_TRUE(unit.remap(kRid, shv));
    EXPECT_EQ(unit.remap(kRid, shv)->data, 0xeeu);
    irte(3, 0xed, 0, 0x18);
    ASSERT_TRUE(unit.remap(hv::kNoRequesterId, remappable(3))) << "the I/O APIC's requests carry no source-id to check";
    EXPECT_EQ(r32(kFsts), 0u);
}

TEST_F(VtdIrTest, BlockedRequestsRecordTheirFault) {
    EXPECT_FALSE(unit.remap(kRid, remappable(16)));
    EXPECT_EQ(pending_reason(0), 0x21u) << "index past the 16 entries";
    EXPECT_EQ(r64(kFrcd + 16 * pending(0)) >> 48, 16u) << "fault info: the index";
    EXPECT_FALSE(unit.remap(kRid, remappable(4)));
    EXPECT_EQ(pending_reason(1), 0x22u) << "not present";
    irte(5, 0x30, 0, 0x18);
    EXPECT_FALSE(unit.remap(kRid, remappable(5)));
    EXPECT_EQ(pending_reason(2), 0x26u) << "source-id mismatch";
    clear_faults();
    irte(6, 0x30, 0, kRid);
    put64(kIrt + 16 * 6, 1 | uint64_t{0x30} << 16 | uint64_t{0x01} << 32);   // xAPIC destination's reserved bits
    EXPECT_FALSE(unit.remap(kRid, remappable(6)));
    EXPECT_EQ(pending_reason(0), 0x24u);
    EXPECT_FALSE(unit.remap(kRid, hv::MsiMessage{0xfee00000, 0x30}));
    EXPECT_EQ(pending_reason(1), 0x25u) << "compatibility format blocked without CFI";
    EXPECT_EQ(frcd_hi(pending(1) % kFaultRecords) & 0xffff, kRid);
    EXPECT_FALSE(unit.remap(hv::kNoRequesterId, hv::MsiMessage{0xfee00000, 0x30}));
    EXPECT_EQ(frcd_hi(pending(2) % kFaultRecords) & 0xffff, kIoApicSourceId);
    command(kCfi);
    EXPECT_TRUE(unit.remap(kRid, hv::MsiMessage{0xfee00000, 0x30})) << "CFI lets it through";
    clear_faults();
    irte(7, 0x30, 0, 0x18, true);   // FPD
    EXPECT_FALSE(unit.remap(kRid, remappable(7)));
    EXPECT_EQ(r32(kFsts) & 0xff, 0u) << "fault processing disabled (FRI, bits 15:8, keeps its last value)";
    EXPECT_FALSE(unit.remap(kRid, hv::MsiMessage{remappable(1).address | (uint64_t{1} << 32), 0}));
    EXPECT_EQ(pending_reason(0), 0x20u) << "address bits 63:32 reserved";
    w32(kGcmd, r32(kGsts) & ~kIre);
    EXPECT_TRUE(unit.remap(kRid, remappable(4))) << "remapping off: as it is";
}

TEST_F(VtdIrTest, IrteTableOutsideRamIsAFault) {
    w64(kIrta, 0x7fff'f000 | 0x3);
    command(kSirtp);
    EXPECT_FALSE(unit.remap(kRid, remappable(1)));
    EXPECT_EQ(fault_reason(0), 0x23u);
}

TEST_F(VtdTest, EduDmaThroughTheUnitAsKvmUnitTestsDoesIt) {
    // x86/intel-iommu.c vtd_test_dmar: IOVA 0 -> a page; 4 bytes to the device, back at +4.
    pci::Edu edu(unit, {}, {});
    edu.set_requester_id(kRid);
    std::array<uint8_t, 2> cmd{static_cast<uint8_t>(pci::cfg::kCmdMemory | pci::cfg::kCmdBusMaster), 0};
    edu.config_write(pci::cfg::kCommand, cmd);
    tables();
    map4k(0, 0x200000);
    ASSERT_TRUE(mem.write_obj<uint32_t>(0x200000, 0x12345678));
    auto reg = [&](uint64_t off, uint64_t v, size_t size) {
        std::array<uint8_t, 8> b{};
        bus::u64_to_span(v, b);
        edu.bar_write(0, off, std::span(b).first(size));
    };
    reg(pci::Edu::kRegDmaSrc, 0, 8);
    reg(pci::Edu::kRegDmaDst, pci::Edu::kDmaBufferStart, 8);
    reg(pci::Edu::kRegDmaCount, 4, 8);
    reg(pci::Edu::kRegDmaCmd, pci::Edu::kDmaRun, 4);
    reg(pci::Edu::kRegDmaSrc, pci::Edu::kDmaBufferStart, 8);
    reg(pci::Edu::kRegDmaDst, 4, 8);
    reg(pci::Edu::kRegDmaCmd, pci::Edu::kDmaRun | pci::Edu::kDmaToRam, 4);
    EXPECT_EQ(mem.read_obj<uint32_t>(0x200004).value(), 0x12345678u);
    reg(pci::Edu::kRegDmaDst, 0x7000, 8);   // not mapped: a fault, nothing written
    reg(pci::Edu::kRegDmaCmd, pci::Edu::kDmaRun | pci::Edu::kDmaToRam, 4);
    EXPECT_EQ(fault_reason(0), unsigned(Fault::Write));
    EXPECT_EQ(mem.read_obj<uint32_t>(0x7000).value(), 0u);
}

}  // namespace
}  // namespace popek::devices::iommu
