#include "emu/bt/reg_cache.h"

namespace popek::emu::bt {
namespace {

const Xbyak::Reg64 kPoolRegs[RegCache::kPool] = {Xbyak::util::rbp, Xbyak::util::r12, Xbyak::util::r13,
                                                 Xbyak::util::r14, Xbyak::util::r15, Xbyak::util::rdi,
                                                 Xbyak::util::r11, Xbyak::util::r8,  Xbyak::util::r9};

}  // namespace

RegCache::RegCache(Xbyak::CodeGenerator& gen, int32_t gpr) : m_gen(gen), m_gpr(gpr) {
    for (auto& h : m_state.host_of) h = -1;
    for (auto& g : m_guest_of) g = -1;
}

Xbyak::Address RegCache::slot(unsigned g) const { return Xbyak::util::qword[Xbyak::util::rbx + m_gpr + static_cast<int32_t>(8 * g)]; }

int RegCache::allocate(unsigned g) {
    int pick = -1;
    for (int i = 0; i < kPool; ++i) {
        if (m_guest_of[i] == -1) {
            pick = i;
            break;
        }
    }
    if (pick < 0) {   // evict the least recently used register the instruction does not hold
        for (int i = 0; i < kPool; ++i) {
            if (((m_pinned >> i) & 1u) || m_guest_of[i] == kReserved) continue;
            if (pick < 0 || m_last_use[i] < m_last_use[pick]) pick = i;
        }
        if (pick < 0) throw Xbyak::Error(Xbyak::ERR_INTERNAL);   // the block is interpreted instead
        const auto old = static_cast<unsigned>(m_guest_of[pick]);
        if ((m_state.dirty >> old) & 1u) m_gen.mov(slot(old), kPoolRegs[pick]);
        m_state.dirty = static_cast<uint16_t>(m_state.dirty & ~(1u << old));
        m_state.host_of[old] = -1;
    }
    m_guest_of[pick] = static_cast<int8_t>(g);
    m_state.host_of[g] = static_cast<int8_t>(pick);
    return pick;
}

const Xbyak::Reg64& RegCache::read(unsigned g) {
    int h = m_state.host_of[g];
    if (h < 0) {
        h = allocate(g);
        m_gen.mov(kPoolRegs[h], slot(g));
    }
    m_last_use[h] = ++m_clock;
    m_pinned |= 1u << h;
    return kPoolRegs[h];
}

const Xbyak::Reg64& RegCache::write(unsigned g) {
    int h = m_state.host_of[g];
    if (h < 0) h = allocate(g);
    m_last_use[h] = ++m_clock;
    m_pinned |= 1u << h;
    mark(g);
    return kPoolRegs[h];
}

void RegCache::flush() {
    emit_write_back(m_state);
    m_state.dirty = 0;
}

int RegCache::reserve() {
    for (int i = 0; i < kPool; ++i) {
        if (m_guest_of[i] == -1) {
            m_guest_of[i] = kReserved;
            return i;
        }
    }
    return -1;
}

const Xbyak::Reg64& RegCache::host(int index) { return kPoolRegs[index]; }

void RegCache::forget() {
    for (auto& h : m_state.host_of) h = -1;
    for (auto& g : m_guest_of)
        if (g != kReserved) g = -1;
    m_state.dirty = 0;
    m_pinned = 0;
}

void RegCache::emit_write_back(const State& s) {
    for (unsigned g = 0; g < kGuestRegs; ++g)
        if (((s.dirty >> g) & 1u) && s.host_of[g] >= 0) m_gen.mov(slot(g), kPoolRegs[s.host_of[g]]);
}

void RegCache::emit_reload(const State& s) {
    for (unsigned g = 0; g < kGuestRegs; ++g)
        if (s.host_of[g] >= 0) m_gen.mov(kPoolRegs[s.host_of[g]], slot(g));
}

RegCache::Snapshot RegCache::save() const {
    Snapshot s{m_state, {}, {}, m_clock, m_pinned};
    for (int i = 0; i < kPool; ++i) {
        s.guest_of[i] = m_guest_of[i];
        s.last_use[i] = m_last_use[i];
    }
    return s;
}

void RegCache::restore(const Snapshot& s) {
    m_state = s.state;
    for (int i = 0; i < kPool; ++i) {
        m_guest_of[i] = s.guest_of[i];
        m_last_use[i] = s.last_use[i];
    }
    m_clock = s.clock;
    m_pinned = s.pinned;
}

void RegCache::emit_transition(const State& head) const {
    // Stores first: a host register about to be loaded may hold another dirty guest register.
    for (unsigned g = 0; g < kGuestRegs; ++g) {
        const int now = m_state.host_of[g];
        if (now >= 0 && now != head.host_of[g] && ((m_state.dirty >> g) & 1u)) m_gen.mov(slot(g), kPoolRegs[now]);
    }
    for (unsigned g = 0; g < kGuestRegs; ++g)
        if (head.host_of[g] >= 0 && m_state.host_of[g] != head.host_of[g]) m_gen.mov(kPoolRegs[head.host_of[g]], slot(g));
}

}  // namespace popek::emu::bt
