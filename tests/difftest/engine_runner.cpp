#include "engine_runner.h"

#include <chrono>

#include "guest_setup.h"

namespace popek::difftest {
namespace {

constexpr auto kRunTimeout = std::chrono::seconds(10);
/// Exits a run may take before the sequence is declared runaway (a correct one takes one).
constexpr int kMaxExits = 4;

}  // namespace

Result<std::unique_ptr<EngineRunner>> EngineRunner::create(hv::Accel accel) {
    auto hv = TRY(hv::open_hypervisor(accel));
    std::unique_ptr<EngineRunner> r(new EngineRunner(std::move(hv)));
    TRY_VOID(r->build_vm());
    r->m_watchdog = std::thread([p = r.get()] { p->watchdog_loop(); });
    return r;
}

EngineRunner::~EngineRunner() {
    {
        std::lock_guard g(m_lock);
        m_quit = true;
    }
    m_quit_cv.notify_all();
    if (m_watchdog.joinable()) m_watchdog.join();
    // Members: vCPU and VM go before the memory they map.
    m_vcpu.reset();
    m_vm.reset();
}

Result<void> EngineRunner::build_vm() {
    std::lock_guard g(m_lock);
    m_vcpu.reset();
    m_vm.reset();
    m_mem.reset();
    m_mem.emplace(TRY(memory::GuestMemory::create(kGuestRamSize)));
    m_cr3 = TRY(write_system_structures(*m_mem));
    m_vm = TRY(m_hv->create_vm(hv::VmConfig{}));
    TRY_VOID(m_vm->set_memory(*m_mem));
    m_vcpu = TRY(m_vm->create_vcpu(0));
    return {};
}

void EngineRunner::watchdog_loop() {
    std::unique_lock g(m_lock);
    uint64_t seen = 0;
    auto since = std::chrono::steady_clock::now();
    while (!m_quit_cv.wait_for(g, std::chrono::milliseconds(250), [&] { return m_quit; })) {
        const uint64_t gen = m_generation.load();
        const auto now = std::chrono::steady_clock::now();
        if (gen != seen) {
            seen = gen;
            since = now;
        } else if ((gen & 1) != 0 && now - since > kRunTimeout && !m_timed_out.load()) {
            m_timed_out.store(true);
            if (m_vcpu) m_vcpu->request_stop();
        }
    }
}

Result<Outcome> EngineRunner::run(const Case& c) {
    const auto tail = engine_tail();
    if (c.code.size() + tail.size() > kCodeSize) return fail("case code too large");
    TRY_VOID(m_mem->write(kCodeAddr, c.code));
    TRY_VOID(m_mem->write(kCodeAddr + c.code.size(), tail));
    TRY_VOID(m_mem->write(kDataAddr, c.data));
    TRY_VOID(m_vcpu->set_state(initial_state(c.initial, m_cr3)));

    m_timed_out.store(false);
    m_generation.fetch_add(1);  // odd: running
    Outcome out;
    std::optional<uint16_t> port;
    for (int exits = 0; exits < kMaxExits && !port && out.detail.empty(); ++exits) {
        auto exit = m_vcpu->run();
        if (!exit) {
            out.detail = "run(): " + exit.error().message;
        } else if (auto* pio = std::get_if<hv::PioOut>(&*exit)) {
            port = pio->port;
        } else if (auto* rd = std::get_if<hv::MmioRead>(&*exit)) {
            out.detail = fmt::format("unexpected MMIO read at {:#x}", rd->gpa);
        } else if (auto* wr = std::get_if<hv::MmioWrite>(&*exit)) {
            out.detail = fmt::format("unexpected MMIO write at {:#x}", wr->gpa);
        } else if (std::holds_alternative<hv::Shutdown>(*exit)) {
            out.detail = "shutdown (triple fault, or stopped by the watchdog)";
        } else if (auto* ie = std::get_if<hv::InternalError>(&*exit)) {
            out.detail = "internal error: " + ie->reason;
        } else {
            out.detail = fmt::format("unexpected exit (variant index {})", exit->index());
        }
    }
    m_generation.fetch_add(1);  // even: idle
    const bool timed_out = m_timed_out.load();
    if (!port) {
        if (out.detail.empty()) out.detail = "no OUT after several exits";
        if (timed_out) out.detail = "engine run timed out: " + out.detail;
        if (auto st = m_vcpu->get_state()) {
            out.regs.gpr = st->gpr;
            out.regs.rip = st->rip;
            out.regs.rflags = st->rflags;
            out.detail += fmt::format(" (rip {:#x})", st->rip);
        }
        // A stopped or broken vCPU is not reused.
        TRY_VOID(build_vm());
        return out;
    }
    const auto st = m_vcpu->get_state();
    if (!st) return std::unexpected(st.error());
    return read_outcome(c, *st, *port);
}

Outcome EngineRunner::read_outcome(const Case& c, const hv::CpuState& st, uint16_t port) {
    Outcome out;
    out.regs.gpr = st.gpr;
    out.regs.rip = st.rip;
    out.regs.rflags = st.rflags;
    out.data.resize(kDataSize);
    if (auto r = m_mem->read(kDataAddr, out.data); !r) {
        out.detail = r.error().message;
        return out;
    }
    const auto tail_len = static_cast<uint64_t>(engine_tail().size());
    if (port == kEndPort && st.rip == c.tail_addr() + 2) {
        out.kind = EndKind::Completed;
        out.regs.rip = c.tail_addr();
        return out;
    }
    if (port >= kVectorPortBase && port < kVectorPortBase + kIdtVectors) {
        // The IST frame (SDM Vol. 3A 6.14.2, Figure 6-9): [error code,] RIP, CS, RFLAGS, RSP, SS.
        out.kind = EndKind::Exception;
        out.vector = port - kVectorPortBase;
        uint64_t frame = st.gpr[hv::RSP];
        if (vector_has_error_code(out.vector)) {
            out.error_code = m_mem->read_obj<uint64_t>(frame).value_or(~0ull);
            frame += 8;
        }
        out.regs.rip = m_mem->read_obj<uint64_t>(frame).value_or(~0ull);
        out.regs.rflags = m_mem->read_obj<uint64_t>(frame + 16).value_or(~0ull);
        out.regs.gpr[hv::RSP] = m_mem->read_obj<uint64_t>(frame + 24).value_or(~0ull);
        return out;
    }
    out.kind = EndKind::HarnessError;
    out.detail = fmt::format("OUT to port {:#x} at rip {:#x} (tail is {:#x}+{})", port, st.rip, c.tail_addr(), tail_len);
    return out;
}

}  // namespace popek::difftest
