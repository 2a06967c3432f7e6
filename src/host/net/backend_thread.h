#pragma once
/// The thread a network backend polls on, with an eventfd to wake it (new frames to send, stop).
#include <atomic>
#include <functional>
#include <thread>

#include "util/fd.h"
#include "util/result.h"

namespace popek::host {

class BackendThread {
public:
    ~BackendThread() { stop(); }
    /// Runs `body` on a new thread; `body` polls wake_fd() and returns once stopping() is true.
    Result<void> start(std::function<void()> body);
    void stop();
    bool stopping() const { return m_stop.load(std::memory_order_acquire); }
    int wake_fd() const { return m_wake.get(); }
    void wake();
    /// Clears the wake-up after poll() reported it.
    void drain();

private:
    UniqueFd m_wake;
    std::atomic<bool> m_stop{false};
    std::thread m_thread;
};

}  // namespace popek::host
