#include "host/net/backend_thread.h"
#include "host/thread_confinement.h"

#include <sys/eventfd.h>

namespace popek::host {

Result<void> BackendThread::start(std::function<void()> body) {
    int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) return fail_errno("eventfd");
    m_wake.reset(fd);
    m_stop = false;
    m_thread = std::thread([b = std::move(body)] {
        confine_this_thread(ThreadKind::Device);
        b();
    });
    return {};
}

void BackendThread::stop() {
    if (!m_thread.joinable()) return;
    m_stop.store(true, std::memory_order_release);
    wake();
    m_thread.join();
}

void BackendThread::wake() {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(m_wake.get(), &one, sizeof(one));
}

void BackendThread::drain() {
    uint64_t value;
    [[maybe_unused]] ssize_t n = ::read(m_wake.get(), &value, sizeof(value));
}

}  // namespace popek::host
