#pragma once
/// vmm::XenPhysmap: pages popek maps into a `--xen` guest's physical address space where there is
/// no RAM. Xen's XENMEM_add_to_physmap (xen/memory.h) puts a frame at any gpfn the guest names;
/// Linux PVH names gpfns above RAM for its grant table (drivers/xen/unpopulated-alloc.c takes a
/// free, section-aligned range of the iomem space and xen_xlate_map_ballooned_pages maps the
/// frames there). popek's guest RAM is fixed, so those pages are served as MMIO: this device
/// covers the address space between the end of low RAM and the fixed MMIO devices, and each
/// access reaches the page mapped at its gpfn (reads of unmapped gpfns return all ones, writes
/// are dropped, as for any unclaimed MMIO).
///
/// The pages are host memory popek owns (the grant table's frames); their owner keeps them alive
/// for the VM's life. Thread-safe: vCPUs access while another vCPU's hypercall maps a page.
#include <cstdint>
#include <map>
#include <mutex>
#include <span>
#include <utility>
#include <vector>

#include "bus/device.h"

namespace popek::vmm {

class XenPhysmap final : public bus::Device {
public:
    /// The device covers [base, base + size) of the guest's physical address space.
    XenPhysmap(uint64_t base, uint64_t size) : m_base(base), m_size(size) {}

    std::string_view name() const override { return "xen-physmap"; }
    uint64_t base() const { return m_base; }
    uint64_t size() const { return m_size; }

    /// Shows `page` (4 KiB) at guest frame `gpfn`; a page mapped elsewhere before moves there.
    /// False when gpfn is outside the window.
    bool map(uint64_t gpfn, std::span<uint8_t> page);
    size_t mapped_pages() const;
    /// Every mapping, gpfn → page (snapshots).
    std::vector<std::pair<uint64_t, uint8_t*>> mappings() const;

    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;
    /// Its pages are popek's memory (grant frames placed outside RAM), never guest RAM: an exit it
    /// handles (Linux PVH writing a grant entry, each one an MMIO exit) leaves the own engine's
    /// decoded code trusted.
    bool writes_guest_ram() const override { return false; }

private:
    /// The host bytes for [offset, offset + len) when they lie in one mapped page.
    uint8_t* locate(uint64_t offset, size_t len) const;

    const uint64_t m_base, m_size;
    mutable std::mutex m_lock;
    std::map<uint64_t, uint8_t*> m_pages;   ///< gpfn → page
};

}  // namespace popek::vmm
