// pv::Store: tree operations, permissions, watches, transactions, quotas, layout.
#include <gtest/gtest.h>

#include "pv/store/store.h"
#include "pv/store/store_layout.h"
#include "pv/store/store_path.h"
#include "pv/store/store_perms.h"

using namespace popek::pv;

namespace {

struct StoreFixture : ::testing::Test {
    Store store;
    std::vector<WatchEvent> dom0_events, guest_events, other_events;
    ConnId dom0 = store.connect(0, [this](const WatchEvent& e) { dom0_events.push_back(e); });
    ConnId guest = store.connect(1, [this](const WatchEvent& e) { guest_events.push_back(e); });
    ConnId other = store.connect(2, [this](const WatchEvent& e) { other_events.push_back(e); });

    void SetUp() override {
        ASSERT_TRUE(create_domain_layout(store, dom0, DomainLayout{1, "g1", 65536, 2}));
        ASSERT_TRUE(create_domain_layout(store, dom0, DomainLayout{2, "g2", 65536, 1}));
    }
};

}  // namespace

TEST(StorePath, CanonicalizesAndRejectsBadPaths) {
    EXPECT_EQ(canonicalize(3, "device/vbd")->path, "/local/domain/3/device/vbd");
    EXPECT_TRUE(canonicalize(3, "device")->relative);
    EXPECT_EQ(canonicalize(3, "/a/b")->path, "/a/b");
    EXPECT_EQ(canonicalize(3, "/")->path, "/");
    for (const char* bad : {"", "/a/", "/a//b", "//", "/a b", "/a\n", "a/", "/ä"})
        EXPECT_EQ(canonicalize(3, bad).error(), EINVAL) << bad;
    std::string long_abs = "/" + std::string(XENSTORE_ABS_PATH_MAX, 'x');
    EXPECT_EQ(canonicalize(3, long_abs).error(), EINVAL);
    std::string long_rel(XENSTORE_REL_PATH_MAX + 1, 'x');
    EXPECT_EQ(canonicalize(3, long_rel).error(), EINVAL);
    EXPECT_TRUE(path_is_under("/a/b", "/a"));
    EXPECT_FALSE(path_is_under("/ab", "/a"));
    EXPECT_TRUE(path_is_under("/a", "/"));
    EXPECT_EQ(parent_path("/a/b"), "/a");
    EXPECT_EQ(parent_path("/a"), "/");
}

TEST(StorePerms, OwnerDefaultAndListedEntries) {
    Perms p{{5, Access::Read}, {7, Access::Write}, {8, Access::None}};
    EXPECT_TRUE(permits(p, 5, Access::Both));   // owner
    EXPECT_TRUE(permits(p, 0, Access::Both));   // privileged
    EXPECT_TRUE(permits(p, 9, Access::Read));   // default from entry 0
    EXPECT_FALSE(permits(p, 9, Access::Write));
    EXPECT_TRUE(permits(p, 7, Access::Write));
    EXPECT_FALSE(permits(p, 7, Access::Read));
    EXPECT_FALSE(permits(p, 8, Access::Read));
    EXPECT_EQ(parse_perm("b12")->domid, 12);
    EXPECT_EQ(parse_perm("b12")->access, Access::Both);
    EXPECT_EQ(format_perm({3, Access::Write}), "w3");
    for (const char* bad : {"", "r", "x1", "r-1", "r1a", "r99999999999"}) EXPECT_FALSE(parse_perm(bad)) << bad;
}

TEST_F(StoreFixture, LayoutIsVisibleToItsDomainOnly) {
    EXPECT_EQ(store.read(guest, 0, "name").value(), "g1");
    EXPECT_EQ(store.read(guest, 0, "/local/domain/1/memory/target").value(), "65536");
    EXPECT_EQ(store.read(guest, 0, "cpu/1/availability").value(), "online");
    EXPECT_EQ(store.read(other, 0, "/local/domain/1/name").error(), EACCES);
    EXPECT_EQ(store.write(guest, 0, "name", "evil").error(), EACCES);
    EXPECT_EQ(store.write(guest, 0, "memory/target", "1").error(), EACCES);
    EXPECT_TRUE(store.write(guest, 0, "control/shutdown", "poweroff"));
    EXPECT_TRUE(store.write(guest, 0, "data/x", "1"));
    EXPECT_EQ(store.write(other, 0, "/local/domain/1/data/x", "2").error(), EACCES);
    EXPECT_EQ(store.read(guest, 0, "/").error(), EACCES);
}

TEST_F(StoreFixture, WriteCreatesParentsOwnedByWriter) {
    ASSERT_TRUE(store.write(guest, 0, "device/vbd/768/state", "1"));
    auto perms = store.get_perms(guest, 0, "device/vbd").value();
    EXPECT_EQ(perms[0].domid, 1);
    EXPECT_EQ(store.read(guest, 0, "device/vbd").value(), "");
    auto dir = store.directory(guest, 0, "device/vbd/768").value();
    EXPECT_EQ(dir.names, std::vector<std::string>{"state"});
    EXPECT_EQ(store.read(guest, 0, "device/none").error(), ENOENT);
}

TEST_F(StoreFixture, MkdirRmAndDirectory) {
    ASSERT_TRUE(store.mkdir(guest, 0, "data/a/b"));
    ASSERT_TRUE(store.mkdir(guest, 0, "data/a/b"));  // exists: fine
    ASSERT_TRUE(store.write(guest, 0, "data/a/c", "v"));
    EXPECT_EQ(store.directory(guest, 0, "data/a")->names, (std::vector<std::string>{"b", "c"}));
    ASSERT_TRUE(store.rm(guest, 0, "data/a"));
    EXPECT_EQ(store.read(guest, 0, "data/a/c").error(), ENOENT);
    EXPECT_TRUE(store.rm(guest, 0, "data/a"));        // gone, parent exists: ok
    EXPECT_EQ(store.rm(guest, 0, "data/x/y").error(), ENOENT);  // parent missing
    EXPECT_EQ(store.rm(dom0, 0, "/").error(), EINVAL);
    EXPECT_EQ(store.rm(guest, 0, "name").error(), EACCES);
}

TEST_F(StoreFixture, SetPermsRules) {
    ASSERT_TRUE(store.write(guest, 0, "data/shared", "v"));
    EXPECT_EQ(store.read(other, 0, "/local/domain/1/data/shared").error(), EACCES);
    // Owner grants read to domain 2... but domain 2 cannot traverse? xenstored checks only the node.
    ASSERT_TRUE(store.set_perms(guest, 0, "data/shared", {{1, Access::None}, {2, Access::Read}}));
    EXPECT_EQ(store.read(other, 0, "/local/domain/1/data/shared").value(), "v");
    EXPECT_EQ(store.write(other, 0, "/local/domain/1/data/shared", "x").error(), EACCES);
    // Not the owner.
    EXPECT_EQ(store.set_perms(other, 0, "/local/domain/1/data/shared", {{2, Access::Both}}).error(), EACCES);
    // Owner may not give the node away.
    EXPECT_EQ(store.set_perms(guest, 0, "data/shared", {{2, Access::Both}}).error(), EPERM);
    EXPECT_EQ(store.set_perms(guest, 0, "data/shared", {}).error(), EINVAL);
    EXPECT_EQ(store.set_perms(guest, 0, "data/none", {{1, Access::None}}).error(), ENOENT);
    ASSERT_TRUE(store.set_perms(dom0, 0, "/local/domain/1/data/shared", {{2, Access::None}}));
    EXPECT_EQ(store.get_perms(other, 0, "/local/domain/1/data/shared").value()[0].domid, 2);
}

TEST_F(StoreFixture, WatchFiresOnRegistrationChangeAndRemove) {
    ASSERT_TRUE(store.watch(guest, "device", "tok"));
    ASSERT_EQ(guest_events.size(), 1u);
    EXPECT_EQ(guest_events[0].path, "device");  // initial fire with the path as given
    EXPECT_EQ(guest_events[0].token, "tok");
    ASSERT_TRUE(store.write(guest, 0, "device/vif/0/state", "1"));
    ASSERT_EQ(guest_events.size(), 2u);
    EXPECT_EQ(guest_events[1].path, "device/vif/0/state");  // relative watch → relative path
    ASSERT_TRUE(store.write(guest, 0, "data/x", "1"));      // outside: no event
    EXPECT_EQ(guest_events.size(), 2u);
    ASSERT_TRUE(store.rm(guest, 0, "device/vif"));
    ASSERT_EQ(guest_events.size(), 3u);
    EXPECT_EQ(guest_events[2].path, "device/vif");
    EXPECT_EQ(store.watch(guest, "device", "tok").error(), EEXIST);
    ASSERT_TRUE(store.unwatch(guest, "device", "tok"));
    EXPECT_EQ(store.unwatch(guest, "device", "tok").error(), ENOENT);
    ASSERT_TRUE(store.write(guest, 0, "device/x", "1"));
    EXPECT_EQ(guest_events.size(), 3u);
}

TEST_F(StoreFixture, RemovingAParentFiresWatchesBelowIt) {
    ASSERT_TRUE(store.write(dom0, 0, "/local/domain/0/backend/vbd/1/768/state", "1"));
    ASSERT_TRUE(store.watch(dom0, "/local/domain/0/backend/vbd/1/768/state", "be"));
    dom0_events.clear();
    ASSERT_TRUE(store.rm(dom0, 0, "/local/domain/0/backend/vbd"));
    ASSERT_EQ(dom0_events.size(), 1u);
    EXPECT_EQ(dom0_events[0].path, "/local/domain/0/backend/vbd/1/768/state");
}

TEST_F(StoreFixture, WatchEventsRespectReadPermission) {
    ASSERT_TRUE(store.watch(other, "/local/domain/1", "spy"));
    other_events.clear();
    ASSERT_TRUE(store.write(guest, 0, "data/secret", "1"));
    EXPECT_TRUE(other_events.empty());
    ASSERT_TRUE(store.watch(dom0, "/local/domain/1", "d0"));
    dom0_events.clear();
    ASSERT_TRUE(store.write(guest, 0, "data/secret", "2"));
    EXPECT_EQ(dom0_events.size(), 1u);
}

TEST_F(StoreFixture, WatchQuotaAndSpecialPaths) {
    uint32_t limit = store.quota().watches_per_domain;
    for (uint32_t i = 0; i < limit; ++i) ASSERT_TRUE(store.watch(guest, "data", std::to_string(i)));
    EXPECT_EQ(store.watch(guest, "data", "one-too-many").error(), E2BIG);
    ASSERT_TRUE(store.watch(dom0, "@releaseDomain", "rel"));
    dom0_events.clear();
    store.fire_special("@releaseDomain");
    ASSERT_EQ(dom0_events.size(), 1u);
    EXPECT_EQ(dom0_events[0].path, "@releaseDomain");
    EXPECT_EQ(store.watch(dom0, "/a//b", "x").error(), EINVAL);
}

TEST_F(StoreFixture, NodeAndValueQuotas) {
    Store small(StoreQuota{.nodes_per_domain = 20, .value_bytes = 16});
    ConnId d0 = small.connect(0, {});
    ConnId g = small.connect(1, {});
    ASSERT_TRUE(create_domain_layout(small, d0, DomainLayout{1, "g", 1, 1}));
    EXPECT_EQ(small.write(g, 0, "data/v", std::string(17, 'x')).error(), ENOSPC);
    EXPECT_TRUE(small.write(g, 0, "data/v", std::string(16, 'x')));
    int created = 0;
    while (small.write(g, 0, "data/n" + std::to_string(created), "1")) ++created;
    EXPECT_EQ(small.nodes_owned(1), 20u);
    EXPECT_EQ(small.write(g, 0, "data/more", "1").error(), ENOSPC);
    // Removing frees quota.
    ASSERT_TRUE(small.rm(g, 0, "data/n0"));
    EXPECT_TRUE(small.write(g, 0, "data/more", "1"));
    // The control domain is exempt.
    EXPECT_TRUE(small.write(d0, 0, "/tool/big", std::string(100, 'x')));
}

TEST_F(StoreFixture, TransactionCommitsAtomicallyAndFiresAtCommit) {
    ASSERT_TRUE(store.watch(dom0, "/local/domain/1/data", "w"));
    dom0_events.clear();
    TxId tx = store.transaction_start(guest).value();
    ASSERT_TRUE(store.write(guest, tx, "data/a", "1"));
    ASSERT_TRUE(store.write(guest, tx, "data/b", "2"));
    EXPECT_EQ(store.read(guest, tx, "data/a").value(), "1");
    EXPECT_EQ(store.read(guest, 0, "data/a").error(), ENOENT);  // not visible outside yet
    EXPECT_TRUE(dom0_events.empty());
    ASSERT_TRUE(store.transaction_end(guest, tx, true));
    EXPECT_EQ(store.read(guest, 0, "data/b").value(), "2");
    EXPECT_EQ(dom0_events.size(), 2u);
    EXPECT_EQ(store.transaction_end(guest, tx, true).error(), ENOENT);  // already ended
}

TEST_F(StoreFixture, TransactionConflictGivesEagainAndAppliesNothing) {
    ASSERT_TRUE(store.write(guest, 0, "data/counter", "1"));
    TxId tx = store.transaction_start(guest).value();
    EXPECT_EQ(store.read(guest, tx, "data/counter").value(), "1");
    ASSERT_TRUE(store.write(guest, tx, "data/counter", "2"));
    ASSERT_TRUE(store.write(guest, tx, "data/side", "x"));
    ASSERT_TRUE(store.write(dom0, 0, "/local/domain/1/data/counter", "5"));  // races and wins
    EXPECT_EQ(store.transaction_end(guest, tx, true).error(), EAGAIN);
    EXPECT_EQ(store.read(guest, 0, "data/counter").value(), "5");
    EXPECT_EQ(store.read(guest, 0, "data/side").error(), ENOENT);
}

TEST_F(StoreFixture, TransactionAbortAndUnrelatedChangesDoNotConflict) {
    TxId tx = store.transaction_start(guest).value();
    ASSERT_TRUE(store.write(guest, tx, "data/a", "1"));
    ASSERT_TRUE(store.transaction_end(guest, tx, false));
    EXPECT_EQ(store.read(guest, 0, "data/a").error(), ENOENT);

    tx = store.transaction_start(guest).value();
    ASSERT_TRUE(store.write(guest, tx, "device/x", "1"));
    ASSERT_TRUE(store.write(dom0, 0, "/local/domain/2/data/y", "1"));  // elsewhere
    EXPECT_TRUE(store.transaction_end(guest, tx, true));
    EXPECT_EQ(store.read(guest, 0, "device/x").value(), "1");
}

TEST_F(StoreFixture, TransactionsAreBoundToTheirConnectionAndLimited) {
    TxId tx = store.transaction_start(guest).value();
    EXPECT_EQ(store.read(other, tx, "/local/domain/2/name").error(), ENOENT);
    EXPECT_EQ(store.transaction_end(other, tx, true).error(), ENOENT);
    EXPECT_EQ(store.read(guest, 12345, "name").error(), ENOENT);
    for (uint32_t i = 1; i < store.quota().transactions_per_domain; ++i) ASSERT_TRUE(store.transaction_start(guest));
    EXPECT_EQ(store.transaction_start(guest).error(), ENOSPC);
    store.reset_connection(guest);
    EXPECT_TRUE(store.transaction_start(guest));
}

TEST_F(StoreFixture, TransactionRemoveCommitsWholeSubtree) {
    ASSERT_TRUE(store.write(guest, 0, "data/t/a/b", "1"));
    uint32_t owned = store.nodes_owned(1);
    TxId tx = store.transaction_start(guest).value();
    ASSERT_TRUE(store.rm(guest, tx, "data/t"));
    ASSERT_TRUE(store.transaction_end(guest, tx, true));
    EXPECT_EQ(store.read(guest, 0, "data/t/a/b").error(), ENOENT);
    EXPECT_EQ(store.nodes_owned(1), owned - 3);
    EXPECT_EQ(store.directory(guest, 0, "data")->names.size(), 0u);
}
