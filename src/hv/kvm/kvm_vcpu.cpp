#include "hv/kvm/kvm_vcpu.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cstring>
#include <mutex>

#include "hv/kvm/kvm_abi.h"
#include "hv/xen/xen_personality.h"

namespace popek::hv::kvm {
namespace {

// request_stop() kicks a vCPU thread out of KVM_RUN with this signal; the handler does nothing,
// the point is that the ioctl returns EINTR.
constexpr int kKickSignal = SIGUSR1;

void install_kick_handler() {
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction sa {};
        sa.sa_handler = [](int) {};
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0;  // no SA_RESTART: KVM_RUN must return EINTR
        ::sigaction(kKickSignal, &sa, nullptr);
    });
}

Segment from_kvm(const kvm_segment& k) {
    return Segment{k.base, k.limit, k.selector, k.type, k.s != 0, k.dpl, k.present != 0, k.avl != 0,
                   k.l != 0, k.db != 0, k.g != 0, k.unusable != 0};
}

kvm_segment to_kvm(const Segment& s) {
    kvm_segment k{};
    k.base = s.base;
    k.limit = s.limit;
    k.selector = s.selector;
    k.type = s.type;
    k.present = s.present;
    k.dpl = s.dpl;
    k.db = s.db;
    k.s = s.s;
    k.l = s.l;
    k.g = s.g;
    k.avl = s.avl;
    k.unusable = s.unusable;
    return k;
}

}  // namespace

Result<std::unique_ptr<KvmVcpu>> KvmVcpu::create(const std::shared_ptr<const KvmSystem>& sys, int vm_fd,
                                                 int index, const VmConfig& config, bool irqchip,
                                                 const memory::GuestMemory* mem) {
    install_kick_handler();
    int fd = ::ioctl(vm_fd, KVM_CREATE_VCPU, static_cast<unsigned long>(index));
    if (fd < 0) return fail_errno("KVM_CREATE_VCPU {}", index);
    UniqueFd vfd(fd);
    void* run = ::mmap(nullptr, sys->run_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (run == MAP_FAILED) return fail_errno("mmap kvm_run of vCPU {}", index);
    std::unique_ptr<KvmVcpu> vcpu(new KvmVcpu(index, std::move(vfd), UniqueMapping(run, sys->run_mmap_size), irqchip));
    vcpu->m_xen = config.xen;
    vcpu->m_mem = mem;
    TRY_VOID(vcpu->set_cpuid(sys->supported_cpuid, config));
    return vcpu;
}

Result<void> KvmVcpu::set_cpuid(const std::vector<kvm_cpuid_entry2>& supported, const VmConfig& config) {
    std::vector<kvm_cpuid_entry2> entries = supported;
    if (config.xen) {
        // The Xen leaves replace KVM's own paravirt leaves at 0x40000000 (a guest that finds
        // "XenVMMXenVMM" there must not also believe it runs on KVM).
        std::erase_if(entries, [](const kvm_cpuid_entry2& e) { return (e.function & 0xffffff00u) == xen::kCpuidBase; });
        int khz = ::ioctl(m_fd.get(), KVM_GET_TSC_KHZ, 0);
        for (const auto& l : xen::cpuid_leaves(m_index, khz > 0 ? static_cast<uint32_t>(khz) : 0)) {
            kvm_cpuid_entry2 e{};
            e.function = l.function;
            e.index = l.index;
            e.eax = l.eax; e.ebx = l.ebx; e.ecx = l.ecx; e.edx = l.edx;
            entries.push_back(e);
        }
    }
    for (auto& e : entries) {
        if (e.function == 1) {
            // Initial APIC ID (SDM Vol. 2A CPUID leaf 01H, EBX[31:24]) and logical count.
            e.ebx = (e.ebx & 0x0000ffff) | (static_cast<uint32_t>(m_index) << 24) |
                    (static_cast<uint32_t>(config.vcpus) << 16);
        } else if (e.function == 0xb || e.function == 0x1f) {
            e.edx = static_cast<uint32_t>(m_index);  // x2APIC ID
        }
    }
    std::vector<uint8_t> buf(sizeof(KvmCpuid2Header) + entries.size() * sizeof(kvm_cpuid_entry2));
    auto* c = reinterpret_cast<KvmCpuid2Header*>(buf.data());
    c->nent = static_cast<uint32_t>(entries.size());
    std::memcpy(buf.data() + sizeof(KvmCpuid2Header), entries.data(), entries.size() * sizeof(kvm_cpuid_entry2));
    if (::ioctl(m_fd.get(), kKvmSetCpuid2, c) != 0) return fail_errno("KVM_SET_CPUID2");
    return {};
}

Result<void> KvmVcpu::start_from(const CpuState& state) {
    {
        std::lock_guard lock(m_start_lock);
        m_start = state;
    }
    m_start_pending.store(true);
    kick();   // out of KVM_RUN (an AP waiting for SIPI sleeps in it): run() takes the state
    return {};
}

Result<void> KvmVcpu::take_start() {
    if (!m_start_pending.exchange(false)) return {};
    std::optional<CpuState> st;
    {
        std::lock_guard lock(m_start_lock);
        st.swap(m_start);
    }
    if (!st) return {};
    kvm_mp_state mp{};
    if (::ioctl(m_fd.get(), KVM_GET_MP_STATE, &mp) != 0) return fail_errno("KVM_GET_MP_STATE");
    if (mp.mp_state != KVM_MP_STATE_UNINITIALIZED && mp.mp_state != KVM_MP_STATE_INIT_RECEIVED) return {};
    const CpuState own = TRY(get_state());
    st->apic_base = own.apic_base;   // the local APIC stays this vCPU's
    st->cr8 = own.cr8;
    return set_state(*st);
}

void KvmVcpu::request_stop() {
    m_stop.store(true);
    kick();
}

void KvmVcpu::kick() {
    m_run->immediate_exit = 1;
    if (m_thread_known.load()) ::pthread_kill(m_thread.load(), kKickSignal);
}

KvmVcpu::~KvmVcpu() {
    if (m_pause_gate) m_pause_gate->remove(this);
}

void KvmVcpu::join_pause_gate(std::shared_ptr<KvmPauseGate> gate) {
    m_pause_gate = std::move(gate);
    m_pause_gate->add({this, [this] { kick(); }, [this] { return m_stop.load(); }});
}

Result<VcpuExit> KvmVcpu::run() {
    if (!m_thread_known.load()) {
        m_thread.store(::pthread_self());
        m_thread_known.store(true);
    }
    if (m_hypercall_pending) TRY_VOID(finish_hypercall());
    for (;;) {
        if (m_stop.load()) return Shutdown{Shutdown::Stopped};
        TRY_VOID(take_start());
        // Paused (the API's PATCH /vm): park here, between two KVM_RUNs.
        if (m_pause_gate) m_pause_gate->park_if_paused([this] { return m_stop.load(); });
        if (::ioctl(m_fd.get(), KVM_RUN, 0) != 0) {
            if (errno == EINTR || errno == EAGAIN) {
                // A kick (pause or stop): the loop's checks above decide; a pause kick is cleared
                // here so that KVM_RUN runs the guest again after the resume.
                if (!m_stop.load()) m_run->immediate_exit = 0;
                continue;   // (a start_from kick: taken at the loop's top)
            }
            return fail_errno("KVM_RUN on vCPU {}", m_index);
        }
        auto* base = reinterpret_cast<uint8_t*>(m_run);
        switch (m_run->exit_reason) {
            case KVM_EXIT_IO: {
                ++m_stats.exits;
                if (m_xen) {
                    if (auto e = xen_exit()) return *e;
                }
                std::span<uint8_t> data(base + m_run->io.data_offset, size_t{m_run->io.size} * m_run->io.count);
                if (m_run->io.direction == KVM_EXIT_IO_OUT) return PioOut{m_run->io.port, m_run->io.size, data};
                return PioIn{m_run->io.port, m_run->io.size, data};
            }
            case KVM_EXIT_MMIO: {
                ++m_stats.exits;
                size_t len = std::min<size_t>(m_run->mmio.len, sizeof(m_run->mmio.data));
                std::span<uint8_t> data(m_run->mmio.data, len);
                if (m_run->mmio.is_write) return MmioWrite{m_run->mmio.phys_addr, data};
                return MmioRead{m_run->mmio.phys_addr, data};
            }
            case KVM_EXIT_X86_RDMSR:
            case KVM_EXIT_X86_WRMSR:
                ++m_stats.exits;
                handle_xen_msr();
                continue;
            case KVM_EXIT_HLT: return Halt{};
            case KVM_EXIT_SHUTDOWN: return Shutdown{Shutdown::TripleFault};
            case KVM_EXIT_INTR: continue;
            case KVM_EXIT_SYSTEM_EVENT: return Shutdown{Shutdown::TripleFault};
            case KVM_EXIT_FAIL_ENTRY:
                return InternalError{fmt::format("KVM entry failed, hardware reason {:#x}",
                                                 m_run->fail_entry.hardware_entry_failure_reason)};
            case KVM_EXIT_INTERNAL_ERROR:
                return InternalError{fmt::format("KVM internal error, suberror {}", m_run->internal.suberror)};
            default:
                return InternalError{fmt::format("unhandled KVM exit reason {}", m_run->exit_reason)};
        }
    }
}

std::optional<VcpuExit> KvmVcpu::xen_exit() {
    const auto& io = m_run->io;
    if (io.direction != KVM_EXIT_IO_OUT || !xen::is_hypercall_out(io.port, io.size, io.count)) return std::nullopt;
    uint32_t nr = 0;
    std::memcpy(&nr, reinterpret_cast<uint8_t*>(m_run) + io.data_offset, 4);
    auto st = get_state();
    if (!st) return InternalError{"hypercall: " + st.error().message};
    m_hypercall_pending = true;
    m_hypercall_result = 0;
    return xen::hypercall_from_state(nr, *st, &m_hypercall_result);
}

Result<void> KvmVcpu::finish_hypercall() {
    m_hypercall_pending = false;
    kvm_regs r{};
    if (::ioctl(m_fd.get(), KVM_GET_REGS, &r) != 0) return fail_errno("KVM_GET_REGS");
    r.rax = m_hypercall_result;
    if (::ioctl(m_fd.get(), KVM_SET_REGS, &r) != 0) return fail_errno("KVM_SET_REGS");
    return {};
}

Result<uint64_t> KvmVcpu::translate_gva(uint64_t gva) {
    kvm_translation t{};
    t.linear_address = gva;
    if (::ioctl(m_fd.get(), KVM_TRANSLATE, &t) != 0) return fail_errno("KVM_TRANSLATE {:#x}", gva);
    if (!t.valid) return fail("guest address {:#x} is not mapped", gva);
    return t.physical_address;
}

void KvmVcpu::handle_xen_msr() {
    auto& msr = m_run->msr;
    std::optional<bool> done;
    if (m_run->exit_reason == KVM_EXIT_X86_RDMSR) {
        uint64_t value = 0;
        done = xen::read_msr(msr.index, value);
        msr.data = value;
    } else if (m_mem != nullptr) {
        done = xen::write_msr(*m_mem, msr.index, msr.data);
    }
    msr.error = done.value_or(false) ? 0 : 1;  // #GP unless it is the one MSR popek owns, used right
}

Result<CpuState> KvmVcpu::get_state() {
    kvm_regs r{};
    kvm_sregs s{};
    if (::ioctl(m_fd.get(), KVM_GET_REGS, &r) != 0) return fail_errno("KVM_GET_REGS");
    if (::ioctl(m_fd.get(), KVM_GET_SREGS, &s) != 0) return fail_errno("KVM_GET_SREGS");
    CpuState st;
    st.gpr = {r.rax, r.rcx, r.rdx, r.rbx, r.rsp, r.rbp, r.rsi, r.rdi,
              r.r8,  r.r9,  r.r10, r.r11, r.r12, r.r13, r.r14, r.r15};
    st.rip = r.rip;
    st.rflags = r.rflags;
    st.cs = from_kvm(s.cs); st.ds = from_kvm(s.ds); st.es = from_kvm(s.es); st.fs = from_kvm(s.fs);
    st.gs = from_kvm(s.gs); st.ss = from_kvm(s.ss); st.tr = from_kvm(s.tr); st.ldtr = from_kvm(s.ldt);
    st.gdt = {s.gdt.base, s.gdt.limit};
    st.idt = {s.idt.base, s.idt.limit};
    st.cr0 = s.cr0; st.cr2 = s.cr2; st.cr3 = s.cr3; st.cr4 = s.cr4; st.cr8 = s.cr8;
    st.efer = s.efer;
    st.apic_base = s.apic_base;
    return st;
}

Result<void> KvmVcpu::set_state(const CpuState& st) {
    kvm_sregs s{};
    if (::ioctl(m_fd.get(), KVM_GET_SREGS, &s) != 0) return fail_errno("KVM_GET_SREGS");
    s.cs = to_kvm(st.cs); s.ds = to_kvm(st.ds); s.es = to_kvm(st.es); s.fs = to_kvm(st.fs);
    s.gs = to_kvm(st.gs); s.ss = to_kvm(st.ss); s.tr = to_kvm(st.tr); s.ldt = to_kvm(st.ldtr);
    s.gdt.base = st.gdt.base; s.gdt.limit = st.gdt.limit;
    s.idt.base = st.idt.base; s.idt.limit = st.idt.limit;
    s.cr0 = st.cr0; s.cr2 = st.cr2; s.cr3 = st.cr3; s.cr4 = st.cr4; s.cr8 = st.cr8;
    s.efer = st.efer;
    s.apic_base = st.apic_base;
    if (::ioctl(m_fd.get(), KVM_SET_SREGS, &s) != 0) return fail_errno("KVM_SET_SREGS");
    kvm_regs r{};
    const auto& g = st.gpr;
    r.rax = g[RAX]; r.rcx = g[RCX]; r.rdx = g[RDX]; r.rbx = g[RBX]; r.rsp = g[RSP]; r.rbp = g[RBP];
    r.rsi = g[RSI]; r.rdi = g[RDI]; r.r8 = g[R8]; r.r9 = g[R9]; r.r10 = g[R10]; r.r11 = g[R11];
    r.r12 = g[R12]; r.r13 = g[R13]; r.r14 = g[R14]; r.r15 = g[R15];
    r.rip = st.rip;
    r.rflags = st.rflags;
    if (::ioctl(m_fd.get(), KVM_SET_REGS, &r) != 0) return fail_errno("KVM_SET_REGS");
    if (m_irqchip) {
        // A vCPU given a state runs now (an AP would otherwise wait for INIT/SIPI).
        kvm_mp_state mp{KVM_MP_STATE_RUNNABLE};
        if (::ioctl(m_fd.get(), KVM_SET_MP_STATE, &mp) != 0) return fail_errno("KVM_SET_MP_STATE");
    }
    return {};
}

}  // namespace popek::hv::kvm
