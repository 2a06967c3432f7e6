#pragma once
/// popek's exit statuses. Guest-chosen statuses from debug-exit are always odd (value*2+1), so
/// popek's own failures use even numbers and never collide with them.
namespace popek::vmm {

inline constexpr int kExitOk = 0;          ///< guest powered off or reset
inline constexpr int kExitUserError = 2;   ///< bad command line, unreadable or malformed file, ...
inline constexpr int kExitVmError = 4;     ///< the VM could not continue (engine or vCPU failure)

}  // namespace popek::vmm
