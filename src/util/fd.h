#pragma once
/// RAII owners for file descriptors and memory mappings.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <utility>

namespace popek {

class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : m_fd(fd) {}
    UniqueFd(UniqueFd&& o) noexcept : m_fd(std::exchange(o.m_fd, -1)) {}
    UniqueFd& operator=(UniqueFd&& o) noexcept {
        if (this != &o) reset(std::exchange(o.m_fd, -1));
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    int get() const { return m_fd; }
    bool valid() const { return m_fd >= 0; }
    int release() { return std::exchange(m_fd, -1); }
    void reset(int fd = -1) {
        if (m_fd >= 0) ::close(m_fd);
        m_fd = fd;
    }

private:
    int m_fd = -1;
};

class UniqueMapping {
public:
    UniqueMapping() = default;
    UniqueMapping(void* addr, size_t len) : m_addr(addr), m_len(len) {}
    UniqueMapping(UniqueMapping&& o) noexcept
        : m_addr(std::exchange(o.m_addr, nullptr)), m_len(std::exchange(o.m_len, 0)) {}
    UniqueMapping& operator=(UniqueMapping&& o) noexcept {
        if (this != &o) {
            reset();
            m_addr = std::exchange(o.m_addr, nullptr);
            m_len = std::exchange(o.m_len, 0);
        }
        return *this;
    }
    UniqueMapping(const UniqueMapping&) = delete;
    UniqueMapping& operator=(const UniqueMapping&) = delete;
    ~UniqueMapping() { reset(); }

    void* get() const { return m_addr; }
    size_t size() const { return m_len; }
    void reset() {
        if (m_addr != nullptr && m_addr != MAP_FAILED) ::munmap(m_addr, m_len);
        m_addr = nullptr;
        m_len = 0;
    }

private:
    void* m_addr = nullptr;
    size_t m_len = 0;
};

}  // namespace popek
