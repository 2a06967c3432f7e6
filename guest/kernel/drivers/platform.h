#pragma once
/// Ways to stop the machine. Phase 1: the PC reset port and popek's/QEMU's isa-debug-exit;
/// phase 2: SCHEDOP_shutdown (poweroff / crash).
namespace pos::platform {

enum class Stop { Poweroff, Panic };
[[noreturn]] void stop(Stop how);

}  // namespace pos::platform
