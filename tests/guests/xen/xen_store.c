/* xen_store.c - a XenStore client over the store ring (io/xs_wire.h, docs/misc/xenstore.txt):
 * the toolstack's layout, read/write/mkdir/rm/directory, a watch (the immediate event, then one per
 * change), transactions (commit, abort, and the EAGAIN conflict), permissions (what another
 * domain owns is refused; a node cannot be given away), and errors for bad requests. */
#include "pv_store.h"

static char buf[1024];

static void layout(void) {
    pv_check("read.domid", pv_xs_read(0, "domid", buf, sizeof buf), 1);
    pv_check_true("read.domid=1", strcmp(buf, "1") == 0);
    long n = pv_xs_read(0, "name", buf, sizeof buf);
    pv_check_true("read.name", n > 0);
    pv_printf("store: name '%s'\n", buf);
    n = pv_xs_directory(0, "/local/domain/1", buf, sizeof buf);
    pv_check_true("directory.home", n > 0 && pv_xs_list_has(buf, n, "device") && pv_xs_list_has(buf, n, "data") &&
                                        pv_xs_list_has(buf, n, "control"));
}

static void read_write(void) {
    pv_check("write", pv_xs_write(0, "data/greeting", "hello, store"), 0);
    pv_check("read.back", pv_xs_read(0, "data/greeting", buf, sizeof buf), 12);
    pv_check_true("read.back.value", strcmp(buf, "hello, store") == 0);
    pv_check("read.absolute", pv_xs_read(0, "/local/domain/1/data/greeting", buf, sizeof buf), 12);
    pv_check("mkdir", pv_xs_mkdir(0, "data/dir"), 0);
    pv_check("write.child", pv_xs_write(0, "data/dir/a", "1"), 0);
    pv_check("write.child2", pv_xs_write(0, "data/dir/b", "2"), 0);
    long n = pv_xs_directory(0, "data/dir", buf, sizeof buf);
    pv_check("directory.len", n, 4); /* "a\0b\0" */
    pv_check_true("directory.has-a-b", pv_xs_list_has(buf, n, "a") && pv_xs_list_has(buf, n, "b"));
    pv_check("rm", pv_xs_rm(0, "data/dir"), 0);
    pv_check("read.removed", pv_xs_read(0, "data/dir/a", buf, sizeof buf), -ENOENT);
    pv_check("read.missing", pv_xs_read(0, "data/nothing-here", buf, sizeof buf), -ENOENT);
    pv_check("write.empty-path", pv_xs_write(0, "", "x"), -EINVAL);
    pv_check("write.bad-chars", pv_xs_write(0, "data/a b", "x"), -EINVAL);
}

static void watches(void) {
    char path[192], token[64];
    pv_check("watch", pv_xs_watch("data/watched", "tok-1"), 0);
    bool got = pv_xs_next_event(path, sizeof path, token, sizeof token, pv_deadline_ms(5000));
    pv_check_true("watch.fires-at-once", got && strcmp(path, "data/watched") == 0 && strcmp(token, "tok-1") == 0);
    pv_check("watch.write", pv_xs_write(0, "data/watched/leaf", "v"), 0);
    got = pv_xs_next_event(path, sizeof path, token, sizeof token, pv_deadline_ms(5000));
    pv_check_true("watch.fires-on-change", got && strcmp(path, "data/watched/leaf") == 0 && strcmp(token, "tok-1") == 0);
    pv_printf("store: event '%s' token '%s'\n", path, token);
    pv_check("watch.unrelated", pv_xs_write(0, "data/elsewhere", "v"), 0);
    pv_check("unwatch", pv_xs_unwatch("data/watched", "tok-1"), 0);
    pv_check("unwatch.again", pv_xs_unwatch("data/watched", "tok-1"), -ENOENT);
    pv_check("write.after-unwatch", pv_xs_write(0, "data/watched/leaf", "w"), 0);
    got = pv_xs_next_event(path, sizeof path, token, sizeof token, pv_deadline_ms(300));
    pv_check_true("watch.silent-after-unwatch", !got);
}

static void transactions(void) {
    uint32_t tx = 0, tx2 = 0;
    pv_check("tx.start", pv_xs_transaction_start(&tx), 0);
    pv_check_true("tx.id-nonzero", tx != 0);
    pv_check("tx.write", pv_xs_write(tx, "data/tx", "inside"), 0);
    pv_check("tx.invisible-outside", pv_xs_read(0, "data/tx", buf, sizeof buf), -ENOENT);
    pv_check("tx.visible-inside", pv_xs_read(tx, "data/tx", buf, sizeof buf), 6);
    pv_check("tx.commit", pv_xs_transaction_end(tx, true), 0);
    pv_check("tx.committed", pv_xs_read(0, "data/tx", buf, sizeof buf), 6);

    pv_check("tx.abort.start", pv_xs_transaction_start(&tx), 0);
    pv_check("tx.abort.write", pv_xs_write(tx, "data/tx-aborted", "x"), 0);
    pv_check("tx.abort", pv_xs_transaction_end(tx, false), 0);
    pv_check("tx.aborted-gone", pv_xs_read(0, "data/tx-aborted", buf, sizeof buf), -ENOENT);

    /* Conflict: what the transaction read changed underneath it. */
    pv_check("tx.conflict.start", pv_xs_transaction_start(&tx), 0);
    pv_check("tx.conflict.read", pv_xs_read(tx, "data/tx", buf, sizeof buf), 6);
    pv_check("tx.conflict.outside-write", pv_xs_write(0, "data/tx", "outside"), 0);
    pv_check("tx.conflict.write", pv_xs_write(tx, "data/tx", "from-tx"), 0);
    pv_check("tx.conflict.commit", pv_xs_transaction_end(tx, true), -EAGAIN);
    pv_xs_read(0, "data/tx", buf, sizeof buf);
    pv_check_true("tx.conflict.nothing-applied", strcmp(buf, "outside") == 0);

    /* Two at once on disjoint existing nodes: both commit. (Creating nodes in both would
     * conflict: a new child changes its parent, which both transactions touched.) */
    pv_check("tx.two.setup1", pv_xs_write(0, "data/tx1", "0"), 0);
    pv_check("tx.two.setup2", pv_xs_write(0, "data/tx2", "0"), 0);
    pv_check("tx.two.start1", pv_xs_transaction_start(&tx), 0);
    pv_check("tx.two.start2", pv_xs_transaction_start(&tx2), 0);
    pv_check("tx.two.write1", pv_xs_write(tx, "data/tx1", "1"), 0);
    pv_check("tx.two.write2", pv_xs_write(tx2, "data/tx2", "2"), 0);
    pv_check("tx.two.commit1", pv_xs_transaction_end(tx, true), 0);
    pv_check("tx.two.commit2", pv_xs_transaction_end(tx2, true), 0);
    pv_check("tx.end.unknown", pv_xs_transaction_end(12345, true), -ENOENT);
}

static void permissions(void) {
    pv_check("perm.dom0-home-write", pv_xs_write(0, "/local/domain/0/evil", "x"), -EACCES);
    pv_check("perm.dom0-home-read", pv_xs_read(0, "/local/domain/0/name", buf, sizeof buf), -EACCES);
    pv_check("perm.read-only-domid", pv_xs_write(0, "domid", "0"), -EACCES);
    pv_check("perm.readable-domid", pv_xs_read(0, "domid", buf, sizeof buf), 1);
    pv_check("perm.root-write", pv_xs_write(0, "/tool/evil", "x"), -EACCES);
    long n = pv_xs_get_perms(0, "data/greeting", buf, sizeof buf);
    pv_check_true("perm.own-node-owner-1", n > 0 && buf[1] == '1');
    pv_printf("store: perms of data/greeting '%s'\n", buf);
    pv_check("perm.set-own", pv_xs_set_perms(0, "data/greeting", "n1\0r0", 6), 0);
    pv_check("perm.give-away", pv_xs_set_perms(0, "data/greeting", "n5", 3), -EPERM);
    pv_check("perm.set-on-dom0-node", pv_xs_set_perms(0, "/local/domain/0/name", "n1", 3), -EACCES);
    pv_check("perm.garbage", pv_xs_set_perms(0, "data/greeting", "x1", 3), -EINVAL);
    pv_check("perm.rm-dom0", pv_xs_rm(0, "/local/domain/0"), -EACCES);
    pv_check("perm.introduce", pv_xs_talk(XS_INTRODUCE, 0, "1\0" "1\0" "1\0", 6, NULL, 0, NULL), -EACCES);
}

void pv_main(void) {
    pv_check("store.init", pv_xs_init(), 0);
    pv_printf("store: ring at %p, event channel %u\n", (void*)pv_xs_ring, pv_xs_port);
    layout();
    read_write();
    watches();
    transactions();
    permissions();
    pv_check("store.ring-error", pv_xs_ring->error, XENSTORE_ERROR_NONE);
}
