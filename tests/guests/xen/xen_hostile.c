/* xen_hostile.c - a guest that misbehaves on purpose (issue 6 item 8). After each abuse it checks
 * that it got an error it can see and that popek still serves it:
 *   hypercalls: pointers outside guest RAM or the page tables (-EFAULT), oversized counts and
 *     structures crossing pages (-EINVAL), placing shared_info / grant frames outside RAM, bad
 *     per-vCPU upcall vectors; a grant frame placed in unpopulated space reads back what the
 *     guest wrote there (popek serves it as MMIO, as Linux PVH places its grant table);
 *   event channels: allocating until -ENOSPC, then closing them all and allocating again;
 *   store wire: a header claiming more than XENSTORE_PAYLOAD_MAX (E2BIG, stream stays in step),
 *     a missing NUL terminator, wrong argument counts, unknown message types, guest-forbidden
 *     toolstack messages, a watch flood (watch quota E2BIG; 2500 events queued without reading);
 *   finally store ring indices past the ring: popek marks the ring broken (XENSTORE_ERROR_RINGIDX)
 *     and keeps running. */
#include "pv_evtchn.h"
#include "pv_grant.h"
#include "pv_hypercall.h"
#include "pv_store.h"

#define NOT_RAM 0xfee00000ull         /* identity-mapped, but the local APIC, not RAM */
#define NOT_MAPPED 0x0000700000000000ull /* canonical, not in popek's page tables */
#define NON_CANONICAL 0x8000000000000000ull
#define OUTSIDE_RAM 0xf0000000ull     /* identity-mapped, no RAM (low RAM ends by 3 GiB) */

static char buf[256];

static void hypercalls(void) {
    pv_check("efault.hvm_op-not-ram", HYPERVISOR_hvm_op(HVMOP_get_param, (void*)NOT_RAM), -EFAULT);
    pv_check("efault.hvm_op-unmapped", HYPERVISOR_hvm_op(HVMOP_get_param, (void*)NOT_MAPPED), -EFAULT);
    pv_check("efault.evtchn-noncanonical", HYPERVISOR_event_channel_op(EVTCHNOP_send, (void*)NON_CANONICAL), -EFAULT);
    pv_check("efault.console-buffer", HYPERVISOR_console_io(CONSOLEIO_write, 16, (const char*)NOT_MAPPED), -EFAULT);
    pv_check("einval.console-huge", HYPERVISOR_console_io(CONSOLEIO_write, 0x7fffffff, buf), -EINVAL);
    /* A struct that starts on the last bytes of RAM's last mapped page and runs past it. */
    pv_check("efault.shutdown-arg", HYPERVISOR_sched_op(SCHEDOP_shutdown, (void*)NOT_RAM), -EFAULT);
    evtchn_port_t ports[1] = {1};
    sched_poll_t poll = {.nr_ports = 100000};
    set_xen_guest_handle(poll.ports, ports);
    pv_check("einval.poll-too-many-ports", HYPERVISOR_sched_op(SCHEDOP_poll, &poll), -EINVAL);
    poll.nr_ports = 1;
    set_xen_guest_handle(poll.ports, (evtchn_port_t*)NOT_MAPPED);
    pv_check("efault.poll-ports", HYPERVISOR_sched_op(SCHEDOP_poll, &poll), -EFAULT);
    vcpu_register_vcpu_info_t vi = {.mfn = 0x200, .offset = 4090};
    pv_check("einval.vcpu_info-crosses-page", HYPERVISOR_vcpu_op(VCPUOP_register_vcpu_info, 0, &vi), -EINVAL);
    xen_add_to_physmap_t x = {.domid = DOMID_SELF, .space = XENMAPSPACE_shared_info, .idx = 0,
                              .gpfn = NOT_MAPPED >> 12};
    pv_check("einval.shared_info-outside-ram", HYPERVISOR_memory_op(XENMEM_add_to_physmap, &x), -EINVAL);
    x.space = XENMAPSPACE_grant_table;
    x.idx = 100000;
    x.gpfn = 0x200;
    pv_check("einval.grant-frame-index", HYPERVISOR_memory_op(XENMEM_add_to_physmap, &x), -EINVAL);
    x.domid = 5;
    pv_check("eperm.physmap-other-domain", HYPERVISOR_memory_op(XENMEM_add_to_physmap, &x), -EPERM);
    xen_hvm_param_t p = {.domid = DOMID_SELF, .index = HVM_PARAM_STORE_PFN, .value = 0x1234};
    pv_check("eperm.set-store-pfn", HYPERVISOR_hvm_op(HVMOP_set_param, &p), -EPERM);
    p.index = 100000;
    pv_check("einval.param-index", HYPERVISOR_hvm_op(HVMOP_get_param, &p), -EINVAL);
    gnttab_setup_table_t st = {.dom = DOMID_SELF, .nr_frames = 100000};
    xen_pfn_t frames[1];
    set_xen_guest_handle(st.frame_list, frames);
    pv_check("gnttab.setup-huge.call", HYPERVISOR_grant_table_op(GNTTABOP_setup_table, &st, 1), 0);
    pv_check_true("gnttab.setup-huge.status-error", st.status < 0);
    pv_check("gnttab.map-by-guest", HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, buf, 1), -ENOSYS);
    pv_check("gnttab.copy-too-many", HYPERVISOR_grant_table_op(GNTTABOP_copy, buf, 100000), -EINVAL);
    /* What Linux uses: per-vCPU upcall vectors and grant frames outside RAM. */
    pv_check("efault.upcall-vector", HYPERVISOR_hvm_op(HVMOP_set_evtchn_upcall_vector, (void*)NOT_RAM), -EFAULT);
    xen_hvm_evtchn_upcall_vector_t uv = {.vcpu = 0, .vector = 3};
    pv_check("einval.upcall-vector-exception", HYPERVISOR_hvm_op(HVMOP_set_evtchn_upcall_vector, &uv), -EINVAL);
    uv.vcpu = 99;
    uv.vector = 0xf3;
    pv_check("enoent.upcall-vector-vcpu", HYPERVISOR_hvm_op(HVMOP_set_evtchn_upcall_vector, &uv), -ENOENT);
    x.domid = DOMID_SELF;
    x.idx = 1;
    x.gpfn = NOT_RAM >> 12; /* the local APIC: no frame can show there */
    pv_check("einval.grant-frame-on-lapic", HYPERVISOR_memory_op(XENMEM_add_to_physmap, &x), -EINVAL);
    x.gpfn = NOT_MAPPED >> 12; /* past popek's physmap windows */
    pv_check("einval.grant-frame-far", HYPERVISOR_memory_op(XENMEM_add_to_physmap, &x), -EINVAL);
    x.gpfn = OUTSIDE_RAM >> 12; /* unpopulated space below 4 GiB: popek serves the frame there */
    pv_check("physmap.grant-frame-outside-ram", HYPERVISOR_memory_op(XENMEM_add_to_physmap, &x), 0);
    volatile uint64_t* frame = (volatile uint64_t*)OUTSIDE_RAM;
    frame[7] = 0x1122334455667788ull;
    pv_check_true("physmap.frame-reads-back", frame[7] == 0x1122334455667788ull);
    pv_check_true("physmap.next-page-unbacked", *(volatile uint64_t*)(OUTSIDE_RAM + 4096) == ~0ull);
    pv_check("hypercall.unknown", pv_hypercall(55, 1, 2, 3, 4, 5), -ENOSYS);
    pv_check("still-alive.xen_version", HYPERVISOR_xen_version(XENVER_version, NULL) >> 16, 4);
}

static evtchn_port_t many[2048];

static void exhaust_event_channels(void) {
    long r = 0;
    uint32_t n = 0;
    while (n < PV_ARRAY_SIZE(many) && (r = pv_evtchn_alloc_unbound(DOMID_SELF, &many[n])) == 0) ++n;
    pv_check("evtchn.exhausted", r, -ENOSPC);
    pv_printf("hostile: %u event channels allocated before ENOSPC\n", n);
    pv_check_true("evtchn.exhausted-after-many", n >= 1000 && n < 1024);
    bool closed = true;
    for (uint32_t i = 0; i < n; ++i) closed = pv_evtchn_close(many[i]) == 0 && closed;
    pv_check_true("evtchn.all-closed", closed);
    evtchn_port_t p;
    pv_check("evtchn.alloc-again", pv_evtchn_alloc_unbound(DOMID_SELF, &p), 0);
    pv_check("evtchn.close-again", pv_evtchn_close(p), 0);
}

static void store_wire(void) {
    /* A header claiming 5000 bytes, then the 5000 bytes: E2BIG, and the stream stays in step. */
    static char junk[5000];
    memset(junk, 'j', sizeof junk);
    struct xsd_sockmsg hdr = {.type = XS_WRITE, .req_id = 7001, .len = sizeof junk};
    pv_check("wire.oversized-send", pv_xs_send_raw(&hdr, sizeof hdr) == 0 && pv_xs_send_raw(junk, sizeof junk) == 0, 1);
    struct xsd_sockmsg rh;
    pv_check("wire.oversized-reply", pv_xs_recv_raw(&rh, buf, sizeof buf, pv_deadline_ms(5000)), 0);
    pv_check_true("wire.oversized-is-E2BIG", rh.type == XS_ERROR && rh.req_id == 7001 && strcmp(buf, "E2BIG") == 0);
    pv_check("wire.in-step-after", pv_xs_write(0, "data/ok", "1"), 0);

    pv_check("wire.no-terminator", pv_xs_talk(XS_READ, 0, "data/ok", 7, NULL, 0, NULL), -EINVAL);
    pv_check("wire.watch-one-arg", pv_xs_talk(XS_WATCH, 0, "data\0", 5, NULL, 0, NULL), -EINVAL);
    pv_check("wire.unknown-type", pv_xs_talk((enum xsd_sockmsg_type)999, 0, "x", 2, NULL, 0, NULL), -EINVAL);
    pv_check("wire.release-forbidden", pv_xs_talk(XS_RELEASE, 0, "1", 2, NULL, 0, NULL), -EACCES);
    static char long_path[3200]; /* more than XENSTORE_ABS_PATH_MAX once made absolute */
    pv_strcpy(long_path, "data/", sizeof long_path);
    memset(long_path + 5, 'a', sizeof long_path - 6);
    pv_check("wire.path-too-long", pv_xs_write(0, long_path, "x"), -EINVAL);
    pv_check("wire.read-after-abuse", pv_xs_read(0, "data/ok", buf, sizeof buf), 1);
}

static void watch_flood(void) {
    char token[16];
    long r = 0;
    int n = 0;
    for (; n < 200; ++n) {
        char num[24];
        token[0] = 't';
        pv_strcpy(token + 1, pv_utoa((uint64_t)n, num), sizeof token - 1);
        if ((r = pv_xs_watch("data/flood", token)) != 0) break;
    }
    pv_check("flood.watch-quota", r, -E2BIG);
    pv_printf("hostile: %d watches before the quota\n", n);
    uint32_t before = pv_xs_events_received();
    /* 25 writes sent back to back without reading: each fires every watch (n events). */
    enum { WRITES = 25 };
    for (uint32_t i = 0; i < WRITES; ++i) {
        static const char body[] = "data/flood\0v";
        struct xsd_sockmsg hdr = {.type = XS_WRITE, .req_id = 8000 + i, .len = sizeof body - 1};
        pv_xs_send_raw(&hdr, sizeof hdr);
        pv_xs_send_raw(body, sizeof body - 1);
    }
    uint32_t replies = 0, events = 0, bad = 0;
    uint64_t deadline = pv_deadline_ms(30000);
    while (replies < WRITES) {
        struct xsd_sockmsg rh;
        if (pv_xs_recv_raw(&rh, NULL, 0, deadline) != 0) break;
        if (rh.type == XS_WATCH_EVENT) ++events;
        else if (rh.type == XS_WRITE && rh.req_id == 8000 + replies) ++replies;
        else ++bad;
    }
    /* Events still coming after the last reply. */
    struct xsd_sockmsg rh;
    while (pv_xs_recv_raw(&rh, NULL, 0, pv_deadline_ms(500)) == 0)
        if (rh.type == XS_WATCH_EVENT) ++events;
    pv_check("flood.all-replies-in-order", replies, WRITES);
    pv_check("flood.nothing-unexpected", bad, 0);
    pv_printf("hostile: %u watch events received of %u fired (the rest dropped by popek)\n",
              events + pv_xs_events_received() - before, (uint32_t)(n * WRITES));
    pv_check_true("flood.bounded", events <= (uint32_t)(n * WRITES));
    pv_check("flood.read-after", pv_xs_read(0, "data/flood", buf, sizeof buf), 1);
}

static void store_ring_indices(void) {
    /* Claim 4096 request bytes in a 1024-byte ring. */
    __atomic_store_n(&pv_xs_ring->req_prod, pv_xs_ring->req_cons + 4096, __ATOMIC_RELEASE);
    pv_evtchn_send(pv_xs_port);
    uint64_t deadline = pv_deadline_ms(2000);
    while (pv_xs_ring->error == 0 && pv_now_ns() < deadline) pv_evtchn_wait(pv_xs_port, deadline);
    pv_check("ring.error-ringidx", pv_xs_ring->error, XENSTORE_ERROR_RINGIDX);
    pv_check("ring.requests-refused", pv_xs_read(0, "data/ok", buf, sizeof buf), -EIO);
    pv_check("still-alive.after-ring", HYPERVISOR_xen_version(XENVER_version, NULL) >> 16, 4);
}

void pv_main(void) {
    hypercalls();
    exhaust_event_channels();
    pv_check("store.init", pv_xs_init(), 0);
    store_wire();
    watch_flood();
    store_ring_indices();
}
