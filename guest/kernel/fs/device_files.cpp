#include "fs/device_files.h"

#include "common/format.h"
#include "common/string.h"
#include "drivers/blkfront.h"

namespace pos {

bool DeviceFiles::add_block(BlockFront* dev) {
    if (m_count == kMaxDevices) return false;
    Entry& e = m_devices[m_count++];
    format(e.path, sizeof e.path, "/dev/%s", dev->name());
    e.dev = dev;
    return true;
}

BlockFront* DeviceFiles::device(int id) const {
    int index = id - m_base->count();
    return index >= 0 && index < m_count ? m_devices[index].dev : nullptr;
}

int DeviceFiles::lookup(const char* path) const {
    for (int i = 0; i < m_count; ++i)
        if (strcmp(m_devices[i].path, path) == 0) return m_base->count() + i;
    return m_base->lookup(path);
}

bool DeviceFiles::info(int id, FileInfo& out) const {
    if (BlockFront* dev = device(id)) {
        out = {m_devices[id - m_base->count()].path, dev->size_bytes(), false};
        return true;
    }
    return m_base->info(id, out);
}

long DeviceFiles::read(int id, uint64_t offset, void* buf, size_t len) const {
    if (BlockFront* dev = device(id)) return dev->read(offset, buf, len);
    return m_base->read(id, offset, buf, len);
}

long DeviceFiles::write(int id, uint64_t offset, const void* buf, size_t len) const {
    if (BlockFront* dev = device(id)) return dev->write(offset, buf, len);
    return m_base->write(id, offset, buf, len);
}

}  // namespace pos
