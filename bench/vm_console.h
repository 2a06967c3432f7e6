#pragma once
// Shared by the benchmark programs that drive a guest's shell: a VM with its console on pipes.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "child_process.h"

namespace bench {

/// A VM with its console on pipes: types commands, reads what comes back.
class Console {
public:
    explicit Console(const Argv& argv) {
        int in[2], out[2];
        if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) return;
        m_pid = fork();
        if (m_pid == 0) {
            dup2(in[0], 0);
            dup2(out[1], 1);
            int devnull = open("/dev/null", O_WRONLY);
            dup2(devnull, 2);
            std::vector<char*> args;
            for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
            args.push_back(nullptr);
            execvp(args[0], args.data());
            _exit(127);
        }
        close(in[0]);
        close(out[1]);
        m_in = in[1];
        m_out = out[0];
    }
    ~Console() {
        if (m_pid > 0) {
            kill(m_pid, SIGKILL);
            waitpid(m_pid, nullptr, 0);
        }
        if (m_in >= 0) close(m_in);
        if (m_out >= 0) close(m_out);
    }
    /// Waits for `text`; the time it took in seconds, or -1 on timeout.
    double wait_for(const std::string& text, double timeout_s) {
        auto t0 = Clock::now();
        while (m_seen.find(text, m_cursor) == std::string::npos) {
            double left = timeout_s - since(t0);
            pollfd p{m_out, POLLIN, 0};
            if (left <= 0 || poll(&p, 1, static_cast<int>(left * 1000) + 1) <= 0) return -1;
            char buf[4096];
            ssize_t n = read(m_out, buf, sizeof buf);
            if (n <= 0) return -1;
            m_seen.append(buf, static_cast<size_t>(n));
        }
        m_cursor = m_seen.find(text, m_cursor) + text.size();
        return since(t0);
    }
    void type(const std::string& s) {
        if (write(m_in, s.data(), s.size()) != static_cast<ssize_t>(s.size())) std::perror("write");
    }
    const std::string& seen() const { return m_seen; }

private:
    pid_t m_pid = -1;
    int m_in = -1, m_out = -1;
    std::string m_seen;
    size_t m_cursor = 0;
};

inline bool kvm_usable() { return access("/dev/kvm", R_OK | W_OK) == 0; }

}  // namespace bench
