#include "fs/share_files.h"

#include "common/format.h"
#include "common/string.h"
#include "fs/share_front.h"

namespace pos {
namespace {

constexpr size_t kPrefixLen = 7;  // "/share/"

bool under_share(const char* path) { return starts_with(path, ShareFiles::kPrefix) && path[kPrefixLen] != 0; }

/// popekfs status (a negative Linux errno) as the kernel's POS_E* (the same numbers where both
/// have them). Refusals of the back end's confinement (symlinks: ELOOP) read as "access denied".
long to_pos(long r) {
    if (r >= 0) return r;
    switch (-r) {
    case POS_ENOENT: case POS_EACCES: case POS_EROFS: case POS_ENAMETOOLONG: case POS_EINVAL:
    case POS_EMFILE: case POS_ENOSPC: case POS_EBADF: return r;
    case 40 /* ELOOP */: return -POS_EACCES;
    case 21 /* EISDIR */: case 20 /* ENOTDIR */: return -POS_EINVAL;
    default: return -POS_EIO;
    }
}

}  // namespace

ShareFiles::Entry* ShareFiles::entry(int id) const {
    int index = id - m_base->count();
    return index >= 0 && index < m_count ? &m_entries[index] : nullptr;
}

int ShareFiles::find(const char* path) const {
    for (int i = 0; i < m_count; ++i)
        if (strcmp(m_entries[i].path, path) == 0) return i;
    return -1;
}

int ShareFiles::slot_for(const char* path) const {
    if (int i = find(path); i >= 0) return i;
    if (m_count == kMaxFiles) return -POS_EMFILE;
    Entry& e = m_entries[m_count];
    copy_string(e.path, sizeof e.path, path);
    e.handle = 0;
    e.writable = false;
    e.directory = false;
    return m_count++;
}

long ShareFiles::ensure_open(Entry& e, bool write) const {
    if (e.handle != 0 && (e.writable || !write)) return 0;
    uint16_t flags = write ? POPEKFS_O_READ | POPEKFS_O_WRITE | POPEKFS_O_CREATE | POPEKFS_O_TRUNCATE : POPEKFS_O_READ;
    long h = m_front->open(e.path + kPrefixLen, flags);
    if (h < 0) return to_pos(h);
    if (e.handle != 0) m_front->close(e.handle);
    e.handle = static_cast<uint32_t>(h);
    e.writable = write;
    return 0;
}

int ShareFiles::open_slot(const char* path, bool write) const {
    const bool known = find(path) >= 0;
    int slot = slot_for(path);
    if (slot < 0) return slot;
    if (long r = ensure_open(m_entries[slot], write); r < 0) {
        if (!known && slot == m_count - 1) --m_count;  // a path that does not open is not listed
        return static_cast<int>(r);
    }
    return m_base->count() + slot;
}

int ShareFiles::lookup(const char* path) const {
    if (!under_share(path)) return m_base->lookup(path);
    LockGuard guard(m_lock);
    return open_slot(path, false);
}

int ShareFiles::lookup_for_write(const char* path) const {
    if (!under_share(path)) return m_base->lookup_for_write(path);
    LockGuard guard(m_lock);
    return open_slot(path, true);
}

void ShareFiles::refresh() const {
    long dir = m_front->open("", POPEKFS_O_DIRECTORY);
    if (dir < 0) return;
    uint64_t cookie = 0;
    for (int rounds = 0; rounds < 16; ++rounds) {
        auto add = [](const char* name, size_t len, uint8_t type, void* ctx) {
            auto* self = static_cast<const ShareFiles*>(ctx);
            char path[POS_PATH_MAX];
            if (kPrefixLen + len + 2 > sizeof path) return;  // too long for the kernel's paths
            memcpy(path, kPrefix, kPrefixLen);
            memcpy(path + kPrefixLen, name, len);
            path[kPrefixLen + len] = 0;
            int slot = self->slot_for(path);
            if (slot >= 0) self->m_entries[slot].directory = type == POPEKFS_TYPE_DIRECTORY;
        };
        long next = m_front->readdir(static_cast<uint32_t>(dir), cookie, add, const_cast<ShareFiles*>(this));
        if (next < 0 || static_cast<uint64_t>(next) == cookie) break;
        cookie = static_cast<uint64_t>(next);
    }
    m_front->close(static_cast<uint32_t>(dir));
}

int ShareFiles::count() const {
    LockGuard guard(m_lock);
    refresh();
    return m_base->count() + m_count;
}

bool ShareFiles::info(int id, FileInfo& out) const {
    if (id < m_base->count()) return m_base->info(id, out);
    LockGuard guard(m_lock);
    Entry* e = entry(id);
    if (e == nullptr) return false;
    popekfs_response st{};
    long r = e->handle != 0 ? m_front->fstat(e->handle, st) : m_front->stat(e->path + kPrefixLen, st);
    // A file removed on the host still lists (size 0): listing stops at the first missing id.
    out = {e->path, r == 0 ? st.size : 0, false};
    return true;
}

long ShareFiles::read(int id, uint64_t offset, void* buf, size_t len) const {
    if (id < m_base->count()) return m_base->read(id, offset, buf, len);
    uint32_t handle = 0;
    {
        LockGuard guard(m_lock);
        Entry* e = entry(id);
        if (e == nullptr) return -POS_EBADF;
        handle = e->handle;
    }
    if (handle == 0) return -POS_EBADF;
    return to_pos(m_front->read(handle, offset, buf, len));
}

long ShareFiles::write(int id, uint64_t offset, const void* buf, size_t len) const {
    if (id < m_base->count()) return m_base->write(id, offset, buf, len);
    uint32_t handle = 0;
    {
        LockGuard guard(m_lock);
        Entry* e = entry(id);
        if (e == nullptr) return -POS_EBADF;
        if (!e->writable) return -POS_EBADF;
        handle = e->handle;
    }
    if (handle == 0) return -POS_EBADF;
    return to_pos(m_front->write(handle, offset, buf, len));
}

}  // namespace pos
