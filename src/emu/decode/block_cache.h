#pragma once
/// Per-vCPU cache of decoded blocks (straight-line runs of Insn ending at a control transfer or a
/// page end; a block goes on past up to kMaxSideExits conditional jumps, leaving in its middle
/// when one is taken), keyed by guest-physical address and decode mode, plus a jump cache keyed by linear
/// RIP that skips translation on the hot path (flushed with the TLB, like QEMU's tb_jmp_cache).
/// A block is valid while its page's write generation is unchanged (self-modifying code by any
/// vCPU) and its bytes still match after the VMM may have written RAM (DMA epoch).
#include <atomic>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "emu/cpu.h"
#include "emu/decode/decoder.h"
#include "emu/decode/insn.h"

namespace popek::emu {

class Cpu;

struct Block {
    uint64_t gpa = 0;
    uint32_t mode = 0;
    std::atomic<uint32_t>* gen_ptr = nullptr;
    uint32_t gen = 0;
    uint64_t dma_epoch = 0;
    std::vector<uint8_t> bytes;   ///< the guest bytes decoded (re-verified after DMA)
    std::vector<Insn> insns;
    bool cached = true;           ///< false: a page-crossing instruction decoded for one use
    /// A block of one instruction crossing into the next page (BlockCache::span_pages): the
    /// guest-physical page its bytes go on in (where the linear page after it mapped when it
    /// was decoded) and that page's write generation; kNoPage: the block lies in one page.
    static constexpr uint64_t kNoPage = ~0ULL;
    uint64_t gpa2 = kNoPage;
    const uint8_t* host2 = nullptr;   ///< gpa2's page in the host (the guard of bt_guard compares it)
    std::atomic<uint32_t>* gen_ptr2 = nullptr;
    uint32_t gen2 = 0;
    /// Translated (64-bit code): the offset in bt_code of the entry chained jumps take into a
    /// block spanning two pages, which checks that the TLB still maps the next linear page to
    /// host2 and gen2 holds (BlockEmitter::emit_span_guard); 0: chained jumps do not enter.
    uint32_t bt_guard = 0;
    bool spans() const { return gpa2 != kNoPage; }
    // Block translator (emu/bt/): host code of this block, valid while bt_epoch is the epoch of
    // the vCPU's code buffer; decode_block() drops it, so stale code never runs.
    const void* bt_code = nullptr;
    uint32_t bt_epoch = 0;
    uint32_t bt_runs = 0;         ///< runs through the interpreter while not translated
};

/// Block::mode bit: 32-bit code run with flat DS/ES/SS (Cpu::flat_data32), which the
/// translator's inline memory paths rely on. Segment loads end their block (decoder.cpp), so the
/// bit holds for the whole block and for the blocks chained to it.
inline constexpr uint32_t kModeFlat32 = 0x200;

/// The decode mode of the code at the current CS:RIP: code size, CPL 3, flat data segments.
inline uint32_t code_mode(const Cpu& c) {
    uint32_t m = c.code_bits | (c.cpl == 3 ? 0x100u : 0u);
    if (c.code_bits == 32 && c.flat_data32()) m |= kModeFlat32;
    return m;
}

class BlockCache {
public:
    /// Blocks kept decoded (about 1.4 KiB each with their instructions). A Debian 12 boot to
    /// login translates ~60 k blocks and decodes about twice as many: at 1 << 16 it emptied the
    /// map (and flushed every translation) seven times.
    static constexpr size_t kMaxBlocks = 1 << 17;
    explicit BlockCache(Cpu& cpu) : m_cpu(cpu) {}
    /// The block at the current CS:RIP, decoding it if needed. May raise #PF (instruction fetch)
    /// or exit (code outside RAM).
    Block* lookup() {
        if (Block* b = probe()) [[likely]]
            return b;
        const Cpu& c = m_cpu;
        const uint64_t lip = c.mode64 ? c.rip : ((c.seg[kCs].base + c.rip) & 0xffffffffULL);
        return lookup_slow(lip, code_mode(c));
    }
    /// The hot path of lookup() alone (inlined into the dispatch loop, and called by translated
    /// code between blocks): a jump-cache hit on a block whose page generation and DMA epoch are
    /// unchanged, else nullptr. Never faults.
    Block* probe() {
        const Cpu& c = m_cpu;
        const uint64_t lip = c.mode64 ? c.rip : ((c.seg[kCs].base + c.rip) & 0xffffffffULL);
        const uint32_t mode = code_mode(c);
        const JumpEntry& j = m_jump[jump_index(lip)];
        if (j.lip == lip && j.mode == mode && (j.tag == m_gen || j.tag == m_global_tag)) [[likely]] {
            const Block& b = *j.block;
            if (b.gen_ptr->load(std::memory_order_acquire) == b.gen &&
                b.dma_epoch == m_cpu.shared().dma_epoch.load(std::memory_order_acquire) &&
                (!b.gen_ptr2 || b.gen_ptr2->load(std::memory_order_acquire) == b.gen2)) [[likely]]
                return j.block;
        }
        return nullptr;
    }
    /// The block at guest-physical `gpa` decoded for `mode`, decoding it if needed, for a
    /// translation ahead of use (bt::Translator::warm_one): no linear address, so the jump cache
    /// is left alone. nullptr when the page is no longer code or was written since generation
    /// `gen`, the block map is full, or the block's first instruction crosses a page. Never faults.
    Block* prepare(uint64_t gpa, uint32_t mode, uint32_t gen);
    void clear();
    /// Empties the jump cache (its blocks are going away).
    void flush_jump_cache();
    /// A full TLB flush (CR0/CR4/EFER writes, INVLPG in a large page): no entry may be used
    /// before its linear address is translated again; an entry whose block the new translation
    /// still leads to is kept (lookup_slow revalidates it without the block map). O(1).
    void invalidate_all();
    /// INVLPG of a 4 KiB page: forgets the jump-cache entries of that linear page.
    void flush_jump_page(uint64_t la);
    /// MOV to CR3: entries found through non-global pages need revalidation (O(1)).
    void new_address_space();
    size_t size() const { return m_blocks.size(); }
    /// Jump-cache misses (lookup_slow) by cause, for `--stats`.
    struct MissCounts {
        uint64_t empty = 0;          ///< another lip in the slot (or none)
        uint64_t address_space = 0;  ///< found before a CR3 write or TLB flush (revalidated: `revalidated`)
        uint64_t revalidated = 0;    ///< of those, still leading to their block after a new translation
        uint64_t stale = 0;          ///< page written (SMC) or DMA epoch moved
        uint64_t crossing = 0;       ///< of all misses: an instruction crossing a page (decoded again)
        uint64_t flushes = 0;        ///< whole jump-cache flushes (CR0/CR4/EFER writes, large-page INVLPG)
        uint64_t evictions = 0;      ///< times the full block map dropped its blocks without translation
        uint64_t clears = 0;         ///< times the full block map was emptied (translations flushed)
    };
    const MissCounts& misses() const { return m_misses; }

private:
    struct JumpEntry {
        uint64_t lip = ~0ULL;
        uint32_t mode = 0;
        /// m_gen when it was found through a non-global page, m_global_tag through a global one.
        uint32_t tag = 0;
        Block* block = nullptr;
    };
    static constexpr uint32_t kGlobalBit = 0x80000000u;
    /// Clustered by page, as QEMU's tb_jmp_cache: one page's entries share a bucket of
    /// kJumpBucket slots, so INVLPG clears one bucket instead of the whole cache.
    static constexpr size_t kJumpBucketBits = 8, kJumpPageBits = 7;
    static constexpr size_t kJumpCacheSize = size_t{1} << (kJumpBucketBits + kJumpPageBits);
    static size_t jump_index(uint64_t lip) {
        const size_t page = (lip >> 12) & ((size_t{1} << kJumpPageBits) - 1);
        const size_t in_page = (lip ^ (lip >> kJumpBucketBits)) & ((size_t{1} << kJumpBucketBits) - 1);
        return (page << kJumpBucketBits) | in_page;
    }
    static constexpr size_t kMaxInsns = 64;
    /// Conditional jumps a block decodes past (each a possible exit from its middle).
    static constexpr unsigned kMaxSideExits = 8;
    /// A forward Jcc rel the block may go on after (its handler sets Cpu::brk when taken). A
    /// backward one, a loop's branch, ends the block: the loop then is one block branching to
    /// its own start, which the translator keeps inside its code (emu/bt/block_loop.cpp).
    static bool continues_block(const Insn& in) {
        return in.rel_branch && is_jcc(in.mnemonic) && static_cast<int64_t>(in.imm) >= 0 && in.cls == 0 &&
               in.fn != nullptr && in.fn != handle_undefined;
    }

    Block* lookup_slow(uint64_t lip, uint32_t mode);
    /// The map's block for (gpa, mode), decoded again if stale, or a new one; a full map makes
    /// room first, or (`make_room_if_full` false) gives nullptr.
    Block* find_or_decode(uint64_t gpa, uint32_t mode, bool make_room_if_full);
    /// The block map is full: drops the blocks with no current translation (most of them: a
    /// block is translated after kTranslateAfter interpreted runs, hv/interp), so the translated
    /// working set survives; empties it (translations flushed) only when that frees too little.
    void make_room();
    bool valid(const Block& b) const;
    void decode_block(Block& b, uint64_t gpa, uint32_t mode);
    /// `b` (at lip, empty: its first instruction crosses into the next page) as a block of that
    /// one instruction, kept while the next linear page maps where it did; the next page not
    /// RAM: decode_crossing().
    Block* span_pages(Block& b, uint64_t lip, uint32_t mode);
    /// True when lip's next linear page still maps to b.gpa2 (or `b` spans no pages). May fault:
    /// the instruction at lip fetches from there.
    bool second_page_same(const Block& b, uint64_t lip);
    /// Marks the page of `gpa` as code: its write generation into `gen_ptr`/`gen` (read before
    /// the bytes are: a racing write makes the block stale).
    void watch_code(uint64_t gpa, std::atomic<uint32_t>*& gen_ptr, uint32_t& gen);
    Block* decode_crossing(uint64_t lip, uint32_t mode);

    Cpu& m_cpu;
    Decoder m_decoder;
    std::unordered_map<uint64_t, std::unique_ptr<Block>> m_blocks;
    std::unique_ptr<JumpEntry[]> m_jump = std::make_unique<JumpEntry[]>(kJumpCacheSize);
    Block m_cross;
    uint32_t m_gen = 0;                     ///< bumped by CR3 writes and full flushes (< kGlobalBit)
    uint32_t m_global_tag = kGlobalBit;     ///< kGlobalBit | generation bumped by full flushes
    MissCounts m_misses;
};

}  // namespace popek::emu
