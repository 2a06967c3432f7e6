#pragma once
/// The host directory shared by popek (`--share DIR`, popekfs) as /share/... next to the files of
/// an underlying FileService. Paths below /share go to the back end (which confines them to DIR);
/// the kernel's own checks come first: sys_open accepts only canonical paths and asks the policy
/// (`open`, and `write` for POS_O_WRITE) before anything reaches the back end, so every denial is
/// logged by the kernel (docs/guest-os.md "Files on the host").
///
/// A file id is a slot of a small table of share paths (ids past the underlying service's count),
/// each with a back-end handle opened on first use: read-only for lookup(), read-write for
/// lookup_for_write(), which creates the file and empties it (the `put` semantics). `ls` lists the
/// share's top directory (refreshed on each count()). The table is never shrunk: at most kMaxFiles
/// distinct share paths per boot (-POS_EMFILE after that). The table is locked; requests to the back
/// end run under the front end's own lock.
#include "fs/file_service.h"
#include "lib/spinlock.h"

namespace pos {

class ShareFront;

class ShareFiles final : public FileService {
public:
    static constexpr int kMaxFiles = 48;  // below the back end's 64 handles
    static constexpr const char* kPrefix = "/share/";

    ShareFiles(const FileService* base, ShareFront* front) : m_base(base), m_front(front) {}

    int lookup(const char* path) const override;
    int lookup_for_write(const char* path) const override;
    bool info(int id, FileInfo& out) const override;
    long read(int id, uint64_t offset, void* buf, size_t len) const override;
    long write(int id, uint64_t offset, const void* buf, size_t len) const override;
    int count() const override;

private:
    struct Entry {
        char path[POS_PATH_MAX];  ///< "/share/..."
        uint32_t handle;          ///< 0: not open
        bool writable;
        bool directory;
    };
    int find(const char* path) const;
    /// The slot for `path` (added when missing), or -POS_EMFILE.
    int slot_for(const char* path) const;
    /// lookup / lookup_for_write below /share: the file id, or a negative POS_E*.
    int open_slot(const char* path, bool write) const;
    /// Opens the slot's back-end handle (again, read-write, when `write`); 0 or a negative POS_E*.
    long ensure_open(Entry& e, bool write) const;
    Entry* entry(int id) const;
    void refresh() const;

    const FileService* m_base;
    ShareFront* m_front;
    mutable Spinlock m_lock;  ///< guards the table (the front end has its own lock, taken inside)
    mutable Entry m_entries[kMaxFiles]{};
    mutable int m_count = 0;
};

}  // namespace pos
