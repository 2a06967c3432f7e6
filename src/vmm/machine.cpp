#include "vmm/machine.h"

namespace popek::vmm {

Result<RunOutcome> run_vm(const VmOptions&) { return fail("run_vm: not implemented yet"); }

}  // namespace popek::vmm
