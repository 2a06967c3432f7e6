#include "emu/decode/block_cache.h"

#include <algorithm>
#include <cstring>

#include "emu/bt/translator.h"
#include "emu/cpu.h"

namespace popek::emu {

void jmp_rel_mid_block(Cpu& c, const Insn& i);   // emu/interp/control.cpp: JMP rel that sets Cpu::brk

namespace {

/// JMP rel8/rel32 (near, decoded with a handler).
bool jumps_away(const Insn& in) {
    return in.rel_branch && in.mnemonic == ZYDIS_MNEMONIC_JMP && in.k0 == kOpImm && in.cls == 0 && in.fn != nullptr &&
           in.fn != handle_undefined;
}

}  // namespace

bool BlockCache::valid(const Block& b) const {
    if (b.gen_ptr->load(std::memory_order_acquire) != b.gen) return false;
    if (b.gen_ptr2 && b.gen_ptr2->load(std::memory_order_acquire) != b.gen2) return false;
    uint64_t epoch = m_cpu.shared().dma_epoch.load(std::memory_order_acquire);
    if (b.dma_epoch == epoch) return true;
    // The VMM may have written guest RAM since: the block stays valid if its bytes are unchanged
    // (on both pages of a block that spans two).
    if (!b.bytes.empty()) {   // an empty block (its first instruction faulted) has nothing to compare
        const size_t n1 = b.spans() ? 4096 - (b.gpa & 0xfff) : b.bytes.size();
        const auto& mem = m_cpu.shared().mem;
        const uint8_t* host = mem.host_ptr(b.gpa, n1);
        if (!host || std::memcmp(host, b.bytes.data(), n1) != 0) return false;
        if (b.spans()) {
            const uint8_t* host2 = mem.host_ptr(b.gpa2, b.bytes.size() - n1);
            if (!host2 || std::memcmp(host2, b.bytes.data() + n1, b.bytes.size() - n1) != 0) return false;
        }
    }
    const_cast<Block&>(b).dma_epoch = epoch;
    return true;
}

bool BlockCache::second_page_same(const Block& b, uint64_t lip) {
    return !b.spans() || m_cpu.translate((lip | 0xfff) + 1, Access::Exec, false) == b.gpa2;
}

Block* BlockCache::lookup_slow(uint64_t lip, uint32_t mode) {
    Cpu& c = m_cpu;
    JumpEntry& j = m_jump[jump_index(lip)];
    bool revalidate = false;
    if (j.lip != lip || j.mode != mode) {
        ++m_misses.empty;
    } else if (j.tag != m_gen && j.tag != m_global_tag) {
        ++m_misses.address_space;
        revalidate = true;
    } else if (valid(*j.block)) {
        return j.block;
    } else {
        ++m_misses.stale;
    }

    const uint64_t gpa = c.translate(lip, Access::Exec, false);
    if (revalidate && j.block->gpa == gpa && valid(*j.block) && second_page_same(*j.block, lip)) {
        // The page tables changed or were flushed, and lip still leads to the same block.
        ++m_misses.revalidated;
        j.tag = !j.block->spans() && c.tlb_global(lip, c.tlb_class()) ? m_global_tag : m_gen;
        return j.block;
    }
    if (!c.shared().mem.host_ptr(gpa, 1)) {
        c.exits().set(hv::InternalError{fmt::format("instruction fetch outside RAM at gpa {:#x} (rip {:#x})", gpa, c.rip)});
        c.unwind_exit();
    }
    Block* b = find_or_decode(gpa, mode, true);
    if (b->insns.empty() || b->spans()) {
        b = span_pages(*b, lip, mode);
        if (!b->cached) return b;
    }
    // A block spanning two pages is found again only through non-global entries: a MOV to CR3
    // revalidates both of its pages.
    const bool global = !b->spans() && c.tlb_global(lip, c.tlb_class());
    m_jump[jump_index(lip)] = JumpEntry{lip, mode, global ? m_global_tag : m_gen, b};
    return b;
}

Block* BlockCache::prepare(uint64_t gpa, uint32_t mode, uint32_t gen) {
    EngineShared& sh = m_cpu.shared();
    // Decoding marks the page as code: a page written since (its blocks stale, unmarked, maybe
    // data now, as freed init text is) is left alone.
    std::atomic<uint32_t>* g = sh.code.generation(gpa);
    if (!g || g->load(std::memory_order_acquire) != gen || !sh.code.is_code(gpa) || !sh.mem.host_ptr(gpa, 1))
        return nullptr;
    // A full map is left to the running vCPU's make_room.
    Block* b = find_or_decode(gpa, mode, false);
    return !b || b->insns.empty() || b->spans() ? nullptr : b;
}

Block* BlockCache::find_or_decode(uint64_t gpa, uint32_t mode, bool make_room_if_full) {
    const uint64_t key = gpa | (uint64_t{mode} << 52);
    if (auto it = m_blocks.find(key); it != m_blocks.end()) {
        Block* b = it->second.get();
        if (!valid(*b)) decode_block(*b, gpa, mode);
        return b;
    }
    if (m_blocks.size() >= kMaxBlocks) {
        if (!make_room_if_full) return nullptr;
        make_room();
    }
    auto nb = std::make_unique<Block>();
    decode_block(*nb, gpa, mode);
    Block* b = nb.get();
    m_blocks.emplace(key, std::move(nb));
    return b;
}

void BlockCache::watch_code(uint64_t gpa, std::atomic<uint32_t>*& gen_ptr, uint32_t& gen) {
    EngineShared& sh = m_cpu.shared();
    gen_ptr = sh.code.generation(gpa);
    gen = gen_ptr->load(std::memory_order_acquire);
    if (sh.code.mark_code(gpa)) {
        m_cpu.drop_write_mappings();
        // Every other vCPU must drop its write mappings before its translated code goes on
        // (bt::ChainSlot): chained jumps check only attention.
        for (Cpu* other : sh.cpus)
            if (other && other != &m_cpu) other->attention.store(true, std::memory_order_release);
    }
}

Block* BlockCache::span_pages(Block& b, uint64_t lip, uint32_t mode) {
    // SDM Vol. 3A 4.10.2: the fetch of the second page is translated like any other; a fault
    // there is the instruction's (CR2 = the second page).
    const uint64_t gpa2 = m_cpu.translate((lip | 0xfff) + 1, Access::Exec, false) & ~0xfffULL;
    if (b.spans() && b.gpa2 == gpa2) return &b;
    const auto& mem = m_cpu.shared().mem;
    const uint8_t* host2 = mem.host_ptr(gpa2, 4096);
    if (!host2) return decode_crossing(lip, mode);   // not RAM: fetched and decoded each time
    if (b.spans()) {
        // Decoded before for another second page (another linear alias of the first): entries
        // for the old pairing may be in the jump cache under other addresses.
        flush_jump_cache();
        decode_block(b, b.gpa, b.mode);
        if (!b.insns.empty()) return &b;   // the first page's bytes changed meanwhile
    }
    watch_code(gpa2, b.gen_ptr2, b.gen2);
    const size_t first = 4096 - (b.gpa & 0xfff);
    uint8_t buf[15];
    const size_t n1 = std::min<size_t>(first, sizeof buf);
    std::memcpy(buf, mem.host_ptr(b.gpa, n1), n1);
    std::memcpy(buf + n1, host2, sizeof buf - n1);
    Insn in;
    bool end = false;
    m_decoder.decode(buf, sizeof buf, static_cast<int>(mode & 0xff), in, end);
    // Only a defined instruction that does cross is kept: its bytes alone decide it (an
    // undefined encoding may depend on bytes past its length; and the first page may have
    // changed since decode_block found its instruction crossing).
    if (in.fn == nullptr || in.fn == handle_undefined || in.len <= first || in.len > sizeof buf) {
        b.gpa2 = Block::kNoPage;
        b.gen_ptr2 = nullptr;
        return decode_crossing(lip, mode);
    }
    b.gpa2 = gpa2;
    b.host2 = host2;
    b.insns.assign(1, in);
    b.bytes.assign(buf, buf + in.len);
    return &b;
}

void BlockCache::decode_block(Block& b, uint64_t gpa, uint32_t mode) {
    EngineShared& sh = m_cpu.shared();
    b.gpa = gpa;
    b.mode = mode;
    b.gpa2 = Block::kNoPage;
    b.gen_ptr2 = nullptr;
    // Generation first, then the bytes: a write racing with decoding makes the block stale.
    watch_code(gpa, b.gen_ptr, b.gen);
    b.dma_epoch = sh.dma_epoch.load(std::memory_order_acquire);
    const uint8_t* host = sh.mem.host_ptr(gpa & ~0xfffULL, 4096);
    size_t off = gpa & 0xfff;
    const size_t start = off;
    // Decoded into a scratch list first, then copied at its exact length: a block's list is
    // allocated once (pushing into it would reallocate at 1, 2, 4, ... entries).
    thread_local std::vector<Insn> insns;
    insns.clear();
    b.bt_code = nullptr;
    b.bt_epoch = 0;
    b.bt_runs = 0;
    b.bt_guard = 0;
    unsigned side_exits = 0;
    // Where the block's forward Jccs jump to (page offsets): a JMP just before one of them does
    // not end the block.
    size_t over[kMaxSideExits];
    unsigned n_over = 0;
    while (insns.size() < kMaxInsns && off < 4096) {
        Insn in;
        bool end = false;
        if (m_decoder.decode(host + off, 4096 - off, static_cast<int>(mode & 0xff), in, end) ==
            DecodeStatus::NeedMoreBytes)
            break;   // crosses into the next page: decoded on its own by decode_crossing()
        insns.push_back(in);
        off += in.len;
        if (!end) continue;
        // A block goes on past a Jcc (a superblock): not taken, the instructions after it run in
        // the same block; taken, its handler ends the run (Cpu::brk).
        if (continues_block(in) && ++side_exits <= kMaxSideExits) {
            const uint64_t target = off + in.imm;   // forward: imm >= 0
            if (target < 4096 && n_over < kMaxSideExits) over[n_over++] = static_cast<size_t>(target);
            continue;
        }
        // `jcc 1f; ...; jmp out; 1: ...`: the block goes on past the JMP, which always leaves its
        // run (the instructions after it are the Jcc's path; the translator joins the two in the
        // block, emu/bt/side_branch.cpp).
        if (jumps_away(in) && std::find(over, over + n_over, off) != over + n_over && ++side_exits <= kMaxSideExits) {
            insns.back().fn = jmp_rel_mid_block;
            continue;
        }
        break;
    }
    b.insns.assign(insns.begin(), insns.end());
    b.bytes.assign(host + start, host + off);
}

Block* BlockCache::decode_crossing(uint64_t lip, uint32_t mode) {
    ++m_misses.crossing;
    uint8_t buf[15];
    unsigned first = static_cast<unsigned>(4096 - (lip & 0xfff));
    if (first > 15) first = 15;
    m_cpu.read_bytes_la(lip, buf, first, Access::Exec, false);
    Insn in;
    bool end = false;
    const int bits = static_cast<int>(mode & 0xff);
    if (m_decoder.decode(buf, first, bits, in, end) == DecodeStatus::NeedMoreBytes) {
        // Fetch the rest from the next page (which may fault, SDM: fetch of the second page).
        m_cpu.read_bytes_la(lip + first, buf + first, 15 - first, Access::Exec, false);
        m_decoder.decode(buf, 15, bits, in, end);
    }
    m_cross.cached = false;
    m_cross.insns.assign(1, in);
    return &m_cross;
}

void BlockCache::flush_jump_cache() {
    for (size_t i = 0; i < kJumpCacheSize; ++i) m_jump[i] = JumpEntry{};
}

void BlockCache::invalidate_all() {
    ++m_misses.flushes;
    const uint32_t next = (m_global_tag + 1) | kGlobalBit;
    if (next == kGlobalBit) {   // the global generation wrapped: forget everything for real
        flush_jump_cache();
        m_global_tag = kGlobalBit;
        return;
    }
    m_global_tag = next;
    new_address_space();
}

void BlockCache::new_address_space() {
    if (++m_gen == kGlobalBit) {
        m_gen = 0;
        flush_jump_cache();
    }
}

void BlockCache::flush_jump_page(uint64_t la) {
    const uint64_t page = la & ~0xfffULL;
    JumpEntry* bucket = &m_jump[jump_index(page) & ~((size_t{1} << kJumpBucketBits) - 1)];
    for (size_t i = 0; i < (size_t{1} << kJumpBucketBits); ++i)
        if (((bucket[i].lip ^ la) & ~0xfffULL) == 0) bucket[i] = JumpEntry{};
    // And the blocks of the page before that cross into this one.
    const uint64_t before = page - 0x1000;
    JumpEntry* prev = &m_jump[jump_index(before) & ~((size_t{1} << kJumpBucketBits) - 1)];
    for (size_t i = 0; i < (size_t{1} << kJumpBucketBits); ++i)
        if ((prev[i].lip & ~0xfffULL) == before && prev[i].block && prev[i].block->spans()) prev[i] = JumpEntry{};
}

void BlockCache::make_room() {
    const bt::Translator* t = m_cpu.translator();
    if (t) {
        // No translated code refers to a block without a current translation (translated code
        // passes its own Insns to handlers), and the jump cache is the one other holder of
        // Block pointers: emptied first.
        flush_jump_cache();
        std::erase_if(m_blocks, [t](const auto& kv) { return !t->current(*kv.second); });
        ++m_misses.evictions;
        if (m_blocks.size() <= kMaxBlocks / 4 * 3) return;
    }
    ++m_misses.clears;
    clear();
}

void BlockCache::clear() {
    flush_jump_cache();
    if (m_cpu.translator()) m_cpu.translator()->flush();   // chains point at the Blocks going away
    m_blocks.clear();
}

}  // namespace popek::emu
