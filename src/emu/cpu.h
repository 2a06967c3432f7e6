#pragma once
/// The own engine's x86-64 CPU: architectural state (extending hv::CpuState with MSRs, debug
/// registers and the x87/SSE register file) plus the per-vCPU machinery shared by the interpreter
/// and a later block translator: the software TLB, the memory access paths and event delivery.
///
/// Guest exceptions unwind the current instruction with longjmp back to the dispatch loop
/// (Cpu::execute): handler frames must not hold objects with non-trivial destructors while they
/// touch guest memory or raise. Instructions therefore do every check and read first and commit
/// registers last, so a faulting instruction leaves no trace (SDM Vol. 3A 6.5 "fault").
#include <bitset>
#include <csetjmp>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_set>

#include "emu/cpu_hooks.h"
#include "emu/engine_shared.h"
#include "emu/exit_port.h"
#include "hv/cpu_state.h"
#include "hv/vcpu_exit.h"
#include "hv/vcpu_stats.h"

namespace popek::emu {

class BlockCache;
struct Insn;
namespace bt { class Translator; }

/// Segment register numbers in encoding order (SDM Vol. 2A 3.1.1.3 "Sreg").
enum SegReg : uint8_t { kEs = 0, kCs = 1, kSs = 2, kDs = 3, kFs = 4, kGs = 5, kNoSeg = 7 };

// RFLAGS (SDM Vol. 1 3.4.3).
inline constexpr uint64_t kCf = 1u << 0, kPf = 1u << 2, kAf = 1u << 4, kZf = 1u << 6, kSf = 1u << 7,
                          kTf = 1u << 8, kIf = 1u << 9, kDf = 1u << 10, kOf = 1u << 11,
                          kIopl = 3u << 12, kNt = 1u << 14, kRf = 1u << 16, kVm = 1u << 17,
                          kAc = 1u << 18, kVif = 1u << 19, kVip = 1u << 20, kId = 1u << 21;
inline constexpr uint64_t kArithFlags = kCf | kPf | kAf | kZf | kSf | kOf;
/// CR4.UMIP (SDM Vol. 3A 2.5): SGDT SIDT SLDT SMSW STR are #GP at CPL > 0.
inline constexpr uint64_t kCr4Umip = 1u << 11;

// DR6 / DR7 bits (SDM Vol. 3B 18.2.3, 18.2.4).
inline constexpr uint64_t kDr6Bd = 1u << 13, kDr6Bs = 1u << 14, kDr7Gd = 1u << 13;

// Exception vectors (SDM Vol. 3A 6.3.1).
enum Vector : uint8_t {
    kDe = 0, kDb = 1, kNmi = 2, kBp = 3, kOfv = 4, kBr = 5, kUd = 6, kNm = 7, kDfv = 8,
    kTs = 10, kNp = 11, kSsf = 12, kGp = 13, kPfv = 14, kMf = 16, kAcv = 17, kMc = 18, kXm = 19,
};

// MSR numbers (SDM Vol. 4 table 2-2); IA32_APIC_BASE is in irqchip/cpu_interrupts.h.
inline constexpr uint32_t kMsrTsc = 0x10, kMsrTscAdjust = 0x3b, kMsrMtrrCap = 0xfe,
                          kMsrSysenterCs = 0x174, kMsrSysenterEsp = 0x175, kMsrSysenterEip = 0x176,
                          kMsrMiscEnable = 0x1a0, kMsrPat = 0x277, kMsrMtrrDefType = 0x2ff,
                          kMsrEfer = 0xc0000080, kMsrStar = 0xc0000081, kMsrLstar = 0xc0000082,
                          kMsrCstar = 0xc0000083, kMsrSfmask = 0xc0000084, kMsrFsBase = 0xc0000100,
                          kMsrGsBase = 0xc0000101, kMsrKernelGsBase = 0xc0000102, kMsrTscAux = 0xc0000103,
                          kMsrPlatformInfo = 0xce, kMsrMiscFeaturesEnables = 0x140;
/// MSR_MISC_FEATURES_ENABLES bit 0: CPUID at CPL > 0 is #GP (Intel's CPUID faulting, SDM Vol. 4
/// table 2-12 and the "Virtualization Technology FlexMigration" application note).
inline constexpr uint64_t kMiscCpuidFaulting = 1;

/// FXSAVE memory layout (SDM Vol. 1 10.5.1, table 10-2); also the engine's x87/SSE register file.
struct alignas(16) FxsaveArea {
    uint16_t fcw = 0x37f, fsw = 0;
    uint8_t ftw = 0, reserved0 = 0;
    uint16_t fop = 0;
    uint64_t fip = 0, fdp = 0;
    uint32_t mxcsr = 0x1f80, mxcsr_mask = 0xffbf;
    uint8_t st[8][16]{};
    uint8_t xmm[16][16]{};
    uint8_t reserved1[96]{};
};
static_assert(sizeof(FxsaveArea) == 512);

/// Software TLB entry: a tag per access kind (the linear page, or kTlbInvalid) and the offset that
/// turns a linear address into a host pointer. gpa_page's low 12 bits hold what invalidation
/// needs: kTlbGlobalBit, and the log2 size of the page the translation came from.
struct TlbEntry {
    uint64_t read_tag, write_tag, exec_tag;
    uintptr_t addend;
    uint64_t gpa_page;
};
inline constexpr uint64_t kTlbInvalid = 1;
inline constexpr uint64_t kTlbGlobalBit = 1;
inline constexpr unsigned kTlbShiftPos = 4;   ///< gpa_page bits 9:4: page size shift (12, 21, 22, 30)
inline constexpr unsigned kTlbSize = 256;   ///< sets per privilege class
/// A set of the 2-way software TLB: way 0 holds the page filled last, way 1 the one it displaced, so
/// two streams whose pages share an index (arrays a multiple of 1 MiB apart) both stay cached. A
/// page is in at most one way of its set.
struct TlbSet {
    TlbEntry way[2];
};
static_assert(sizeof(TlbEntry) == 40 && sizeof(TlbSet) == 80,
              "emu/bt/memory_ops.cpp scales the set index by 80 and finds way 1 at +40");

enum class Access : uint8_t { Read, Write, Exec };

/// A pending exception or interrupt (SDM Vol. 3A 6.4, 6.5).
struct Event {
    uint8_t vector = 0;
    bool has_error = false;
    uint32_t error = 0;
    bool software = false;   ///< INT n / INT3 / INTO: privilege check against the gate DPL
    bool external = false;   ///< hardware interrupt (EXT bit in error codes)
    uint64_t return_rip = 0; ///< RIP saved on the stack
};

/// Reasons for unwinding an instruction with longjmp.
enum Unwind : int { kUnwindNone = 0, kUnwindEvent = 1, kUnwindExit = 2 };

class Cpu {
public:
    Cpu(EngineShared& shared, int index, CpuInterrupts* interrupts);
    ~Cpu();
    Cpu(const Cpu&) = delete;
    Cpu& operator=(const Cpu&) = delete;

    // ---- architectural state ----
    uint64_t gpr[16]{};
    uint64_t rip = 0xfff0;
    uint64_t rflags = 2;
    hv::Segment seg[6];
    hv::Segment tr, ldtr;
    hv::DescriptorTable gdt, idt;
    uint64_t cr0 = 0x60000010, cr2 = 0, cr3 = 0, cr4 = 0, efer = 0;
    uint64_t dr[8] = {0, 0, 0, 0, 0xffff0ff0, 0x400, 0xffff0ff0, 0x400};
    uint64_t star = 0, lstar = 0, cstar = 0, sfmask = 0, kernel_gs_base = 0, tsc_aux = 0;
    uint64_t sysenter_cs = 0, sysenter_esp = 0, sysenter_eip = 0;
    uint64_t pat = 0x0007040600070406ULL, misc_enable = 1, mtrr_def_type = 0;
    uint64_t apic_base = 0xfee00900;
    /// The xAPIC register page overlays `gpa`'s page: IA32_APIC_BASE enable (11) without EXTD
    /// (10; x2APIC mode has no page, SDM Vol. 3A 10.12.1.2), at its base (10.4.1).
    bool apic_page(uint64_t gpa) const {
        return (apic_base & 0xc00) == 0x800 && (gpa & ~0xfffULL) == (apic_base & 0x000ffffffffff000ULL);
    }
    uint64_t spec_ctrl = 0;   ///< IA32_SPEC_CTRL (stored; nothing to control on an emulated CPU)
    uint64_t misc_features_enables = 0;   ///< MSR_MISC_FEATURES_ENABLES (CPUID faulting)
    int64_t tsc_offset = 0;
    FxsaveArea fpu;

    // ---- derived mode (update_mode() after CR0/EFER/CS/RFLAGS.VM changes) ----
    uint8_t cpl = 0;
    uint8_t code_bits = 16;   ///< 16, 32 or 64: default operand/address size of the code
    bool long_mode = false;   ///< EFER.LMA
    bool mode64 = false;      ///< 64-bit submode of long mode
    bool interrupt_shadow = false;  ///< STI / MOV SS blocking for one instruction
    bool halted = false;            ///< HLT executed, waiting for an interrupt
    /// An NMI was delivered and no IRET has run since: further NMIs stay pending (SDM Vol. 3A
    /// 6.7.1 "Handling Multiple NMIs").
    bool nmi_blocked = false;

    // ---- per-instruction scratch used by handlers ----
    uint64_t next_rip = 0;
    bool brk = false;   ///< end the current block after this instruction

    int index() const { return m_index; }
    EngineShared& shared() { return m_shared; }
    CpuInterrupts* interrupts() { return m_ints; }

    void load_state(const hv::CpuState& st);
    hv::CpuState save_state() const;
    /// INIT (SDM Vol. 3A 9.1.1, table 9-1): real mode at f000:fff0, or at sipi<<12 after SIPI.
    void reset_to_init();
    void start_at_sipi(uint8_t vector);
    void update_mode();

    // ---- register access ----
    template <class T> T reg(int r) const;
    template <class T> void set_reg(int r, T v);
    uint64_t stack_mask() const { return mode64 ? ~0ULL : seg[kSs].db ? 0xffffffffULL : 0xffffULL; }
    /// True outside 64-bit mode when DS, ES and SS are flat (base 0, limit 4 GiB, usable,
    /// writable expand-up data: linear() checks nothing else) and the stack is 32 bits wide:
    /// then the offset of a DS/ES/SS access is its linear address (SDM Vol. 3A 3.4.5, 5.3).
    bool flat_data32() const {
        for (int s : {kEs, kSs, kDs}) {
            const hv::Segment& sg = seg[s];
            if (sg.base != 0 || sg.limit != 0xffffffffu) return false;
            if ((cr0 & hv::kCr0Pe) && (sg.unusable || !sg.present || (sg.type & 0xe) != 0x2)) return false;
        }
        return seg[kSs].db;
    }

    // ---- memory: segmentation + paging + physical dispatch ----
    /// Linear address of seg:off for an access of `size` bytes, with the segment checks of the mode
    /// (SDM Vol. 3A 5.3 limit checks, 3.4.5 types; 64-bit: canonical check). Raises #GP/#SS.
    uint64_t linear(int s, uint64_t off, unsigned size, Access acc);
    template <class T> T read_la(uint64_t la);
    template <class T> void write_la(uint64_t la, T v);
    template <class T> T read(int s, uint64_t off) { return read_la<T>(linear(s, off, sizeof(T), Access::Read)); }
    template <class T> void write(int s, uint64_t off, T v) { write_la<T>(linear(s, off, sizeof(T), Access::Write), v); }
    /// Host pointer for an atomic read-modify-write of sizeof(T) bytes at seg:off (write permission
    /// checked, dirty bit set), or nullptr when the operand is MMIO or crosses a page. A page that
    /// holds decoded code is RAM too: its blocks are invalidated and the pointer returned, so LOCK
    /// stays a host atomic there (a plain read and write lost other vCPUs' updates).
    template <class T> T* rmw_ptr(int s, uint64_t off);
    /// The host address of [la, la + len) when it lies in one page that the software TLB maps
    /// for `acc` (Read or Write), else nullptr. What a TLB hit of read_la/write_la guarantees
    /// holds for the whole range: RAM, not watched, for a write not code. Bulk string
    /// instructions (emu/interp/string.cpp) copy through it.
    uint8_t* tlb_span(uint64_t la, uint64_t len, Access acc) {
        if (len == 0 || (la & 0xfff) + len > 4096) return nullptr;
        const TlbEntry& e = tlb_slot(la);
        const uint64_t tag = acc == Access::Write ? e.write_tag : e.read_tag;
        return tag == (la & ~0xfffULL) ? reinterpret_cast<uint8_t*>(e.addend + la) : nullptr;
    }
    /// Reads/writes with supervisor privilege regardless of CPL (descriptor tables, TSS, SDM 5.5).
    void read_sys(uint64_t la, void* out, unsigned size);
    void write_sys(uint64_t la, const void* in, unsigned size);
    void read_bytes_la(uint64_t la, void* out, unsigned size, Access acc, bool supervisor);
    void write_bytes_la(uint64_t la, const void* in, unsigned size, bool supervisor);
    /// Translates a linear address (walking the page tables on a TLB miss). Raises #PF.
    uint64_t translate(uint64_t la, Access acc, bool supervisor);
    /// The same walk without side effects (no #PF, no CR2, no A/D bits, no TLB fill), for the VMM
    /// (hv::Vcpu::translate_gva). nullopt when the access would fault; *pf_error gets the #PF code.
    std::optional<uint64_t> probe_translate(uint64_t la, Access acc, bool supervisor, uint32_t* pf_error) const;
    void flush_tlb();
    /// MOV to CR3: drops every non-global translation.
    void flush_tlb_non_global();
    /// INVLPG: drops the translations of the page holding `la`.
    void flush_tlb_page(uint64_t la);
    /// True when the cached instruction-fetch translation of `la` is global (after translate()).
    bool tlb_global(uint64_t la, bool user) const;
    /// Drops every fast write mapping (a page became code somewhere: writes must be seen).
    void drop_write_mappings();

    // ---- stack ----
    void push(uint64_t v, unsigned size);
    uint64_t pop(unsigned size);
    uint64_t peek(unsigned size, uint64_t offset = 0);

    // ---- physical ----
    void phys_read(uint64_t gpa, void* out, unsigned size);
    void phys_write(uint64_t gpa, const void* in, unsigned size);

    // ---- events ----
    [[noreturn]] void raise(uint8_t vector);
    [[noreturn]] void raise(uint8_t vector, uint32_t error);
    /// INT n / INT3 / INTO: a trap whose saved RIP is the next instruction.
    [[noreturn]] void raise_software(uint8_t vector);
    /// A trap without the gate DPL check (INT1/ICEBP: #DB, SDM Vol. 3A 17.3.1.2).
    [[noreturn]] void raise_trap(uint8_t vector);
    /// Delivers m_event through the IVT/IDT (SDM Vol. 3A 6.12, 6.14).
    void deliver_event();
    /// Leaves the current instruction to hand `exit` to the VMM; the instruction is re-executed
    /// on the next run() with the VMM's data (reads) or was already completed (writes).
    [[noreturn]] void unwind_exit();

    // ---- segments (segments.cpp) ----
    /// Reads the 8-byte descriptor for `selector` from the GDT/LDT; raises `vec`(sel) if outside.
    uint64_t read_descriptor(uint16_t selector, uint8_t vec);
    hv::Segment descriptor_to_segment(uint16_t selector, uint64_t d, uint64_t d_high = 0) const;
    /// MOV/POP to a data segment register or SS with every protected-mode check (SDM Vol. 2 MOV).
    void load_data_segment(int s, uint16_t selector);
    void load_real_segment(int s, uint16_t selector);
    void set_accessed(uint16_t selector, uint64_t d);
    bool is_system_access_allowed() const { return cpl == 0; }
    void require_cpl0() { if (cpl != 0) raise(kGp, 0); }

    // ---- control / MSR (system.cpp) ----
    void write_cr0(uint64_t v);
    void write_cr3(uint64_t v);
    void write_cr4(uint64_t v);
    void write_efer(uint64_t v);
    uint64_t read_msr(uint32_t msr);      ///< raises #GP for unknown MSRs
    void write_msr(uint32_t msr, uint64_t v);
    uint64_t tsc();

    // ---- debug registers and host debugging (debug_regs.cpp; SDM Vol. 3B 18.2, 18.3) ----
    /// DR7/DR0-DR3 or the host debugger changed: recomputes which checks are armed.
    void update_debug();
    /// B0-B3 of the enabled instruction breakpoints at linear address `lip` (SDM 18.3.1.1).
    uint32_t instruction_breakpoints(uint64_t lip) const;
    /// A data access of `size` bytes at `la`: records the watchpoints it hits (only when armed).
    void check_watch(uint64_t la, unsigned size, Access acc) {
        if (m_watch_armed) [[unlikely]] watch_hit(la, size, acc);
    }
    /// Linear address of the next instruction (CS base outside 64-bit mode).
    uint64_t linear_rip() const { return mode64 ? rip : ((seg[kCs].base + rip) & 0xffffffffULL); }
    /// True when the vCPU must run one instruction at a time through the interpreter: TF, a DR7
    /// breakpoint, a held MOV SS #DB or the host debugger (the one switch, see executor.cpp).
    bool debug_per_instruction() const { return (rflags & kTf) || m_debug_armed || m_db_held; }

    // ---- execution (executor.cpp) ----
    /// Runs until the VMM is needed. Returns the exit; the I/O span points into this Cpu.
    hv::VcpuExit execute();
    /// Completes an I/O exit: the data the VMM filled into a read is replayed to the instruction.
    void complete_io();
    void request_stop();
    void kick();
    /// hv::Vcpu::start_from: from any thread; taken between blocks (service) if still waiting
    /// for INIT/SIPI, else dropped.
    void request_start(const hv::CpuState& state);
    hv::VcpuStats stats() const { return m_stats; }
    hv::VcpuStats& mutable_stats() { return m_stats; }
    /// Selects the block translator (`--accel bt`) for this vCPU instead of interpreting.
    void enable_translation();
    bt::Translator* translator() { return m_bt.get(); }
    void set_runnable(bool r) { m_runnable = r; }
    bool runnable() const { return m_runnable; }

    // ---- I/O from handlers (io path) ----
    /// Port input of `size` bytes: platform first, else an exit (replayed on the next run()).
    uint32_t port_in(uint16_t port, unsigned size);
    /// Port output: platform first, else a pending exit returned after this instruction.
    void port_out(uint16_t port, unsigned size, uint32_t value);
    /// An exit waits for the end of this instruction, or this instruction's device accesses are
    /// being replayed: a REP string instruction ends its iterations here and restarts.
    bool exit_pending() const { return m_exits.posted() || m_exits.replaying() || m_db_hits || m_host_watch_hit; }
    /// The exit port: the exit run() returns next, the hypercall in flight and the I/O log of the
    /// current instruction (emu/exit_port.h). To end an instruction with an exit now, set() it
    /// and unwind_exit().
    ExitPort& exits() { return m_exits; }
    const ExitPort& exits() const { return m_exits; }

    // ---- personality hooks (emu/cpu_hooks.h; the Xen layer is hv/xen/xen_cpu_hooks.cpp) ----
    /// The hooks asked first for CPUID, RDMSR/WRMSR, OUT and VMCALL; null for a plain PC.
    CpuHooks* hooks() const { return m_shared.hooks; }
    /// Ends the current instruction with `call` as the exit after it (the block ends there); the
    /// result the VMM stores through call.result goes into RAX by complete_io(). For hooks.
    void exit_hypercall(hv::Hypercall call);
    /// A write of `size` bytes at `gpa` by other means than a guest store (e.g. a page the VMM
    /// fills for the guest): decoded code there is dropped.
    void check_code_write(uint64_t gpa, unsigned size);
    /// VMCALL / VMMCALL that no hook took: KVM's hypercall ABI (kvm_hypercall.cpp).
    void kvm_vmcall();
    void log_unimplemented(const uint8_t* bytes, unsigned len);
    void invalidate_code_all();
    /// Between blocks: stop requests, timers, INIT/SIPI, NMI, interrupts, HLT. True: return exits().exit().
    bool service();

    /// Attention flag: checked at block boundaries (stop requests, kicks, mode changes).
    std::atomic<bool> attention{false};
    int32_t budget = 0;   ///< instructions until the next interrupt/timer poll

    Event m_event;

private:
    friend class bt::Translator;
    TlbSet& tlb_set(uint64_t la, bool user) { return m_tlb[user ? 1 : 0][(la >> 12) & (kTlbSize - 1)]; }
    const TlbSet& tlb_set(uint64_t la, bool user) const { return m_tlb[user ? 1 : 0][(la >> 12) & (kTlbSize - 1)]; }
    /// Way 0 of the current privilege class's set for `la`: the inline fast paths look there only
    /// (a way-1 hit is promoted to way 0 by translate()).
    TlbEntry& tlb_slot(uint64_t la) { return tlb_set(la, m_tlb_user != 0).way[0]; }
    /// The entry of either way caching `la`'s page (any tag), or nullptr.
    const TlbEntry* tlb_find(uint64_t la, bool user) const;
    template <class T> T read_slow(uint64_t la);
    /// rmw_ptr below the write TLB: the RAM at `la` (code checked as for a write), or nullptr.
    uint8_t* rmw_ptr_slow(uint64_t la, unsigned size);
    /// Host pointer of `size` bytes at `gpa` when they are plain RAM (not MMIO, not the APIC page).
    uint8_t* ram_ptr(uint64_t gpa, unsigned size) const;
    template <class T> void write_slow(uint64_t la, T v);
    void fill_tlb(uint64_t la, uint64_t gpa, bool user_tlb, bool readable, bool writable, bool executable,
                  bool global, unsigned page_shift);
    void mmio_access(uint64_t gpa, void* data, unsigned size, bool write);
    [[noreturn]] void page_fault(uint64_t la, uint32_t err);
    /// A device access the exit port's log does not hold yet (mmu/io_log.cpp): a write is queued
    /// (handed out after the instruction), a read unwinds the instruction to hand the queued
    /// writes and then the read out.
    void io_new(IoAccess::Kind kind, uint64_t addr, const void* data, unsigned size);

    EngineShared& m_shared;
    int m_index;
    ExitPort m_exits;
    CpuInterrupts* m_ints;
    TlbSet m_tlb[2][kTlbSize];
    int m_tlb_user = 0;
    bool m_tlb_has_large = false;   ///< an entry from a 2 MiB+ page was filled since the last full flush
    /// m_tlb[m_tlb_user], for translated code's inline TLB probe (emu/bt/memory_ops.cpp).
    TlbSet* m_tlb_active = m_tlb[0];
    uint64_t m_code_epoch_seen = 0;
    /// Moves whenever a linear-to-physical translation this vCPU caches may change: the low half
    /// on every TLB flush, MOV to CR3 and INVLPG that may matter, the high half on those that
    /// also drop global translations (all but MOV to CR3, SDM Vol. 3A 4.10.4.1). Chain slots
    /// linked across pages (emu/bt/block_chain.cpp) compare it: all of it, or only the high half
    /// when their target was reached through a global page.
    uint64_t m_map_gen = 0;
    static constexpr uint64_t kMapGenGlobal = uint64_t{1} << 32;
    /// Linear pages that cross-page chain slots were linked to under m_map_gen (hashed 4 KiB and
    /// 2 MiB page numbers, by the size of the page that mapped them; `m_linked_huge`: a 1 GiB
    /// page, or a size not known): an INVLPG that cannot touch any of them (SDM Vol. 3A 4.10.4.1:
    /// the whole page holding its address) leaves m_map_gen alone.
    std::bitset<4096> m_linked_4k, m_linked_2m;
    bool m_linked_huge = false;
    void new_map_gen() {
        m_map_gen += kMapGenGlobal + 1;
        m_linked_4k.reset();
        m_linked_2m.reset();
        m_linked_huge = false;
    }
    /// A cross-page slot is being linked to linear address `la` (the code just ran from there).
    /// True when `la` was reached through a global page (a link MOV to CR3 leaves alone).
    bool note_linked(uint64_t la);
    bool may_be_linked(uint64_t la) const {
        return m_linked_huge || m_linked_4k.test((la >> 12) & 4095) || m_linked_2m.test((la >> 21) & 4095);
    }
    /// One data watchpoint (guest DRn or host), as a linear range.
    struct Watch {
        uint64_t lo, hi;    ///< [lo, hi]
        bool writes_only;   ///< R/W = 01 (else 11: reads and writes; host Z3 = reads only)
        bool reads_only;
        int8_t guest_bit;   ///< DR6 bit for DR0-DR3, -1 for a host watchpoint
        uint8_t host_kind;  ///< gdb Z type of a host watchpoint
    };
    static constexpr unsigned kMaxWatches = 4 + 16;
    Watch m_watches[kMaxWatches]{};
    unsigned m_watch_count = 0;
    bool m_watch_armed = false;
    void watch_hit(uint64_t la, unsigned size, Access acc);
    bool watched_page(uint64_t la) const;

public:
    // Executor state (public for the executor and handlers in other files).
    std::jmp_buf m_jmp;
    int m_delivering = -1;    ///< vector being delivered (double-fault detection), -1 none
    /// DR6 bits (BS, B0-B3) of a trap-class #DB that follows the instruction just completed
    /// (delivered after its exits to the VMM); 0: none.
    uint32_t m_db_pending = 0;
    /// The instruction just run traps on TF as it left it, not as it found it: SYSCALL and SYSRET
    /// on an Intel CPU (SYSCALL clearing TF through IA32_FMASK does not trap, SYSRET loading TF
    /// from R11 traps at once, in the user context; kvm-unit-tests syscall "TF handling").
    bool m_step_at_end = false;
    std::atomic<bool> m_stop{false};
    std::atomic<bool> m_start_pending{false};
    std::mutex m_start_lock;
    hv::CpuState m_start_state;   ///< request_start's, under m_start_lock
    bool m_runnable = true;
    bool m_waiting_sipi = false;
    hv::VcpuStats m_stats;
    BlockCache* m_cache = nullptr;
    std::unique_ptr<bt::Translator> m_bt;   ///< null: interpret every block
    uint64_t m_dma_epoch_seen = 0;
    uint64_t m_interpreted = 0;   ///< --accel bt: instructions run by the interpreter instead
    bool m_flush_jump_cache = false;
    std::unordered_set<uint64_t> m_logged_ud;
    // Debug state (debug_regs.cpp).
    bool m_debug_armed = false;   ///< a DR7 breakpoint or host debugging is armed
    uint32_t m_db_hits = 0;       ///< B0-B3 of guest watchpoints hit by the current instruction
    uint32_t m_db_held = 0;       ///< #DB conditions of a MOV SS / POP SS held for one instruction
    bool m_movss_shadow = false;  ///< the instruction just run loaded SS (MOV SS / POP SS)
    /// The previous instruction loaded SS: an Intel CPU reports no instruction breakpoint on this
    /// one (SDM Vol. 3A 6.8.3; kvm-unit-tests emulator "#DB suppressed after MOV SS").
    bool m_after_movss = false;
    bool m_host_watch_hit = false;   ///< a host (gdb) watchpoint was hit by the current instruction
    uint64_t m_host_watch_addr = 0;
    uint8_t m_host_watch_kind = 0;   ///< 2 write, 3 read, 4 access (gdb Z type)
    bool m_host_step = false;        ///< the host debugger single-steps this vCPU
    bool m_host_skip_bp = false;     ///< resume over a host breakpoint at the current RIP
    /// Before an instruction in per-instruction mode: instruction breakpoints (guest: #DB fault;
    /// host: stop). Returns 0 to run it, 1 to restart the dispatch loop, 2 to return exits().exit().
    int debug_before_instruction();
    /// After an instruction (or event delivery): the #DB traps and host stops it produced.
    /// False: return exits().exit().
    bool debug_after_instruction(bool stepped);
    /// Delivers m_db_pending and reports a pending host stop. False: return exits().exit().
    bool finish_debug_traps();
    int m_host_stop = 0;   ///< pending host stop reason (DebugHook::Reason), 0: none
    uint64_t m_host_skip_lip = 0;   ///< the linear RIP a resumed vCPU stopped at (see m_host_skip_bp)
    /// Hands m_host_stop to the debugger and waits for the resume. False: return exits().exit().
    bool report_host_stop();
};

// ---- inline fast paths ----

template <class T>
inline T Cpu::reg(int r) const {
    if constexpr (sizeof(T) == 1) {
        if (r >= 16) return static_cast<T>(gpr[r - 16] >> 8);   // AH, CH, DH, BH
    }
    return static_cast<T>(gpr[r]);
}

template <class T>
inline void Cpu::set_reg(int r, T v) {
    if constexpr (sizeof(T) == 1) {
        if (r >= 16) {
            gpr[r - 16] = (gpr[r - 16] & ~0xff00ULL) | (uint64_t{v} << 8);
            return;
        }
        gpr[r] = (gpr[r] & ~0xffULL) | v;
    } else if constexpr (sizeof(T) == 2) {
        gpr[r] = (gpr[r] & ~0xffffULL) | v;
    } else {
        gpr[r] = v;   // 32-bit writes zero-extend (SDM Vol. 1 3.4.1.1)
    }
}

template <class T>
inline T Cpu::read_la(uint64_t la) {
    TlbEntry& e = tlb_slot(la);
    if (e.read_tag == (la & ~0xfffULL) && (la & 0xfff) <= 4096 - sizeof(T)) [[likely]] {
        T v;
        std::memcpy(&v, reinterpret_cast<const void*>(e.addend + la), sizeof(T));
        return v;
    }
    return read_slow<T>(la);
}

template <class T>
inline void Cpu::write_la(uint64_t la, T v) {
    TlbEntry& e = tlb_slot(la);
    if (e.write_tag == (la & ~0xfffULL) && (la & 0xfff) <= 4096 - sizeof(T)) [[likely]] {
        std::memcpy(reinterpret_cast<void*>(e.addend + la), &v, sizeof(T));
        return;
    }
    write_slow<T>(la, v);
}

template <class T>
T Cpu::read_slow(uint64_t la) {
    T v;
    read_bytes_la(la, &v, sizeof(T), Access::Read, false);
    return v;
}

template <class T>
void Cpu::write_slow(uint64_t la, T v) {
    write_bytes_la(la, &v, sizeof(T), false);
}

template <class T>
T* Cpu::rmw_ptr(int s, uint64_t off) {
    uint64_t la = linear(s, off, sizeof(T), Access::Write);
    if ((la & 0xfff) > 4096 - sizeof(T)) return nullptr;
    TlbEntry& e = tlb_slot(la);
    if (e.write_tag == (la & ~0xfffULL)) [[likely]] return reinterpret_cast<T*>(e.addend + la);
    return reinterpret_cast<T*>(rmw_ptr_slow(la, sizeof(T)));
}

}  // namespace popek::emu
