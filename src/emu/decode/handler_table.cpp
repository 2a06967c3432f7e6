#include "emu/interp/families.h"

namespace popek::emu {

const HandlerTable& handler_table() {
    static const HandlerTable table = [] {
        HandlerTable t;
        register_alu(t);
        register_shift(t);
        register_muldiv(t);
        register_bits(t);
        register_random(t);
        register_data(t);
        register_stack(t);
        register_control(t);
        register_string(t);
        register_io(t);
        register_system(t);
        register_segment(t);
        register_fastsys(t);
        register_access_rights(t);
        register_legacy(t);
        register_sse_move(t);
        register_sse_int(t);
        register_sse_fp(t);
        register_sse_convert(t);
        register_sse_crypto(t);
        register_fxsave(t);
        register_x87_control(t);
        register_x87_exec(t);
        register_mmx(t);
        return t;
    }();
    return table;
}

}  // namespace popek::emu
