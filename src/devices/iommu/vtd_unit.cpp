#include "devices/iommu/vtd_unit.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "devices/iommu/vtd_walk.h"

namespace popek::devices::iommu {
using namespace vtd;

namespace {

constexpr uint64_t kAddressField = kHostAddressMask & ~uint64_t{0xfff};
constexpr uint32_t kFaultStatusBits = kFstsPfo | kFstsPpf | kFstsIqe | kFstsIce | kFstsIte;
constexpr uint64_t kFrcdF = uint64_t{1} << 63, kFrcdRead = uint64_t{1} << 62;

bool overlaps(uint32_t offset, unsigned size, uint32_t reg, unsigned reg_size) {
    return offset < reg + reg_size && reg < offset + size;
}

}  // namespace

VtdUnit::VtdUnit(const memory::GuestMemory& mem, SendEvent send_event, WroteRam wrote)
    : m_mem(mem), m_send_event(std::move(send_event)), m_wrote(std::move(wrote)) {
    set(kVer, kVersion, 4);
    set(kCap, kCapValue, 8);
    set(kEcap, kEcapValue, 8);
    set(kFectl, kEventMask, 4);   // §10.4.10: IM is set at reset
    set(kIectl, kEventMask, 4);
    writable(kGcmd, 0xff80'0000, 4);
    writable(kRtaddr, kAddressField, 8);
    writable(kCcmd, 0xe000'0003'ffff'ffffull, 8);
    writable(kFsts, 0, 4, kFstsPfo | kFstsIqe | kFstsIce | kFstsIte);
    writable(kFectl, kEventMask, 4);
    writable(kFedata, 0xffff, 4);
    writable(kFeaddr, 0xffff'fffc, 4);
    writable(kFeuaddr, 0xffff'ffff, 4);
    writable(kIqt, 0x7fff0, 8);
    writable(kIqa, kAddressField | 7, 8);
    writable(kIcs, 0, 4, 1);
    writable(kIectl, kEventMask, 4);
    writable(kIedata, 0xffff, 4);
    writable(kIeaddr, 0xffff'fffc, 4);
    writable(kIeuaddr, 0xffff'ffff, 4);
    writable(kIrta, kAddressField | 0xf, 8);
    writable(kIva, kAddressField | 0x7f, 8);
    writable(kIotlb, 0xb003'ffff'0000'0000ull, 8);
    for (unsigned i = 0; i < kFaultRecords; ++i) writable(kFrcd + 16 * i + 8, 0, 8, kFrcdF);
}

uint64_t VtdUnit::get(uint32_t offset, unsigned size) const {
    uint64_t v = 0;
    for (unsigned i = 0; i < size && offset + i < kSize; ++i) v |= uint64_t{m_regs[offset + i]} << (8 * i);
    return v;
}

void VtdUnit::set(uint32_t offset, uint64_t value, unsigned size) {
    for (unsigned i = 0; i < size && offset + i < kSize; ++i) m_regs[offset + i] = static_cast<uint8_t>(value >> (8 * i));
}

void VtdUnit::writable(uint32_t offset, uint64_t mask, unsigned size, uint64_t w1c) {
    for (unsigned i = 0; i < size && offset + i < kSize; ++i) {
        m_writable[offset + i] = static_cast<uint8_t>(mask >> (8 * i));
        m_w1c[offset + i] = static_cast<uint8_t>(w1c >> (8 * i));
    }
}

uint64_t VtdUnit::reg64(uint32_t offset) {
    std::lock_guard lock(m_mutex);
    return get(offset, 8);
}

uint32_t VtdUnit::reg32(uint32_t offset) {
    std::lock_guard lock(m_mutex);
    return static_cast<uint32_t>(get(offset, 4));
}

void VtdUnit::read(uint64_t offset, std::span<uint8_t> data) {
    std::fill(data.begin(), data.end(), uint8_t{0xff});
    if ((data.size() != 4 && data.size() != 8) || offset % data.size() != 0 || offset + data.size() > kSize) return;
    std::lock_guard lock(m_mutex);
    std::copy_n(m_regs.begin() + static_cast<ptrdiff_t>(offset), data.size(), data.begin());
}

void VtdUnit::write(uint64_t offset, std::span<const uint8_t> data) {
    if ((data.size() != 4 && data.size() != 8) || offset % data.size() != 0 || offset + data.size() > kSize) return;
    std::vector<hv::MsiMessage> events;
    {
        std::lock_guard lock(m_mutex);
        for (size_t i = 0; i < data.size(); ++i) {
            const size_t at = offset + i;
            const uint8_t v = data[i];
            uint8_t b = static_cast<uint8_t>((m_regs[at] & ~m_writable[at]) | (v & m_writable[at]));
            m_regs[at] = static_cast<uint8_t>(b & ~(v & m_w1c[at]));
        }
        Event e = after_write(static_cast<uint32_t>(offset), static_cast<unsigned>(data.size()), bus::span_to_u64(data));
        if (e) events.push_back(*e);
        // A second event (a queue error after a wait's completion) waits in m_pending.
        if (m_pending) events.push_back(*std::exchange(m_pending, std::nullopt));
    }
    for (const auto& e : events) send(e);
}

VtdUnit::Event VtdUnit::after_write(uint32_t offset, unsigned size, uint64_t) {
    Event event;
    if (overlaps(offset, size, kGcmd, 4)) {
        global_command(static_cast<uint32_t>(get(kGcmd, 4)));
        set(kGcmd, 0, 4);   // write-only: reads 0
    }
    if (overlaps(offset, size, kCcmd + 4, 4)) {
        uint64_t c = get(kCcmd, 8);
        if (c & kCcmdIcc) {   // done at once; actual granularity (60:59) = requested (62:61)
            c = (c & ~(kCcmdIcc | uint64_t{3} << 59)) | ((c >> 61) & 3) << 59;
            set(kCcmd, c, 8);
        }
    }
    if (overlaps(offset, size, kIotlb + 4, 4)) {
        uint64_t c = get(kIotlb, 8);
        if (c & kIotlbIvt) {   // done at once; actual granularity (58:57) = requested (61:60)
            c = (c & ~(kIotlbIvt | uint64_t{3} << 57)) | ((c >> 60) & 3) << 57;
            set(kIotlb, c, 8);
        }
    }
    if (overlaps(offset, size, kFsts, 4) || overlaps(offset, size, kFrcd, 16 * kFaultRecords)) update_fault_pending();
    if (overlaps(offset, size, kFectl, 4)) {
        const uint32_t c = static_cast<uint32_t>(get(kFectl, 4));
        if (!(c & kEventMask) && (c & kEventPending)) {
            set(kFectl, c & ~kEventPending, 4);
            event = hv::MsiMessage{get(kFeaddr, 4) | get(kFeuaddr, 4) << 32, static_cast<uint32_t>(get(kFedata, 4))};
        }
    }
    if (overlaps(offset, size, kIcs, 4) && !(get(kIcs, 4) & 1)) set(kIectl, get(kIectl, 4) & ~uint64_t{kEventPending}, 4);
    if (overlaps(offset, size, kIectl, 4)) {
        const uint32_t c = static_cast<uint32_t>(get(kIectl, 4));
        if (!(c & kEventMask) && (c & kEventPending)) {
            set(kIectl, c & ~kEventPending, 4);
            event = hv::MsiMessage{get(kIeaddr, 4) | get(kIeuaddr, 4) << 32, static_cast<uint32_t>(get(kIedata, 4))};
        }
    }
    if (overlaps(offset, size, kIqt, 4)) {
        if (Event e = process_queue()) event = e;
    }
    return event;
}

void VtdUnit::global_command(uint32_t command) {
    uint32_t status = static_cast<uint32_t>(get(kGsts, 4));
    auto follow = [&](uint32_t bit) { status = (command & bit) ? (status | bit) : (status & ~bit); };
    follow(kTe);
    follow(kIre);
    follow(kCfi);
    if (command & kSrtp) {
        m_root_table = get(kRtaddr, 8) & kAddressField;
        status |= kSrtp;   // RTPS
    }
    if (command & kSirtp) {
        const uint64_t irta = get(kIrta, 8);
        m_irt = InterruptTable{irta & kAddressField, 2u << (irta & 0xf)};
        status |= kSirtp;   // IRTPS
    }
    if ((command & kQie) != ((status & kQie) != 0)) set(kIqh, 0, 8);   // §10.4.22: IQH restarts at 0
    follow(kQie);
    set(kGsts, status, 4);
}

VtdUnit::Event VtdUnit::process_queue() {
    Event event;
    if (!(get(kGsts, 4) & kQie) || (get(kFsts, 4) & kFstsIqe)) return event;
    const uint64_t iqa = get(kIqa, 8);
    const uint64_t base = iqa & kAddressField, bytes = uint64_t{4096} << (iqa & 7);
    uint64_t head = get(kIqh, 8) & 0x7fff0;
    const uint64_t tail = get(kIqt, 8) & 0x7fff0;
    auto queue_error = [&] {
        const uint32_t before = static_cast<uint32_t>(get(kFsts, 4));
        set(kFsts, before | kFstsIqe, 4);
        return fault_condition(before);
    };
    if (tail >= bytes || head >= bytes) {
        Event e = queue_error();
        return e ? e : event;
    }
    // At most one lap of the queue: every descriptor is consumed or stops the queue.
    for (uint64_t n = 0; head != tail && n < bytes / 16; ++n) {
        auto d = m_mem.read_obj<std::array<uint64_t, 2>>(base + head);
        if (!d || !queue_descriptor((*d)[0], (*d)[1], event)) {
            Event e = queue_error();
            if (e) {
                if (event) m_pending = e;
                else event = e;
            }
            break;
        }
        head = (head + 16) % bytes;
        set(kIqh, head, 8);
    }
    return event;
}

bool VtdUnit::queue_descriptor(uint64_t lo, uint64_t hi, Event& event) {
    // §6.5.2: type in bits 3:0 (and 11:9, which must be 0 in 128-bit descriptors).
    switch (lo & 0xe0f) {
    case 0x1:   // context-cache invalidate (§6.5.2.1): G 5:4, DID 31:16, SID 47:32, FM 49:48
        return !(lo & 0xfffc'0000'0000'ffc0ull) && hi == 0 && ((lo >> 4) & 3) != 0;
    case 0x2:   // IOTLB invalidate (§6.5.2.3): G 5:4, DW 6, DR 7, DID 31:16; ADDR, IH, AM
        return !(lo & 0xffff'ffff'0000'ff00ull) && !(hi & 0xf80) && ((lo >> 4) & 3) != 0;
    case 0x4:   // interrupt entry cache invalidate (§6.5.2.7): G 4, IM 31:27, IIDX 47:32
        return !(lo & 0xffff'0000'07ff'ffe0ull) && hi == 0;
    case 0x5: {   // invalidation wait (§6.5.2.8): IF 4, SW 5, FN 6; status data 63:32, address
        if ((lo & 0xffff'ff80ull) || (hi & 3)) return false;
        if (lo & (1u << 5)) {
            const uint32_t status = static_cast<uint32_t>(lo >> 32);
            // A status address outside RAM is a write to nothing, as on a bus.
            if (m_mem.write_obj(hi & ~uint64_t{3}, status) && m_wrote) m_wrote(hi & ~uint64_t{3}, 4);
        }
        if (lo & (1u << 4)) {
            const bool was = (get(kIcs, 4) & 1) != 0;
            set(kIcs, 1, 4);
            if (!was) {   // a new completion condition (§10.4.25)
                const uint32_t c = static_cast<uint32_t>(get(kIectl, 4));
                if (c & kEventMask) set(kIectl, c | kEventPending, 4);
                else event = hv::MsiMessage{get(kIeaddr, 4) | get(kIeuaddr, 4) << 32, static_cast<uint32_t>(get(kIedata, 4))};
            }
        }
        return true;
    }
    default: return false;   // 0, device-TLB (no ECAP.DT), PASID types: invalid here
    }
}

VtdUnit::Event VtdUnit::fault_condition(uint32_t before) {
    // §7.3: a status bit set while another was already set is no new interrupt condition.
    if (before & kFaultStatusBits) return std::nullopt;
    const uint32_t c = static_cast<uint32_t>(get(kFectl, 4));
    if (c & kEventMask) {
        set(kFectl, c | kEventPending, 4);
        return std::nullopt;
    }
    return hv::MsiMessage{get(kFeaddr, 4) | get(kFeuaddr, 4) << 32, static_cast<uint32_t>(get(kFedata, 4))};
}

VtdUnit::Event VtdUnit::record_fault(uint16_t source, Fault reason, uint64_t info, bool write_request) {
    const uint32_t before = static_cast<uint32_t>(get(kFsts, 4));
    uint32_t status = before;
    const uint32_t at = kFrcd + 16 * m_next_record;
    if (get(at + 8, 8) & kFrcdF) {
        status |= kFstsPfo;   // §7.2.1: the next register still holds an unserviced fault
    } else {
        set(at, info & ~uint64_t{0xfff}, 8);
        set(at + 8, kFrcdF | (write_request ? 0 : kFrcdRead) | uint64_t{static_cast<uint8_t>(reason)} << 32 | source, 8);
        if (!(status & kFstsPpf)) status = (status & ~0xff00u) | m_next_record << 8;   // FRI
        status |= kFstsPpf;
        m_next_record = (m_next_record + 1) % kFaultRecords;
    }
    set(kFsts, status, 4);
    return fault_condition(before);
}

void VtdUnit::update_fault_pending() {
    uint32_t status = static_cast<uint32_t>(get(kFsts, 4)) & ~kFstsPpf;
    for (unsigned i = 0; i < kFaultRecords; ++i)
        if (get(kFrcd + 16 * i + 8, 8) & kFrcdF) status |= kFstsPpf;
    set(kFsts, status, 4);
    if (!(status & kFaultStatusBits)) set(kFectl, get(kFectl, 4) & ~uint64_t{kEventPending}, 4);
}

bool VtdUnit::dma(uint16_t requester, uint64_t address, uint8_t* bytes, uint64_t len, bool write) {
    Event event;
    bool ok = true;
    std::vector<std::pair<uint64_t, uint64_t>> written;
    {
        std::lock_guard lock(m_mutex);
        const bool translating = (get(kGsts, 4) & kTe) != 0;
        uint64_t done = 0;
        while (done < len) {
            uint64_t at = address + done, chunk = len - done;
            if (translating) {
                const Translation t = translate(m_mem, m_root_table, requester, at, write);
                if (!t.ok) {
                    if (!t.fault_recording_disabled) event = record_fault(requester, t.fault, at, write);
                    ok = false;
                    break;
                }
                at = t.address;
                chunk = std::min(chunk, t.remaining);
            }
            const auto span = std::span(bytes + done, chunk);
            if (!(write ? static_cast<bool>(m_mem.write(at, span)) : static_cast<bool>(m_mem.read(at, span)))) {
                ok = false;   // translated (or untranslated) to something that is not RAM
                break;
            }
            if (write) written.emplace_back(at, chunk);
            done += chunk;
        }
    }
    if (m_wrote)
        for (auto [gpa, n] : written) m_wrote(gpa, n);
    send(event);
    return ok;
}

bool VtdUnit::read(uint16_t requester, uint64_t address, std::span<uint8_t> out) {
    return dma(requester, address, out.data(), out.size(), false);
}

bool VtdUnit::write(uint16_t requester, uint64_t address, std::span<const uint8_t> in) {
    // dma() only reads `bytes` when writing guest RAM.
    return dma(requester, address, const_cast<uint8_t*>(in.data()), in.size(), true);
}

std::optional<hv::MsiMessage> VtdUnit::remap(uint32_t requester, const hv::MsiMessage& message) {
    Event event;
    std::optional<hv::MsiMessage> out;
    {
        std::lock_guard lock(m_mutex);
        const uint32_t status = static_cast<uint32_t>(get(kGsts, 4));
        const uint16_t source = requester == hv::kNoRequesterId ? kIoApicSourceId : static_cast<uint16_t>(requester);
        if (!(status & kIre)) {
            out = message;   // remapping disabled: every request goes through as it is
        } else if (!(message.address & (1u << 4))) {
            // §5.1.4: compatibility format is blocked unless GSTS.CFIS.
            if (status & kCfi) out = message;
            else event = record_fault(source, Fault::IrCompatBlocked, 0, true);
        } else {
            const RemapResult r = remap_interrupt(m_mem, m_irt, requester, message);
            if (r.ok) out = r.msi;
            else if (!r.fault_recording_disabled) event = record_fault(source, r.fault, uint64_t{r.index} << 48, true);
        }
    }
    send(event);
    return out;
}

void VtdUnit::send(const Event& event) {
    if (event && m_send_event) m_send_event(*event);
}

}  // namespace popek::devices::iommu
