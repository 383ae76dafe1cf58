// Structured trace events and the running trace hash.
//
// Every scheduling decision, timer, delivery, fault and crash is one TraceEvent.
// Each event feeds a running 64-bit hash; two runs with the same seed must end
// with the same hash (that is the determinism check), and `streamsim run` prints
// it as "trace-hash: <16 hex digits>". Events can also be streamed to a sink
// (JSON lines, see reports/trace_writer.h and docs/trace.md).
//
// Hashing is cheap on purpose (a few multiplies per event): it is always on.
#pragma once

#include <streamsim/core/time.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace streamsim {

// Field meanings per kind are documented in docs/trace.md; a, b, c are integers so
// that hashing never formats text on the hot path.
enum class TraceKind : uint16_t {
  run_start = 1,  // a=seed
  schedule,       // a=task id chosen, b=number of ready tasks it was chosen from
  spawn,          // a=task id, detail=task name
  task_end,       // a=task id, b=status (TaskStatus)
  wake,           // a=task id woken by a timer (sleep or wait deadline)
  send,           // a=message id, b=to node, c=deliver at (ns)
  deliver,        // a=message id, b=from node
  drop,           // a=message id, b=reason (sim::DropReason)
  reset,          // a=peer node, b=connection incarnation
  fault,          // detail=fault description
  heal,           // detail=what healed
  crash,          // a=bytes lost, b=files torn
  restart,        // a=incarnation
  disk,           // a=op (sim::DiskOp), b=bytes, detail=path
  custom,         // component event: detail=text, a and b free
  run_end,        // a=steps
};
const char* to_string(TraceKind k);

struct TraceEvent {
  Instant time;
  uint32_t node = 0;  // index into the tracer's node names (0 = the simulation itself)
  TraceKind kind = TraceKind::custom;
  uint64_t a = 0, b = 0, c = 0;
  std::string_view detail;
};

class TraceSink {
 public:
  virtual ~TraceSink() = default;
  virtual void on_event(const TraceEvent& ev, std::string_view node_name) = 0;
};

class Tracer {
 public:
  Tracer();
  void set_sink(TraceSink* sink) { sink_ = sink; }
  uint32_t add_node(std::string name);
  const std::string& node_name(uint32_t node) const { return nodes_[node]; }

  void record(Instant t, uint32_t node, TraceKind kind, uint64_t a = 0, uint64_t b = 0, uint64_t c = 0,
              std::string_view detail = {}) {
    uint64_t h = hash_;
    h = mix(h ^ (static_cast<uint64_t>(kind) << 48 ^ node));
    h = mix(h ^ static_cast<uint64_t>(t.ns()));
    h = mix(h ^ a);
    h = mix(h ^ b);
    h = mix(h ^ c);
    if (!detail.empty()) h = mix(h ^ hash_text(detail));
    hash_ = h;
    ++count_;
    if (sink_) sink_->on_event(TraceEvent{t, node, kind, a, b, c, detail}, nodes_[node]);
  }
  uint64_t hash() const { return hash_; }
  uint64_t count() const { return count_; }
  // "0123456789abcdef"
  static std::string hex(uint64_t h);

 private:
  static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  static uint64_t hash_text(std::string_view s);

  uint64_t hash_;
  uint64_t count_ = 0;
  TraceSink* sink_ = nullptr;
  std::vector<std::string> nodes_;
};

}  // namespace streamsim
