#pragma once
/// Intel VT-d (Virtualization Technology for Directed I/O, architecture specification rev 3.x)
/// constants popek's remapping unit uses: the register map (§10.4), the legacy-mode translation
/// structures (§9.1 root entry, §9.3 context entry, §9.8 second-level paging entries), the
/// interrupt remapping table entry (§9.10) and the fault reasons (§7.1.3, appendix A).
#include <cstdint>

namespace popek::devices::iommu::vtd {

/// Where q35 puts the unit and its size (one 4 KiB page of registers).
inline constexpr uint64_t kBase = 0xfed90000;
inline constexpr uint64_t kSize = 0x1000;
/// The source-id the DMAR table gives the I/O APIC (bus 0xff, device 0, function 0: QEMU's
/// Q35_PSEUDO_BUS_PLATFORM); used in fault records of its interrupts.
inline constexpr uint16_t kIoApicSourceId = 0xff00;

/// Register offsets (§10.4).
enum Reg : uint32_t {
    kVer = 0x00, kCap = 0x08, kEcap = 0x10, kGcmd = 0x18, kGsts = 0x1c, kRtaddr = 0x20, kCcmd = 0x28,
    kFsts = 0x34, kFectl = 0x38, kFedata = 0x3c, kFeaddr = 0x40, kFeuaddr = 0x44,
    kIqh = 0x80, kIqt = 0x88, kIqa = 0x90, kIcs = 0x9c, kIectl = 0xa0, kIedata = 0xa4, kIeaddr = 0xa8,
    kIeuaddr = 0xac, kIrta = 0xb8,
    kIva = 0xf0, kIotlb = 0xf8,     ///< IOTLB registers at ECAP.IRO * 16 (§10.4.8)
    kFrcd = 0x220,                  ///< fault recording registers at CAP.FRO * 16 (§10.4.14)
};
inline constexpr unsigned kFaultRecords = 4;   ///< CAP.NFR + 1

/// §10.4.1: version 1.0.
inline constexpr uint32_t kVersion = 0x10;
/// Widths: MGAW 39 bits (3-level second-level tables, SAGAW bit 1) and host address width 39.
inline constexpr unsigned kGuestAddressWidth = 39;
inline constexpr unsigned kHostAddressWidth = 39;
inline constexpr uint64_t kHostAddressMask = (uint64_t{1} << kHostAddressWidth) - 1;

/// §10.4.2 capability register: ND = 6 (64K domains), SAGAW 39-bit, MGAW, FRO, SLLPS 2 MiB and
/// 1 GiB, PSI with MAMV 18, NFR. No caching mode, no PMRs, no AFL, no RWBF.
inline constexpr uint64_t kCapSagaw39 = uint64_t{1} << 9;
inline constexpr uint64_t kCapSllps2M = uint64_t{1} << 34, kCapSllps1G = uint64_t{1} << 35;
inline constexpr uint64_t kCapValue = 6 | kCapSagaw39 | uint64_t{kGuestAddressWidth - 1} << 16 | uint64_t{kFrcd / 16} << 24 |
                                 kCapSllps2M | kCapSllps1G | uint64_t{1} << 39 | uint64_t{kFaultRecords - 1} << 40 |
                                 uint64_t{18} << 48;
/// §10.4.3 extended capability register: C (page walks are coherent), QI, IR, PT, IRO, MHMV 15;
/// no device TLBs, no EIM (xAPIC destinations only: QEMU's eim=off), no scalable mode.
inline constexpr uint64_t kEcapCoherent = 1u << 0, kEcapQi = 1u << 1, kEcapIr = 1u << 3, kEcapPt = 1u << 6;
inline constexpr uint64_t kEcapValue = kEcapCoherent | kEcapQi | kEcapIr | kEcapPt | uint64_t{kIva / 16} << 8 | uint64_t{15} << 20;

/// §10.4.4 / §10.4.5 global command and status bits.
inline constexpr uint32_t kTe = 1u << 31, kSrtp = 1u << 30, kSfl = 1u << 29, kEafl = 1u << 28, kWbf = 1u << 27,
                          kQie = 1u << 26, kIre = 1u << 25, kSirtp = 1u << 24, kCfi = 1u << 23;
/// §10.4.9 fault status bits.
inline constexpr uint32_t kFstsPfo = 1u << 0, kFstsPpf = 1u << 1, kFstsIqe = 1u << 4, kFstsIce = 1u << 5,
                          kFstsIte = 1u << 6;
/// §10.4.10 / §10.4.25 event control: interrupt mask and pending.
inline constexpr uint32_t kEventMask = 1u << 31, kEventPending = 1u << 30;
/// §10.4.7 / §10.4.8: invalidate bits of CCMD (ICC) and IOTLB_REG (IVT).
inline constexpr uint64_t kCcmdIcc = uint64_t{1} << 63, kIotlbIvt = uint64_t{1} << 63;

/// Fault reasons (§7.1.3 and appendix A: non-recoverable fault conditions).
enum class Fault : uint8_t {
    RootNotPresent = 0x1,
    ContextNotPresent = 0x2,
    ContextInvalid = 0x3,       ///< unsupported AW or translation type
    AddressBeyondMgaw = 0x4,
    Write = 0x5,                ///< no write permission on the walk
    Read = 0x6,                 ///< no read permission (or not present)
    PagingEntryAccess = 0x7,    ///< a paging entry outside RAM
    RootTableAccess = 0x8,
    ContextTableAccess = 0x9,
    RootReserved = 0xa,
    ContextReserved = 0xb,
    PagingEntryReserved = 0xc,
    IrRequestReserved = 0x20,
    IrIndexOutOfRange = 0x21,
    IrEntryNotPresent = 0x22,
    IrTableAccess = 0x23,
    IrEntryReserved = 0x24,
    IrCompatBlocked = 0x25,
    IrSourceIdMismatch = 0x26,
};

}  // namespace popek::devices::iommu::vtd
