// Host network back end on libslirp (user-mode networking: DHCP, DNS, outbound TCP/UDP, no privileges).
// libslirp is not thread-safe: every call into it happens on the backend thread; frames from the
// guest are queued and handed over through the wake-up eventfd.
#include <arpa/inet.h>
#include <poll.h>
#include <slirp/libslirp.h>

#include <chrono>
#include <deque>
#include <list>
#include <mutex>
#include <vector>

#include "host/net/backend_thread.h"
#include "host/net/net_backend.h"

namespace popek::host {
namespace {

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

class SlirpBackend final : public NetBackend {
public:
    static constexpr size_t kMaxQueuedFrames = 256;

    ~SlirpBackend() override {
        stop();
        if (m_slirp) slirp_cleanup(m_slirp);
    }
    std::string_view name() const override { return "user (slirp)"; }

    Result<void> start(Receive rx) override {
        m_rx = std::move(rx);
        SlirpConfig cfg{};
        cfg.version = 3;
        cfg.in_enabled = true;
        inet_pton(AF_INET, "10.0.2.0", &cfg.vnetwork);
        inet_pton(AF_INET, "255.255.255.0", &cfg.vnetmask);
        inet_pton(AF_INET, "10.0.2.2", &cfg.vhost);
        inet_pton(AF_INET, "10.0.2.15", &cfg.vdhcp_start);
        inet_pton(AF_INET, "10.0.2.3", &cfg.vnameserver);
        cfg.vhostname = "popek";
        m_callbacks.send_packet = [](const void* buf, size_t len, void* self) -> ssize_t {
            static_cast<SlirpBackend*>(self)->m_rx(std::span(static_cast<const uint8_t*>(buf), len));
            return static_cast<ssize_t>(len);
        };
        m_callbacks.guest_error = [](const char*, void*) {};
        m_callbacks.clock_get_ns = [](void*) { return now_ns(); };
        m_callbacks.timer_new = [](SlirpTimerCb cb, void* cb_opaque, void* self) -> void* {
            auto& timers = static_cast<SlirpBackend*>(self)->m_timers;
            timers.push_back(Timer{cb, cb_opaque, -1});
            return &timers.back();
        };
        m_callbacks.timer_free = [](void* timer, void* self) {
            static_cast<SlirpBackend*>(self)->m_timers.remove_if([timer](const Timer& t) { return &t == timer; });
        };
        m_callbacks.timer_mod = [](void* timer, int64_t expire_ms, void*) { static_cast<Timer*>(timer)->expire_ms = expire_ms; };
        m_callbacks.register_poll_fd = [](int, void*) {};
        m_callbacks.unregister_poll_fd = [](int, void*) {};
        m_callbacks.notify = [](void* self) { static_cast<SlirpBackend*>(self)->m_thread.wake(); };
        m_slirp = slirp_new(&cfg, &m_callbacks, this);
        if (!m_slirp) return fail("slirp_new failed");
        return m_thread.start([this] { loop(); });
    }

    void send(std::span<const uint8_t> frame) override {
        {
            std::lock_guard lock(m_mutex);
            if (m_outbox.size() >= kMaxQueuedFrames) return;
            m_outbox.emplace_back(frame.begin(), frame.end());
        }
        m_thread.wake();
    }

    void stop() override { m_thread.stop(); }

private:
    struct Timer {
        SlirpTimerCb cb;
        void* opaque;
        int64_t expire_ms;   ///< -1: not armed
    };

    void loop() {
        while (!m_thread.stopping()) {
            flush_outbox();
            uint32_t timeout = run_timers();
            m_fds.assign(1, pollfd{m_thread.wake_fd(), POLLIN, 0});
            slirp_pollfds_fill(m_slirp, &timeout, &SlirpBackend::add_poll, this);
            int n = ::poll(m_fds.data(), m_fds.size(), static_cast<int>(std::min<uint32_t>(timeout, 1000)));
            if (m_fds[0].revents) m_thread.drain();
            slirp_pollfds_poll(m_slirp, n < 0, &SlirpBackend::get_revents, this);
        }
    }

    void flush_outbox() {
        std::deque<std::vector<uint8_t>> frames;
        {
            std::lock_guard lock(m_mutex);
            frames.swap(m_outbox);
        }
        for (auto& f : frames) slirp_input(m_slirp, f.data(), static_cast<int>(f.size()));
    }

    /// Fires expired timers; returns milliseconds to the next one (capped).
    uint32_t run_timers() {
        int64_t now_ms = now_ns() / 1'000'000;
        int64_t next = 1000;
        for (auto it = m_timers.begin(); it != m_timers.end();) {
            Timer& t = *it++;   // the callback may free or re-arm this timer
            if (t.expire_ms < 0) continue;
            if (t.expire_ms <= now_ms) {
                t.expire_ms = -1;
                t.cb(t.opaque);
            } else {
                next = std::min(next, t.expire_ms - now_ms);
            }
        }
        return static_cast<uint32_t>(next);
    }

    static int add_poll(int fd, int events, void* self) {
        auto* b = static_cast<SlirpBackend*>(self);
        short ev = 0;
        if (events & SLIRP_POLL_IN) ev |= POLLIN;
        if (events & SLIRP_POLL_OUT) ev |= POLLOUT;
        if (events & SLIRP_POLL_PRI) ev |= POLLPRI;
        b->m_fds.push_back(pollfd{fd, ev, 0});
        return static_cast<int>(b->m_fds.size() - 1);
    }

    static int get_revents(int idx, void* self) {
        auto* b = static_cast<SlirpBackend*>(self);
        if (idx < 0 || static_cast<size_t>(idx) >= b->m_fds.size()) return 0;
        short r = b->m_fds[static_cast<size_t>(idx)].revents;
        int out = 0;
        if (r & POLLIN) out |= SLIRP_POLL_IN;
        if (r & POLLOUT) out |= SLIRP_POLL_OUT;
        if (r & POLLPRI) out |= SLIRP_POLL_PRI;
        if (r & POLLERR) out |= SLIRP_POLL_ERR;
        if (r & POLLHUP) out |= SLIRP_POLL_HUP;
        return out;
    }

    Receive m_rx;
    SlirpCb m_callbacks{};
    Slirp* m_slirp = nullptr;
    std::list<Timer> m_timers;   // stable addresses: libslirp holds Timer*
    std::vector<pollfd> m_fds;
    std::mutex m_mutex;
    std::deque<std::vector<uint8_t>> m_outbox;
    BackendThread m_thread;
};

}  // namespace

Result<std::unique_ptr<NetBackend>> make_slirp_backend() { return std::make_unique<SlirpBackend>(); }

}  // namespace popek::host
