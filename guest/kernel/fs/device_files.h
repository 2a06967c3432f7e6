#pragma once
/// Block devices as files: /dev/xvda, ... next to the files of an underlying FileService (the
/// boot image's table). Ids past the underlying service's count are devices. Reads and writes go
/// to the block front end byte-granular at the file offset; the size is the disk's size, so
/// `cat /dev/xvda` prints the whole disk. Opening is checked against the policy like any file
/// (`open` to read, `write` to write; docs/guest-os.md "Block device").
#include "fs/file_service.h"

namespace pos {

class BlockFront;

class DeviceFiles final : public FileService {
public:
    static constexpr int kMaxDevices = 4;

    explicit DeviceFiles(const FileService* base) : m_base(base) {}
    /// Adds `dev` as /dev/<dev.name()>; false when the table is full.
    bool add_block(BlockFront* dev);

    int lookup(const char* path) const override;
    bool info(int id, FileInfo& out) const override;
    long read(int id, uint64_t offset, void* buf, size_t len) const override;
    long write(int id, uint64_t offset, const void* buf, size_t len) const override;
    int count() const override { return m_base->count() + m_count; }

private:
    /// The device behind `id`, or nullptr for an id of the underlying service.
    BlockFront* device(int id) const;

    struct Entry {
        char path[24];
        BlockFront* dev;
    };
    const FileService* m_base;
    Entry m_devices[kMaxDevices]{};
    int m_count = 0;
};

}  // namespace pos
