/* popek/pvabi/fsif.h - popekfs: files of a host directory (`popek run --xen --share DIR[,ro]`)
 * for a PV guest, over a request/response ring in the style of Xen's io/blkif.h.
 *
 * Plain C, no libc: included by popek (C++, after pv/xen_abi.h) and by freestanding guests.
 * docs/pv.md "popekfs" describes the protocol and the back end's confinement.
 *
 * Discovery and connection (io/xenbus.h states, docs/misc/xenstore-paths layout):
 *   front end  device/popekfs/0/{backend, backend-id, state}
 *   back end   /local/domain/0/backend/popekfs/<domid>/0/{frontend, frontend-id, state, mode,
 *              max-handles, max-data-pages}
 *   The front end waits for InitWait, grants one ring page (SHARED_RING_INIT / FRONT_RING_INIT),
 *   allocates an unbound event channel for the back end, writes ring-ref, event-channel and
 *   protocol ("x86_64-abi") and switches to Initialised; the back end maps the ring and goes to
 *   Connected. Closing / Closed tear it down as for a vbd.
 *
 * Data: a request names up to POPEKFS_MAX_DATA_PAGES grant references. Its data (a path, file
 * bytes, directory records) is one byte string laid over those pages in order, starting at offset 0
 * of data_ref[0]; `length` bytes of it are used, so length <= nr_pages * 4096. Pages the back end
 * only reads (paths, write data) may be granted read-only; pages it fills must be writable.
 *
 * Errors are negative Linux errno values in popekfs_response.status. */
#ifndef POPEK_PVABI_FSIF_H
#define POPEK_PVABI_FSIF_H

#ifndef __XEN_INTERFACE_VERSION__
#define __XEN_INTERFACE_VERSION__ 0x00040e00
#endif
#include <stdint.h>
#include <xen/io/ring.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The XenBus device type (device/popekfs/<id>) and the only device id popek creates. */
#define POPEKFS_DEVICE_TYPE "popekfs"
#define POPEKFS_DEVICE_ID 0

/* Limits (also published by the back end as max-handles / max-data-pages). */
#define POPEKFS_MAX_DATA_PAGES 8            /* data pages per request: 32 KiB */
#define POPEKFS_PATH_MAX 1024               /* bytes of a path, without a terminator */
#define POPEKFS_NAME_MAX 255                /* bytes of one path component */
#define POPEKFS_MAX_HANDLES 64              /* open handles per front end */

/* Operations (popekfs_request.op). Paths are relative to the shared directory, components
 * separated by '/'; "" and "." name the directory itself. Absolute paths, ".." components, NUL
 * bytes and symbolic links anywhere in the path are refused. */
#define POPEKFS_OP_OPEN 1     /* path in data; flags = POPEKFS_O_* -> value = handle, type */
#define POPEKFS_OP_CLOSE 2    /* handle */
#define POPEKFS_OP_READ 3     /* handle, offset, length, data pages (written) -> value = bytes read */
#define POPEKFS_OP_WRITE 4    /* handle, offset, length, data pages (read) -> value = bytes written */
#define POPEKFS_OP_STAT 5     /* path in data -> type, value = permission bits, size, mtime_ns */
#define POPEKFS_OP_FSTAT 6    /* handle -> type, value = permission bits, size, mtime_ns */
#define POPEKFS_OP_READDIR 7  /* handle of a directory, offset = cookie (0: first entry), length,
                               * data pages (written) with popekfs_dirent records
                               * -> value = bytes filled, next = cookie of the next entry
                               *    (next == offset: no more entries) */
#define POPEKFS_OP_UNLINK 8   /* path in data; flags POPEKFS_O_DIRECTORY removes an empty directory */
#define POPEKFS_OP_MKDIR 9    /* path in data */

/* Open flags (popekfs_request.flags). At least one of READ / WRITE / DIRECTORY. */
#define POPEKFS_O_READ 0x01
#define POPEKFS_O_WRITE 0x02
#define POPEKFS_O_CREATE 0x04     /* create the file if missing (mode 0644) */
#define POPEKFS_O_TRUNCATE 0x08   /* with WRITE: empty the file */
#define POPEKFS_O_EXCLUSIVE 0x10  /* with CREATE: fail with -EEXIST if it exists */
#define POPEKFS_O_DIRECTORY 0x20  /* open a directory (for READDIR); with READ only */

/* Object types (popekfs_response.type, popekfs_dirent.type). */
#define POPEKFS_TYPE_FILE 1
#define POPEKFS_TYPE_DIRECTORY 2
#define POPEKFS_TYPE_OTHER 3  /* symlink, device, FIFO, socket: listed, never opened */

/// A request (front end -> back end). 64 bytes, so a 4 KiB ring page holds 32 slots.
struct popekfs_request {
    uint64_t id;          /* echoed in the response */
    uint8_t op;           /* POPEKFS_OP_* */
    uint8_t nr_pages;     /* data pages used, 0..POPEKFS_MAX_DATA_PAGES */
    uint16_t flags;       /* POPEKFS_O_* */
    uint32_t handle;      /* from OPEN */
    uint64_t offset;      /* file offset (READ, WRITE), cookie (READDIR) */
    uint32_t length;      /* bytes of data: path length or transfer size */
    uint32_t _pad;
    uint32_t data_ref[POPEKFS_MAX_DATA_PAGES]; /* grant_ref_t of each data page */
};

/// A response (back end -> front end). 48 bytes.
struct popekfs_response {
    uint64_t id;          /* the request's id */
    uint8_t op;           /* the request's op */
    uint8_t type;         /* POPEKFS_TYPE_* (STAT, FSTAT, OPEN) */
    uint16_t _pad;
    int32_t status;       /* 0 or -errno */
    uint64_t value;       /* handle (OPEN), bytes (READ, WRITE, READDIR), permission bits (STAT) */
    uint64_t next;        /* READDIR: cookie of the next entry */
    uint64_t size;        /* STAT, FSTAT: bytes */
    uint64_t mtime_ns;    /* STAT, FSTAT: modification time, ns since the epoch */
};

/// One directory entry in READDIR data: a header and the name (not terminated), the record padded
/// to a multiple of 8 bytes (reclen). Entries "." and ".." are not listed; the order is by name.
struct popekfs_dirent {
    uint16_t reclen;      /* bytes of this record, header included, multiple of 8 */
    uint8_t type;         /* POPEKFS_TYPE_* */
    uint8_t name_len;     /* 1..POPEKFS_NAME_MAX */
    char name[];
};

/* io/ring.h: struct popekfs_sring, popekfs_front_ring, popekfs_back_ring. */
DEFINE_RING_TYPES(popekfs, struct popekfs_request, struct popekfs_response);

#ifdef __cplusplus
}
#endif

#endif /* POPEK_PVABI_FSIF_H */
