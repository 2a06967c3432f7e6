#include "emu/cpu.h"

#include "emu/bt/translator.h"
#include "emu/decode/block_cache.h"

namespace popek::emu {

Cpu::Cpu(EngineShared& shared, int index, CpuInterrupts* interrupts)
    : m_shared(shared), m_index(index), m_ints(interrupts) {
    flush_tlb();
    m_cache = new BlockCache(*this);
    reset_to_init();
    m_waiting_sipi = true;   // until set_state() or a SIPI (hv::Vcpu::set_state contract)
    if (shared.translate) enable_translation();
    if (index >= 0 && static_cast<size_t>(index) < shared.cpus.size()) shared.cpus[static_cast<size_t>(index)] = this;
}

Cpu::~Cpu() {
    m_shared.alarms.disarm(m_index);
    if (m_index >= 0 && static_cast<size_t>(m_index) < m_shared.cpus.size() &&
        m_shared.cpus[static_cast<size_t>(m_index)] == this)
        m_shared.cpus[static_cast<size_t>(m_index)] = nullptr;
    delete m_cache;
}

void Cpu::enable_translation() {
    if (!m_bt) m_bt = std::make_unique<bt::Translator>(*this, m_shared.translate_after, m_shared.bt_cache_bytes);
}

void Cpu::set_translator(std::unique_ptr<bt::Translator> t) { m_bt = std::move(t); }

void Cpu::load_state(const hv::CpuState& st) {
    for (int i = 0; i < 16; ++i) gpr[i] = st.gpr[static_cast<size_t>(i)];
    rip = st.rip;
    m_exits.forget();   // a state starts at an instruction boundary
    rflags = (st.rflags & 0x3f7fd5) | 2;
    seg[kEs] = st.es; seg[kCs] = st.cs; seg[kSs] = st.ss; seg[kDs] = st.ds; seg[kFs] = st.fs; seg[kGs] = st.gs;
    tr = st.tr;
    ldtr = st.ldtr;
    gdt = st.gdt;
    idt = st.idt;
    cr0 = st.cr0 | hv::kCr0Et;
    cr2 = st.cr2;
    cr3 = st.cr3;
    cr4 = st.cr4;
    efer = st.efer;
    apic_base = st.apic_base;
    if (m_ints) m_ints->set_cr8(st.cr8);
    // CPL is CS.RPL in protected mode (SDM Vol. 3A 5.5); KVM-style states keep it in SS.DPL too.
    cpl = (cr0 & hv::kCr0Pe) ? static_cast<uint8_t>(seg[kCs].selector & 3) : 0;
    update_mode();
    flush_tlb();
    m_runnable = true;
    m_waiting_sipi = false;
    m_shared.vcpus_up.set(m_index, true);
}

hv::CpuState Cpu::save_state() const {
    hv::CpuState st;
    for (int i = 0; i < 16; ++i) st.gpr[static_cast<size_t>(i)] = gpr[i];
    st.rip = rip;
    st.rflags = rflags;
    st.es = seg[kEs]; st.cs = seg[kCs]; st.ss = seg[kSs]; st.ds = seg[kDs]; st.fs = seg[kFs]; st.gs = seg[kGs];
    st.tr = tr;
    st.ldtr = ldtr;
    st.gdt = gdt;
    st.idt = idt;
    st.cr0 = cr0; st.cr2 = cr2; st.cr3 = cr3; st.cr4 = cr4;
    st.cr8 = m_ints ? m_ints->cr8() : 0;
    st.efer = efer;
    st.apic_base = apic_base;
    return st;
}

void Cpu::update_mode() {
    long_mode = (efer & hv::kEferLma) != 0;
    mode64 = long_mode && seg[kCs].l;
    if (!(cr0 & hv::kCr0Pe)) cpl = 0;
    code_bits = mode64 ? 64 : seg[kCs].db ? 32 : 16;
    update_tlb_class();
}

void Cpu::reset_to_init() {
    // SDM Vol. 3A 9.1.1 table 9-1: state after INIT (MSRs such as EFER are cleared too).
    std::fill(std::begin(gpr), std::end(gpr), 0);
    gpr[hv::RDX] = 0x600;   // family/model/stepping like CPUID.1:EAX
    rip = 0xfff0;
    rflags = 2;
    for (auto& s : seg) s = hv::Segment{0, 0xffff, 0, 3, true, 0, true, false, false, false, false, false};
    seg[kCs].selector = 0xf000;
    seg[kCs].base = 0xffff0000;
    seg[kCs].type = 0xb;
    tr = hv::Segment{0, 0xffff, 0, 0xb, false, 0, true, false, false, false, false, false};
    ldtr = hv::Segment{0, 0xffff, 0, 2, false, 0, true, false, false, false, false, false};
    gdt = {0, 0xffff};
    idt = {0, 0xffff};
    cr0 = 0x60000010;
    cr2 = cr3 = cr4 = 0;
    efer = 0;
    dr[6] = 0xffff0ff0;
    dr[7] = 0x400;
    fpu = FxsaveArea{};
    interrupt_shadow = false;
    m_exits.forget();   // an instruction interrupted by INIT is not resumed
    nmi_blocked = false;
    misc_features_enables = 0;
    m_debug.db_pending = 0;
    m_debug.db_held = 0;
    m_debug.movss_shadow = m_debug.after_movss = false;
    update_debug();
    cpl = 0;
    update_mode();
    flush_tlb();
}

void Cpu::start_at_sipi(uint8_t vector) {
    // SDM Vol. 3A 8.4.4.1 (MP initialization): CS = vector << 8, IP = 0.
    seg[kCs].selector = static_cast<uint16_t>(vector << 8);
    seg[kCs].base = uint64_t{vector} << 12;
    rip = 0;
    m_waiting_sipi = false;
    m_runnable = true;
    m_shared.vcpus_up.set(m_index, true);
}

void Cpu::raise(uint8_t vector) {
    m_event = Event{vector, false, 0, false, false, rip};
    std::longjmp(m_jmp, kUnwindEvent);
}

void Cpu::raise(uint8_t vector, uint32_t error) {
    m_event = Event{vector, true, error, false, false, rip};
    std::longjmp(m_jmp, kUnwindEvent);
}

void Cpu::raise_software(uint8_t vector) {
    m_event = Event{vector, false, 0, true, false, next_rip};
    std::longjmp(m_jmp, kUnwindEvent);
}

void Cpu::raise_trap(uint8_t vector) {
    m_event = Event{vector, false, 0, false, false, next_rip};
    std::longjmp(m_jmp, kUnwindEvent);
}

void Cpu::unwind_exit() { std::longjmp(m_jmp, kUnwindExit); }

void Cpu::request_stop() {
    m_stop.store(true);
    attention.store(true);
    if (m_ints) m_ints->kick();
}

void Cpu::request_start(const hv::CpuState& state) {
    {
        std::lock_guard lock(m_start_lock);
        m_start_state = state;
    }
    m_start_pending.store(true, std::memory_order_release);
    kick();
}

void Cpu::kick() {
    attention.store(true);
    if (m_ints) m_ints->kick();
}

void Cpu::invalidate_code_all() { m_cache->clear(); }

}  // namespace popek::emu
