// Trace files: one JSON object per line, one line per trace event.
//   {"t_ns":1500000,"node":"r0","kind":"send","msg":12,"to":3,"deliver_ns":1900000}
// Field names per kind are listed in docs/trace.md. The writer only formats; the
// caller owns the stream (the CLI opens the file).
#pragma once

#include <streamsim/core/trace.h>

#include <ostream>
#include <string>

namespace streamsim::reports {

class JsonLinesTraceWriter final : public TraceSink {
 public:
  explicit JsonLinesTraceWriter(std::ostream& out) : out_(out) {}
  void on_event(const TraceEvent& ev, std::string_view node_name) override;
  uint64_t lines() const { return lines_; }

 private:
  std::ostream& out_;
  std::string buf_;
  uint64_t lines_ = 0;
};

// Appends s to out as a JSON string literal (quotes and escapes included).
void json_string(std::string& out, std::string_view s);

}  // namespace streamsim::reports
