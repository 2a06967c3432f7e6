#pragma once
// An in-memory sector device for the sealed disk tests and the fuzz target.
#include <cstdint>
#include <cstring>
#include <vector>

#include "sealdisk/volume.h"

namespace popek::sealdisk::testing {

struct MemoryDisk {
    std::vector<uint8_t> bytes;
    bool fail_writes = false;
    uint64_t writes = 0;

    explicit MemoryDisk(uint64_t sectors) : bytes(sectors * kSectorSize, 0) {}
    uint8_t* sector(uint64_t s) { return bytes.data() + s * kSectorSize; }

    SectorDevice device() {
        SectorDevice d;
        d.context = this;
        d.sectors = bytes.size() / kSectorSize;
        d.read = [](void* c, uint64_t s, void* buf, uint64_t n) -> long {
            auto* self = static_cast<MemoryDisk*>(c);
            if (s > self->bytes.size() / kSectorSize || n > self->bytes.size() / kSectorSize - s) return -5;
            std::memcpy(buf, self->sector(s), n * kSectorSize);
            return 0;
        };
        d.write = [](void* c, uint64_t s, const void* buf, uint64_t n) -> long {
            auto* self = static_cast<MemoryDisk*>(c);
            if (self->fail_writes) return -5;
            if (s > self->bytes.size() / kSectorSize || n > self->bytes.size() / kSectorSize - s) return -5;
            std::memcpy(self->sector(s), buf, n * kSectorSize);
            ++self->writes;
            return 0;
        };
        return d;
    }
};

inline const uint8_t* test_secret() {
    static const uint8_t secret[kSecretBytes] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                                17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
    return secret;
}

}  // namespace popek::sealdisk::testing
