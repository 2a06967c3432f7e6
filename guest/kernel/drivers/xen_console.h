#pragma once
#include "drivers/console.h"
#include "lib/spinlock.h"
#include "pv/xen_abi.h"

namespace pos {

/// The Xen PV console (io/console.h struct xencons_interface): the ring page and event channel
/// the toolstack publishes in HVM_PARAM_CONSOLE_PFN / HVM_PARAM_CONSOLE_EVTCHN. Output is copied
/// into `out` ("\n" becomes "\r\n", as on the UART) and the back end is notified once per write;
/// input arrives on the event channel and goes to the line discipline (drivers/tty.cpp).
class XenConsole final : public Console {
public:
    bool init(const char** reason);
    void write(const char* data, size_t len) override;
    void handle_interrupt() override;
    evtchn_port_t port() const { return m_port; }

private:
    static void on_event(evtchn_port_t port, void* self);
    /// Free bytes in the output ring (waiting for the back end when it is full); 0 if it is broken.
    uint32_t room();
    /// Makes the bytes up to m_prod visible and notifies the back end.
    void publish();
    xencons_interface* m_ring = nullptr;
    evtchn_port_t m_port = 0;
    XENCONS_RING_IDX m_prod = 0;   // output index while a write is in progress
    bool m_broken = false;
    Spinlock m_lock;
};

}  // namespace pos
