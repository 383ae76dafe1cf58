#include <streamsim/core/trace.h>

#include <cstdio>

namespace streamsim {

const char* to_string(TraceKind k) {
  switch (k) {
    case TraceKind::run_start: return "run_start";
    case TraceKind::schedule: return "schedule";
    case TraceKind::spawn: return "spawn";
    case TraceKind::task_end: return "task_end";
    case TraceKind::wake: return "wake";
    case TraceKind::send: return "send";
    case TraceKind::deliver: return "deliver";
    case TraceKind::drop: return "drop";
    case TraceKind::reset: return "reset";
    case TraceKind::fault: return "fault";
    case TraceKind::heal: return "heal";
    case TraceKind::crash: return "crash";
    case TraceKind::restart: return "restart";
    case TraceKind::disk: return "disk";
    case TraceKind::custom: return "custom";
    case TraceKind::run_end: return "run_end";
  }
  return "unknown";
}

// The initial value is an arbitrary odd constant so that an empty trace does not
// hash to zero (a zero hash usually means "nothing was hashed" in a bug report).
Tracer::Tracer() : hash_(0x6a09e667f3bcc909ULL) { nodes_.push_back("sim"); }

uint32_t Tracer::add_node(std::string name) {
  nodes_.push_back(std::move(name));
  return static_cast<uint32_t>(nodes_.size() - 1);
}

uint64_t Tracer::hash_text(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::string Tracer::hex(uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace streamsim
