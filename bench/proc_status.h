// Memory readings for the benchmarks (bench/ may read /proc; see DEVELOPERS.md).
#pragma once

#include <cstdint>

namespace streamsim::bench {

// A "VmRSS:" / "VmHWM:" style line of /proc/self/status, in bytes (0 if absent).
uint64_t proc_status_bytes(const char* key);

}  // namespace streamsim::bench
