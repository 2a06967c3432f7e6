// The VMM's side of a driver domain (ddom::serve_copy, ddom::RemoteBlkif) and the driver domain's
// grant access (ddom::RemoteGrantAccess), each against a hostile peer played over a socketpair:
// grant copies reach exactly the pages granted to the driver domain, and malformed or unexpected
// messages end the conversation without a crash.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <csignal>
#include <seccomp.h>
#include <unistd.h>

#include <cstring>

#include "ddom/copy_server.h"
#include "ddom/remote_blkif.h"
#include "ddom/remote_grant_access.h"
#include "ddom/seqpacket.h"
#include "host/seccomp_filter.h"
#include "host/thread_confinement.h"
#include "memory/guest_memory.h"
#include "pv/grant_table.h"

using namespace popek;
using namespace popek::ddom;

namespace {

constexpr pv::DomId kGuest = 1;
constexpr uint64_t kTablePfn = 0x10, kDataPfn = 0x20, kOtherPfn = 0x21;

struct DdomGrantFixture : ::testing::Test {
    memory::GuestMemory mem = memory::GuestMemory::create(1 << 20).value();
    pv::GrantTable grants{mem, kGuest};

    grant_entry_v1_t* table() { return reinterpret_cast<grant_entry_v1_t*>(mem.host_ptr(kTablePfn << 12, 4096)); }
    uint8_t* page(uint64_t pfn) { return mem.host_ptr(pfn << 12, 4096); }
    void SetUp() override {
        ASSERT_TRUE(grants.place_frame(0, kTablePfn));
        for (uint32_t i = 0; i < 4096; ++i) page(kDataPfn)[i] = static_cast<uint8_t>(i * 3);
        std::memset(page(kOtherPfn), 0x5a, 4096);
        table()[3] = {GTF_permit_access, kDriverDomain, kDataPfn};                      // ours, writable
        table()[4] = {GTF_permit_access, 0, kOtherPfn};                                 // dom0's
        table()[5] = {GTF_permit_access | GTF_readonly, kDriverDomain, kOtherPfn};      // ours, read-only
        table()[7] = {GTF_permit_access, kDriverDomain, 0xFFFFF};                       // not guest RAM
        // ref 6: never granted; refs past the table: out of range.
    }
    std::vector<uint8_t> answer;  ///< the datagram serve()'s Message views
    /// serve_copy's answer to one op, parsed (valid until the next serve()).
    Message serve(const CopyOp& op, std::span<const uint8_t> data = {}) {
        auto wire = encode_copy(std::span(&op, 1), data);
        auto req = parse(wire);
        EXPECT_TRUE(req);
        answer = serve_copy(grants, kDriverDomain, *req);
        auto rsp = parse(answer);
        EXPECT_TRUE(rsp);
        return *rsp;
    }
};

CopyOp read_op(uint32_t ref, uint16_t offset = 0, uint16_t length = 4096) { return {ref, offset, length, 0, {}}; }
CopyOp write_op(uint32_t ref, uint16_t offset, uint16_t length) { return {ref, offset, length, 1, {}}; }

}  // namespace

TEST_F(DdomGrantFixture, CopiesReachOnlyPagesGrantedToTheDriverDomain) {
    Message ok = serve(read_op(3, 100, 200));
    ASSERT_EQ(ok.status, GNTST_okay);
    ASSERT_EQ(ok.data.size(), 200u);
    EXPECT_EQ(std::memcmp(ok.data.data(), page(kDataPfn) + 100, 200), 0);

    EXPECT_EQ(serve(read_op(6)).status, GNTST_general_error);       // never granted
    EXPECT_EQ(serve(read_op(4)).status, GNTST_general_error);       // granted to dom0, not to us
    EXPECT_EQ(serve(read_op(100000)).status, GNTST_bad_gntref);     // past the grant table
    EXPECT_EQ(serve(read_op(7)).status, GNTST_general_error);       // frame outside guest RAM
    EXPECT_TRUE(serve(read_op(6)).data.empty());
    EXPECT_TRUE(serve(read_op(4)).data.empty());

    std::vector<uint8_t> bytes(64, 0xee);
    EXPECT_EQ(serve(write_op(5, 0, 64), bytes).status, GNTST_general_error);  // read-only grant
    EXPECT_EQ(page(kOtherPfn)[0], 0x5a);
    EXPECT_EQ(serve(write_op(4, 0, 64), bytes).status, GNTST_general_error);  // someone else's
    EXPECT_EQ(page(kOtherPfn)[0], 0x5a);
    EXPECT_EQ(serve(write_op(3, 4032, 64), bytes).status, GNTST_okay);
    EXPECT_EQ(page(kDataPfn)[4032], 0xee);
    EXPECT_EQ(page(kDataPfn)[4031], static_cast<uint8_t>(4031 * 3));

    // A batch stops at the first refusal and returns no bytes; no grant stays pinned.
    std::vector<CopyOp> batch{read_op(3), read_op(6), read_op(3)};
    auto wire = encode_copy(batch, {});
    answer = serve_copy(grants, kDriverDomain, *parse(wire));
    auto rsp = parse(answer);
    ASSERT_TRUE(rsp);
    EXPECT_EQ(rsp->status, GNTST_general_error);
    EXPECT_TRUE(rsp->data.empty());
    EXPECT_EQ(table()[3].flags & (GTF_reading | GTF_writing), 0);
    EXPECT_EQ(grants.active_mappings(), 0u);
}

namespace {

/// A RemoteBlkif whose "child" is the other end of a socketpair the test writes ahead.
struct DdomProxyFixture : DdomGrantFixture {
    int child = -1;
    std::unique_ptr<RemoteBlkif> proxy;
    std::vector<uint8_t> buf;
    void SetUp() override {
        DdomGrantFixture::SetUp();
        auto [vmm, c] = make_socketpair().value();
        child = c;
        proxy = std::make_unique<RemoteBlkif>(grants, kDriverDomain, UniqueFd(vmm));
    }
    void TearDown() override {
        if (child >= 0) ::close(child);
    }
    void child_sends(const std::vector<uint8_t>& d) { ASSERT_TRUE(send_message(child, d)); }
    Message child_receives() {
        auto got = receive_message(child, buf, 1000);
        EXPECT_TRUE(got);
        auto m = parse(*got);
        EXPECT_TRUE(m);
        return *m;
    }
    static blkif_request_t request(uint64_t id) {
        blkif_request_t r{};
        r.id = id;
        r.operation = BLKIF_OP_READ;
        return r;
    }
};

}  // namespace

TEST_F(DdomProxyFixture, CopiesAreServedThenTheResponseReturns) {
    CopyOp op = read_op(3, 0, 512);
    child_sends(encode_copy(std::span(&op, 1), {}));
    child_sends(encode_response({77, BLKIF_OP_READ, BLKIF_RSP_OKAY}));
    auto rsp = proxy->execute(request(77));
    ASSERT_TRUE(rsp) << proxy->failure().value_or("");
    EXPECT_EQ(rsp->status, BLKIF_RSP_OKAY);
    Message req = child_receives();
    EXPECT_EQ(req.type, MessageType::BlkifRequest);
    EXPECT_EQ(req.request.id, 77u);
    Message res = child_receives();
    ASSERT_EQ(res.type, MessageType::GrantCopyResult);
    ASSERT_EQ(res.data.size(), 512u);
    EXPECT_EQ(std::memcmp(res.data.data(), page(kDataPfn), 512), 0);
}

TEST_F(DdomProxyFixture, MalformedMessageEndsTheProxy) {
    child_sends({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17});
    EXPECT_FALSE(proxy->execute(request(1)));
    ASSERT_TRUE(proxy->failure());
    EXPECT_NE(proxy->failure()->find("malformed"), std::string::npos) << *proxy->failure();
    EXPECT_FALSE(proxy->execute(request(2)));  // stays failed
}

TEST_F(DdomProxyFixture, ResponseForAnotherRequestEndsTheProxy) {
    child_sends(encode_response({5, BLKIF_OP_READ, BLKIF_RSP_OKAY}));
    EXPECT_FALSE(proxy->execute(request(6)));
    EXPECT_NE(proxy->failure()->find("another request"), std::string::npos);
}

TEST_F(DdomProxyFixture, UnexpectedTypeEndsTheProxy) {
    child_sends(encode_request(request(1)));  // a child has no business sending requests
    EXPECT_FALSE(proxy->execute(request(1)));
    EXPECT_NE(proxy->failure()->find("unexpected"), std::string::npos);
}

TEST_F(DdomProxyFixture, EndlessCopiesEndTheProxy) {
    CopyOp op = read_op(3, 0, 8);
    for (int i = 0; i <= RemoteBlkif::kMaxCopiesPerRequest; ++i) child_sends(encode_copy(std::span(&op, 1), {}));
    EXPECT_FALSE(proxy->execute(request(1)));
    EXPECT_NE(proxy->failure()->find("too many"), std::string::npos);
}

TEST_F(DdomProxyFixture, ChildGoneEndsTheProxy) {
    ::close(child);
    child = -1;
    EXPECT_FALSE(proxy->execute(request(1)));
    ASSERT_TRUE(proxy->failure());
}

TEST(DdomRemoteGrantAccess, HostileAnswersAreErrorsNotCrashes) {
    auto [dd, vmm] = make_socketpair().value();
    UniqueFd ours(dd), theirs(vmm);
    RemoteGrantAccess access(ours.get());
    std::vector<uint8_t> page(4096, 0x11), buf(512, 0);
    pv::GrantCopy op{3, 0, false, buf};

    // A good answer lands in the buffer; the request on the wire names ref 3.
    ASSERT_TRUE(send_message(theirs.get(), encode_copy_result(GNTST_okay, std::span(page).first(512))));
    EXPECT_TRUE(access.copy(std::span(&op, 1)));
    EXPECT_EQ(buf[0], 0x11);
    std::vector<uint8_t> rx;
    auto sent = parse(*receive_message(theirs.get(), rx, 1000));
    ASSERT_TRUE(sent);
    ASSERT_EQ(sent->ops.size(), 1u);
    EXPECT_EQ(sent->ops[0].ref, 3u);

    // A refusal is the guest's status, not a broken connection.
    ASSERT_TRUE(send_message(theirs.get(), encode_copy_result(GNTST_bad_gntref, {})));
    EXPECT_EQ(access.copy(std::span(&op, 1)).error(), GNTST_bad_gntref);
    EXPECT_FALSE(access.broken());

    // An answer of the wrong length, then nothing more is attempted.
    ASSERT_TRUE(send_message(theirs.get(), encode_copy_result(GNTST_okay, std::span(page).first(100))));
    EXPECT_EQ(access.copy(std::span(&op, 1)).error(), GNTST_general_error);
    EXPECT_TRUE(access.broken());
    EXPECT_FALSE(access.copy(std::span(&op, 1)));
}

TEST(DdomRemoteGrantAccess, WrongMessageTypeIsAnError) {
    auto [dd, vmm] = make_socketpair().value();
    UniqueFd ours(dd), theirs(vmm);
    RemoteGrantAccess access(ours.get());
    std::vector<uint8_t> buf(8);
    pv::GrantCopy op{3, 0, false, buf};
    ASSERT_TRUE(send_message(theirs.get(), encode_request(blkif_request_t{})));
    EXPECT_FALSE(access.copy(std::span(&op, 1)));
    EXPECT_TRUE(access.broken());
    // Ops the wire cannot carry are refused before anything is sent.
    RemoteGrantAccess fresh(ours.get());
    std::vector<uint8_t> big(4097);
    pv::GrantCopy too_big{3, 0, false, big};
    EXPECT_EQ(fresh.copy(std::span(&too_big, 1)).error(), GNTST_bad_copy_arg);
}

TEST(DdomSeqpacket, ErrorsCarryTheirKind) {
    auto [a, b] = make_socketpair().value();
    UniqueFd ours(a), theirs(b);
    std::vector<uint8_t> buf;
    auto late = receive_message(ours.get(), buf, 1);
    ASSERT_FALSE(late);
    EXPECT_EQ(late.error().kind, ErrorKind::Timeout);
    std::vector<uint8_t> huge(kMaxMessage + 1);
    ASSERT_TRUE(send_message(theirs.get(), huge));
    ASSERT_TRUE(send_message(theirs.get(), std::vector<uint8_t>{1, 2, 3}));
    auto big = receive_message(ours.get(), buf, 1000);
    ASSERT_FALSE(big);
    EXPECT_EQ(big.error().kind, ErrorKind::Oversized);
    EXPECT_EQ(receive_message(ours.get(), buf, 1000).value().size(), 3u);  // still usable
    theirs.reset();
    auto closed = receive_message(ours.get(), buf, 1000);
    ASSERT_FALSE(closed);
    EXPECT_EQ(closed.error().kind, ErrorKind::Closed);
}

TEST(DdomProxyConfined, AProtocolBreakOnAConfinedThreadIsAnErrorNotAKill) {
    // The vbd is served on a device thread (vCPU threads may serve it too), whose seccomp list
    // has neither kill nor wait4: a back end that breaks the protocol must end the proxy with an
    // error there, not with SIGSYS (the child is killed and reaped at teardown instead).
    for (const host::ThreadKind kind : {host::ThreadKind::Device, host::ThreadKind::Vcpu}) {
        const pid_t tester = ::fork();
        if (tester == 0) {
            const pid_t dummy = ::fork();   // stands for the driver-domain process
            if (dummy == 0) {   // dies with the tester, holding none of the test's output pipes
                ::prctl(PR_SET_PDEATHSIG, SIGKILL);
                for (int fd = 0; fd < 3; ++fd) ::close(fd);
                ::pause();
                ::_exit(0);
            }
            int sv[2];
            if (::socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0) ::_exit(4);
            (void)!::write(sv[1], "garbage, not a message", 22);
            memory::GuestMemory mem = memory::GuestMemory::create(1 << 20).value();
            pv::GrantTable grants(mem, 0);
            auto* proxy = new RemoteBlkif(grants, 1, UniqueFd(sv[0]), dummy);   // never destroyed here
            if (!host::load_allow_list(SCMP_ACT_KILL_PROCESS, host::thread_allow_list(kind))) ::_exit(3);
            blkif_request_t req{};
            req.operation = BLKIF_OP_READ;
            const bool failed = !proxy->execute(req) && proxy->failure().has_value();
            ::_exit(failed ? 0 : 5);
        }
        int status = 0;
        ASSERT_EQ(::waitpid(tester, &status, 0), tester);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
            << host::thread_kind_name(kind) << ": " << (WIFSIGNALED(status) ? "killed by signal " : "exit status ")
            << (WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    }
}
