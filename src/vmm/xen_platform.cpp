#include "vmm/xen_platform.h"
#include "host/thread_confinement.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <fmt/core.h>

#include "emu/engine_shared.h"
#include "pv/pvclock.h"
#include "vmm/xen_shutdown.h"

namespace popek::vmm {
namespace {

constexpr auto kExitPollInterval = std::chrono::milliseconds(20);
/// Where the low physmap window ends: popek's fixed MMIO devices (test device, IOAPIC, LAPIC).
constexpr uint64_t kPhysmapLowEnd = 0xfe00'0000;
/// Size of the physmap window above high RAM (well inside the 40 physical address bits CPUID reports).
constexpr uint64_t kPhysmapHighSize = uint64_t{64} << 30;

}  // namespace

XenPlatform::XenPlatform(hv::Vm& vm, VmLifecycle& life, int vcpus)
    : m_vm(vm), m_life(life), m_timer_deadline(static_cast<size_t>(vcpus), 0) {}

Result<std::unique_ptr<XenPlatform>> XenPlatform::create(hv::Vm& vm, const memory::GuestMemory& mem,
                                                         VmLifecycle& life, int vcpus, ConsoleOut out,
                                                         const std::vector<DiskOption>& disks,
                                                         const std::vector<NetOption>& nets,
                                                         const std::optional<ShareOption>& share,
                                                         bool driver_domain, std::optional<uint64_t> rr_boot_unix_ns) {
    std::unique_ptr<XenPlatform> p(new XenPlatform(vm, life, vcpus));
    if (rr_boot_unix_ns) {
        p->m_deterministic = true;
        p->m_boot_unix_ns = *rr_boot_unix_ns;
        p->m_start_ns = 0;   // system time is the virtual time (emu/determinism.h)
    }
    pv::PvDomainConfig config;
    config.vcpus = vcpus;
    config.memory_bytes = mem.size();
    // Every write of guest RAM by popek's Xen side (grant copies and pins, ring responses, the
    // store and console rings, event bits, vcpu_info, time) is reported as it happens
    // (pv::RamWrites), so the event-channel upcall need not make the own engine re-verify all its
    // decoded code. The driver domain writes only through grant copies that popek carries out.
    config.ram_written = [&vm](uint64_t gpa, uint64_t len) { vm.device_wrote_ram(gpa, len); };
    XenPlatform* self = p.get();
    p->m_domain = std::make_unique<pv::PvDomain>(mem, config, [self](int vcpu) { self->upcall(vcpu); });
    p->m_domain->event_channels().set_wake([self] { self->wake_waiters(); });
    if (auto r = p->m_domain->connect_store(kStorePfn); !r)
        return fail("--xen: cannot place the XenStore ring at pfn {:#x} (errno {})", kStorePfn, r.error());

    // Console ring (PvDomain's console path); both consoles print through the merge under
    // m_merge_lock: the ring's sink (called under the domain's console lock) and console_write.
    p->m_console_merge = std::make_unique<XenConsoleMerge>([out](std::string_view s) {
        out(std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
    });
    auto console = p->m_domain->connect_console(kConsolePfn, [self](std::string_view s) {
        std::lock_guard lock(self->m_merge_lock);
        self->m_console_merge->write(XenConsoleMerge::Source::Ring, s);
    });
    if (!console)
        return fail("--xen: cannot place the console ring at pfn {:#x} (errno {})", kConsolePfn, console.error());

    auto translate = [self](int vcpu, uint64_t gva) -> Result<uint64_t> {
        if (vcpu < 0 || static_cast<size_t>(vcpu) >= self->m_vcpus.size()) return fail("no vCPU {}", vcpu);
        return self->m_vcpus[static_cast<size_t>(vcpu)]->translate_gva(gva);
    };
    p->m_hypercalls = std::make_unique<pv::Hypercalls>(*p->m_domain, translate, p->hooks());
    p->m_io = TRY(XenIoDevices::attach(*p->m_domain, disks, nets, driver_domain));
    if (share) TRY_VOID(p->attach_share(*share));
    p->publish_time();
    if (p->m_deterministic) return p;   // timers fire at poll points (xen_platform_rr.cpp)
    p->m_timer_thread = std::thread([self] {
        host::confine_this_thread(host::ThreadKind::Device);
        self->timer_loop();
    });
    return p;
}

Result<void> XenPlatform::attach_physmap(const memory::GuestMemory& mem, bus::Bus& mmio) {
    // Two windows: below 4 GiB from the end of low RAM up to the fixed MMIO devices, and above
    // the end of high RAM (where Linux finds its free section-aligned range on popek's layout).
    uint64_t low_end = 0, high_end = memory::kHighRamStart;
    for (const auto& r : mem.regions()) {
        uint64_t end = (r.base + r.size + pv::kXenPageSize - 1) & ~(pv::kXenPageSize - 1);
        uint64_t& top = r.base < memory::kHighRamStart ? low_end : high_end;
        top = std::max(top, end);
    }
    const bus::Range windows[] = {{low_end, kPhysmapLowEnd - std::min(low_end, kPhysmapLowEnd)},
                                  {high_end, kPhysmapHighSize}};
    for (const bus::Range& w : windows) {
        if (w.size == 0) continue;
        auto window = std::make_shared<XenPhysmap>(w.base, w.size);
        TRY_VOID(mmio.insert(w, window));
        m_physmap.push_back(std::move(window));
    }
    return {};
}

Result<void> XenPlatform::attach_share(const ShareOption& share) {
    // A replay's answers come from the log: DIR is not opened (it may be changed or gone).
    auto dir = share.rr_replay ? pv::ShareDir::none(share.path, share.read_only)
                               : TRY(pv::ShareDir::open(share.path, share.read_only));
    m_share = std::make_unique<pv::ShareDevice>(*m_domain, std::move(dir), share.rr_journal);
    if (auto r = m_share->attach(); !r)
        return fail("--xen: cannot create the store nodes of the popekfs device (errno {})", r.error());
    return {};
}

bool XenPlatform::map_outside_ram(uint64_t gpfn, std::span<uint8_t> page) {
    bool mapped = false;
    for (auto& window : m_physmap) mapped = window->map(gpfn, page) || mapped;
    return mapped;
}

XenPlatform::~XenPlatform() {
    m_share.reset();
    m_io.reset();  // before the domain: vbds and vifs unbind their channels and unmap their rings
    {
        std::lock_guard lock(m_lock);
        m_stopping = true;
    }
    m_cv.notify_all();
    if (m_timer_thread.joinable()) m_timer_thread.join();
}

uint64_t XenPlatform::now_ns() const {
    const uint64_t start_ns = m_start_ns.load();
    // On the own engine, system time follows the guest clock, which stands still while the VM is
    // paused (docs/api.md): the guest's TSC-derived time and its timers keep agreeing after a resume.
    if (auto sample = m_vm.sample_tsc()) return sample->host_ns > start_ns ? sample->host_ns - start_ns : 0;
    const auto steady = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
    return steady > start_ns ? steady - start_ns : 0;
}

pv::HypercallHooks XenPlatform::hooks() {
    pv::HypercallHooks h;
    h.shutdown = [this](unsigned reason) {
        m_life.request_exit(devices::ExitCause::XenShutdown, xen_shutdown_exit_status(reason), xen_shutdown_reason(reason));
    };
    h.yield = [](int) { std::this_thread::yield(); };
    h.block = [this](int vcpu) {
        if (m_deterministic)
            return wait_deterministic([this, vcpu] { return m_domain->event_channels().upcall_pending(vcpu); }, 0);
        wait_for([this, vcpu] { return m_domain->event_channels().upcall_pending(vcpu); }, 0);
    };
    h.poll = [this](int, std::span<const evtchn_port_t> ports, uint64_t deadline_ns) {
        std::vector<evtchn_port_t> watched(ports.begin(), ports.end());
        if (m_deterministic)
            return wait_deterministic(
                [this, &watched] {
                    for (auto port : watched)
                        if (m_domain->event_channels().port_pending(port)) return true;
                    return false;
                },
                deadline_ns);
        wait_for(
            [this, &watched] {
                for (auto port : watched)
                    if (m_domain->event_channels().port_pending(port)) return true;
                return false;
            },
            deadline_ns);
    };
    h.set_timer = [this](int vcpu, uint64_t deadline_ns) {
        {
            std::lock_guard lock(m_lock);
            if (vcpu >= 0 && static_cast<size_t>(vcpu) < m_timer_deadline.size())
                m_timer_deadline[static_cast<size_t>(vcpu)] = deadline_ns;
        }
        m_cv.notify_all();
    };
    h.now_ns = [this] { return now_ns(); };
    // VCPUOP_up: the engine starts the AP (hv::Vcpu::start_from); the own engine also says which
    // vCPUs run already (started by INIT/SIPI: initialised in Xen's sense).
    h.start_vcpu = [this](int vcpu, const hv::CpuState& state) {
        if (vcpu < 0 || static_cast<size_t>(vcpu) >= m_vcpus.size()) return false;
        return m_vcpus[static_cast<size_t>(vcpu)]->start_from(state).has_value();
    };
    h.vcpu_running = [this](int vcpu) {
        const emu::EngineShared* engine = m_vm.own_engine();
        return engine != nullptr && engine->vcpus_up.is_up(vcpu);
    };
    h.map_outside_ram = [this](uint64_t gpfn, std::span<uint8_t> page) { return map_outside_ram(gpfn, page); };
    h.console_write = [this](std::string_view s) {
        // CONSOLEIO_write (Xen's own console) goes where the ring console goes, once.
        std::lock_guard lock(m_merge_lock);
        m_console_merge->write(XenConsoleMerge::Source::Hypercall, s);
    };
    if (std::getenv("POPEK_XEN_TRACE") != nullptr) {
        h.trace = [](int vcpu, const hv::Hypercall& c, int64_t result) {
            fmt::print(stderr, "xen: vcpu {} hypercall {} ({:#x}, {:#x}, {:#x}, {:#x}, {:#x}) = {}\n", vcpu, c.nr,
                       c.args[0], c.args[1], c.args[2], c.args[3], c.args[4], result);
        };
    }
    return h;
}

void XenPlatform::upcall(int vcpu) {
    if (auto vector = m_domain->upcall_vector(vcpu)) (void)m_vm.inject_vector(vcpu, *vector);
}

void XenPlatform::wake_waiters() {
    // Taking the lock orders this after a waiter's check of its condition (made under the lock),
    // so the notification cannot fall between that check and its wait.
    { std::lock_guard lock(m_lock); }
    m_cv.notify_all();  // a vCPU blocked in SCHEDOP_block/poll re-checks its condition
}

template <class Ready>
void XenPlatform::wait_for(Ready ready, uint64_t deadline_ns) {
    std::unique_lock lock(m_lock);
    while (!ready() && !m_stopping && !m_life.exiting()) {
        if (deadline_ns != 0 && now_ns() >= deadline_ns) return;
        // Bounded waits: the VM's end (VmLifecycle) does not signal this condition variable.
        m_cv.wait_for(lock, kExitPollInterval);
    }
}

void XenPlatform::timer_loop() {
    std::unique_lock lock(m_lock);
    while (!m_stopping) {
        uint64_t now = now_ns(), next = 0;
        bool fired = false;
        for (size_t v = 0; v < m_timer_deadline.size(); ++v) {
            uint64_t d = m_timer_deadline[v];
            if (d == 0) continue;
            if (d <= now) {
                // Under m_fire_lock, so that a snapshot (hold()) sees the deadline and the event
                // it raises in guest RAM both before or both after.
                fired = true;
                lock.unlock();
                {
                    std::lock_guard fire(m_fire_lock);
                    lock.lock();
                    const bool still = m_timer_deadline[v] == d;
                    if (still) m_timer_deadline[v] = 0;
                    lock.unlock();
                    if (still) m_domain->event_channels().raise_virq(VIRQ_TIMER, static_cast<int>(v));
                }
                lock.lock();
                continue;
            }
            if (next == 0 || d < next) next = d;
        }
        // While the lock was dropped the vCPU may have handled the event and armed its next
        // deadline (set_timer's notify then found nobody waiting): scan again before sleeping.
        if (fired) continue;
        uint64_t after = now_ns();
        if (next == 0) m_cv.wait(lock);
        else if (next > after) m_cv.wait_for(lock, std::chrono::nanoseconds(next - after));
    }
}

void XenPlatform::publish_time() {
    auto sample = m_vm.sample_tsc();
    if (!sample) return;
    const uint64_t start_ns = m_start_ns.load();
    // One linear map from the TSC to Xen system time (now_ns()), valid for good: the engine's TSC
    // is invariant and shared by all vCPUs, so every vCPU gets the same one and the stable flag.
    pv::VcpuTime t = pv::pvclock_time(sample->tsc_hz, sample->tsc, sample->host_ns - start_ns);
    for (int v = 0; v < m_domain->event_channels().vcpus(); ++v)
        m_domain->event_channels().publish_time(v, t.tsc_timestamp, t.system_time, t.scale.mul, t.scale.shift,
                                                XEN_PVCLOCK_TSC_STABLE_BIT);
    const auto unix_now = m_deterministic ? m_boot_unix_ns : static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::system_clock::now().time_since_epoch()).count());
    pv::WallClock wc = pv::wallclock_at_boot(unix_now, now_ns());
    m_domain->event_channels().publish_wallclock(wc.sec, wc.nsec);
}

size_t XenPlatform::console_input(std::span<const uint8_t> bytes) {
    m_domain->console_input(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    return bytes.size();
}

}  // namespace popek::vmm
