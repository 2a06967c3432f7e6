#pragma once
/// Hypercall arguments are guest-virtual pointers (PVH guests run paged). GuestAccess copies them
/// in and out of guest RAM one page at a time through the engine's translation, so a struct that
/// straddles two virtually-contiguous but physically-scattered pages is read correctly, and any
/// untranslatable or non-RAM byte turns into -EFAULT for the guest.
#include <cstdint>
#include <functional>
#include <span>
#include <type_traits>

#include "memory/guest_memory.h"
#include "pv/pv_result.h"
#include "pv/ram_writes.h"
#include "util/result.h"

namespace popek::pv {

class GuestAccess {
public:
    /// Guest-virtual → guest-physical for one vCPU's current address space. An empty function means
    /// identity (guests running unpaged, and tests).
    using Translate = std::function<Result<uint64_t>(int vcpu, uint64_t gva)>;

    /// Every write is reported to `writes` (not owned, may be null).
    GuestAccess(const memory::GuestMemory& mem, Translate translate, const RamWrites* writes = nullptr)
        : m_mem(mem), m_translate(std::move(translate)), m_writes(writes) {}

    PvResult<void> read(int vcpu, uint64_t gva, std::span<uint8_t> out) const;
    PvResult<void> write(int vcpu, uint64_t gva, std::span<const uint8_t> in) const;

    template <class T>
    PvResult<T> read_obj(int vcpu, uint64_t gva) const {
        static_assert(std::is_trivially_copyable_v<T>);
        T value;
        TRY_VOID(read(vcpu, gva, std::span(reinterpret_cast<uint8_t*>(&value), sizeof(T))));
        return value;
    }
    template <class T>
    PvResult<void> write_obj(int vcpu, uint64_t gva, const T& value) const {
        static_assert(std::is_trivially_copyable_v<T>);
        return write(vcpu, gva, std::span(reinterpret_cast<const uint8_t*>(&value), sizeof(T)));
    }

    const memory::GuestMemory& memory() const { return m_mem; }

private:
    /// Host span of the part of [gva, gva+len) that lies in gva's page.
    PvResult<std::span<uint8_t>> page_chunk(int vcpu, uint64_t gva, uint64_t len) const;

    const memory::GuestMemory& m_mem;
    Translate m_translate;
    const RamWrites* m_writes;
};

}  // namespace popek::pv
