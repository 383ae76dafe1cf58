// Liveness and coverage of the pipeline workload (pipeline_checkers.h).
#include <streamsim/core/assert.h>
#include <streamsim/harness/pipeline_checkers.h>

#include <string>
#include <vector>

namespace streamsim::harness {

using scenarios::PipelineHistory;
using scenarios::PropertyResult;

std::vector<PropertyResult> check_pipeline_liveness(const PipelineHistory& h) {
  std::vector<PropertyResult> out;
  {
    // A run that sent nothing, closed no window or never produced a late
    // event when the scenario targets late events proves nothing: fail it.
    uint64_t events = 0;
    for (const auto& ev : h.input) events += ev.sentinel ? 0 : 1;
    const auto reference = reference_results(h);  // a refusal is the exactly-once checker's to report
    const uint64_t windows = reference ? reference->size() : 0;
    std::string why;
    if (events < h.min_input_events)
      why = std::to_string(events) + " committed input events, expected at least " + std::to_string(h.min_input_events);
    else if (windows < h.min_windows)
      why = std::to_string(windows) + " reference windows, expected at least " + std::to_string(h.min_windows);
    else if (h.late.size() < h.min_late_events)
      why = std::to_string(h.late.size()) + " late events, expected at least " + std::to_string(h.min_late_events);
    out.push_back({"coverage", why.empty(), why});
  }
  {
    std::string why;
    if (!h.engine_errors.empty()) why = "engine instance stopped: " + h.engine_errors.front();
    else if (!h.settled)
      why = "not settled within " + format_duration(h.settle_bound) + " after the input stopped and faults healed: " +
            h.stuck;
    else if (h.settle_time > h.settle_bound)
      why = "settled only " + format_duration(h.settle_time) + " after the input stopped, bound " +
            format_duration(h.settle_bound);
    SS_ASSERT(h.settled || !h.stuck.empty(), "an unsettled run says why");
    out.push_back({"liveness", why.empty(), why});
  }
  return out;
}

}  // namespace streamsim::harness
