// Issue 14 part 2: snapshot and restore time of 256 MiB and 1 GiB guests on the own engine.
//
// end-to-end: popek (--accel bt) runs the counter guest (tests/guests/counter.S) with the API
//   socket; `pause` is PATCH /vm Paused until its 204, `snapshot` then PUT /snapshot/create until
//   its 204 (state file and sparse memory file written and fsync'd); `restore` is PUT /snapshot/load with resume_vm on a
//   fresh `popek run --api-sock` until its 204 (files read and checked, VM rebuilt, vCPUs running).
//   Most of such a guest's RAM is untouched, so the memory file is mostly holes.
// all-dirty: the memory file alone with every page of guest RAM non-zero (the worst case: the
//   whole RAM written and read back), in this process.
// usage: snapshot_bench [--runs N] [--sizes 256,1024]
// Firecracker publishes a snapshot restore latency for its own VMM on KVM
// (docs/snapshotting/snapshot-support.md in its repository); this bench measures popek only.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "child_process.h"
#include "memory/guest_memory.h"
#include "snapshot/mem_file.h"

namespace {

using namespace bench;

/// One HTTP/1.1 request over the unix socket; the status code, or -1.
int http(const std::string& sock, const std::string& method, const std::string& path, const std::string& body) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock.c_str());
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        if (fd >= 0) ::close(fd);
        return -1;
    }
    const std::string req = method + " " + path + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                            "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    if (::write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
        ::close(fd);
        return -1;
    }
    char buf[512];
    const ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n < 12) return -1;
    buf[n] = 0;
    return std::atoi(buf + 9);
}

bool wait_for_socket(const std::string& sock) {
    for (int i = 0; i < 400; ++i) {
        struct stat st {};
        if (::stat(sock.c_str(), &st) == 0) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
}

/// Reads `fd` until `marker` was seen (or EOF).
bool wait_for_output(int fd, const std::string& marker) {
    std::string seen;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) return false;
        seen.append(buf, static_cast<size_t>(n));
        if (seen.find(marker) != std::string::npos) return true;
    }
}

void stop(pid_t pid, int fd) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    ::close(fd);
}

struct EndToEnd {
    double pause_ms = -1, snapshot_ms = -1, restore_ms = -1;
    long mem_alloc_kib = -1;
};

EndToEnd end_to_end(uint64_t mib, const std::string& dir) {
    EndToEnd r;
    const std::string sock = dir + "/a.sock", sock2 = dir + "/b.sock", snap = dir + "/vm.snap", mem = dir + "/vm.mem";
    ::unlink(sock.c_str());
    ::unlink(sock2.c_str());
    int fd = -1;
    pid_t pid = spawn({POPEK_BINARY, "run", "--accel", "bt", "--mem", std::to_string(mib), "--kernel",
                       std::string(POPEK_GUEST_DIR) + "/counter.elf", "--api-sock", sock},
                      &fd);
    if (pid < 0 || !wait_for_socket(sock) || !wait_for_output(fd, "count 1 ")) {
        if (pid > 0) stop(pid, fd);
        return r;
    }
    auto t0 = Clock::now();
    const int paused = http(sock, "PATCH", "/vm", R"({"state": "Paused"})");
    r.pause_ms = since(t0) * 1e3;
    t0 = Clock::now();
    const int created = http(sock, "PUT", "/snapshot/create",
                             R"({"snapshot_type": "Full", "snapshot_path": ")" + snap + R"(", "mem_file_path": ")" + mem + "\"}");
    if (paused == 204 && created == 204) r.snapshot_ms = since(t0) * 1e3;
    stop(pid, fd);
    struct stat st {};
    if (::stat(mem.c_str(), &st) == 0) r.mem_alloc_kib = static_cast<long>(st.st_blocks / 2);

    pid = spawn({POPEK_BINARY, "run", "--accel", "bt", "--api-sock", sock2}, &fd);
    if (pid < 0 || !wait_for_socket(sock2)) {
        if (pid > 0) stop(pid, fd);
        return r;
    }
    t0 = Clock::now();
    const int loaded = http(sock2, "PUT", "/snapshot/load",
                            R"({"snapshot_path": ")" + snap + R"(", "mem_backend": {"backend_type": "File", "backend_path": ")" +
                                mem + R"("}, "resume_vm": true})");
    if (loaded == 204) r.restore_ms = since(t0) * 1e3;
    stop(pid, fd);
    return r;
}

struct Dirty {
    double write_ms = -1, load_ms = -1;
};

Dirty all_dirty(uint64_t mib, const std::string& dir) {
    Dirty d;
    const std::string path = dir + "/dirty.mem";
    auto mem = popek::memory::GuestMemory::create(mib << 20);
    if (!mem) return d;
    for (const auto& region : mem->regions()) std::memset(region.host, 0x5a, region.size);
    auto t0 = Clock::now();
    if (popek::snapshot::write_mem_file(*mem, path)) d.write_ms = since(t0) * 1e3;
    auto fresh = popek::memory::GuestMemory::create(mib << 20);
    if (!fresh) return d;
    t0 = Clock::now();
    if (popek::snapshot::load_mem_file(*fresh, path)) d.load_ms = since(t0) * 1e3;
    ::unlink(path.c_str());
    return d;
}

}  // namespace

int main(int argc, char** argv) {
    int runs = 3;
    std::vector<uint64_t> sizes{256, 1024};
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--runs") runs = std::max(1, std::atoi(argv[i + 1]));
        else if (a == "--sizes") {
            sizes.clear();
            std::string list = argv[i + 1];
            for (size_t at = 0; at < list.size();) {
                const size_t comma = std::min(list.find(',', at), list.size());
                sizes.push_back(std::stoull(list.substr(at, comma - at)));
                at = comma + 1;
            }
        }
    }
    char tmpl[] = "/tmp/popek-snapbench-XXXXXX";
    const char* dir = ::mkdtemp(tmpl);
    if (!dir) return 1;
    std::printf("snapshot_bench (%d runs, median; --accel bt, counter guest)\n", runs);
    std::printf("%-8s %10s %14s %14s %14s %16s %16s\n", "RAM", "pause ms", "snapshot ms", "restore ms", "mem file KiB", "dirty write ms",
                "dirty load ms");
    int status = 0;
    for (uint64_t mib : sizes) {
        std::vector<double> pause, snap, restore, dwrite, dload;
        long alloc = -1;
        for (int i = 0; i < runs; ++i) {
            const EndToEnd e = end_to_end(mib, dir);
            if (e.snapshot_ms < 0 || e.restore_ms < 0) status = 1;
            pause.push_back(e.pause_ms);
            snap.push_back(e.snapshot_ms);
            restore.push_back(e.restore_ms);
            alloc = e.mem_alloc_kib;
            const Dirty d = all_dirty(mib, dir);
            dwrite.push_back(d.write_ms);
            dload.push_back(d.load_ms);
        }
        std::printf("%-8s %10.1f %14.1f %14.1f %14ld %16.1f %16.1f\n", (std::to_string(mib) + " MiB").c_str(),
                    median(pause), median(snap),
                    median(restore), alloc, median(dwrite), median(dload));
    }
    for (const char* f : {"/vm.snap", "/vm.mem"}) ::unlink((std::string(dir) + f).c_str());
    ::rmdir(dir);
    if (status) std::printf("snapshot_bench: a run failed (see -1 above)\n");
    return status;
}
