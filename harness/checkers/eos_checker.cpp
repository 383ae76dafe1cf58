// The exactly-once checker of the pipeline workload: the committed output
// against a batch reference over the committed input (pipeline_checkers.h).
//
// Every index is an ordered map, so the first evidence never depends on
// hashing or addresses and the checker runs in O(n log n).
#include "cases.h"

#include <streamsim/core/assert.h>
#include <streamsim/harness/pipeline_checkers.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace streamsim::harness {

using scenarios::PipelineHistory;
using scenarios::PropertyResult;
using scenarios::WindowResult;

namespace {

int64_t window_start(int64_t t, int64_t size) { return t - (((t % size) + size) % size); }

std::string provenance(const std::string& topic, int32_t p, int64_t offset) {
  return topic + "[" + std::to_string(p) + "]@" + std::to_string(offset);
}

std::string window_text(const std::string& key, int64_t start, int64_t size) {
  return "window " + key + "@[" + std::to_string(start) + "," + std::to_string(start + size) + ")";
}

std::string result_text(const WindowResult& w) {
  return "output[" + std::to_string(w.partition) + "]@" + std::to_string(w.offset) + " count " +
         std::to_string(w.count) + " (batch " + w.batch + ", task " + w.task + ")";
}


}  // namespace

std::map<std::pair<std::string, int64_t>, int64_t> reference_counts(const PipelineHistory& h) {
  SS_ASSERT(h.spec.window_ms > 0, "the reference needs a window size");
  std::set<std::string> late;
  for (const auto& l : h.late) late.insert(l.source);
  std::map<std::pair<std::string, int64_t>, int64_t> expected;
  for (const auto& ev : h.input) {
    if (ev.sentinel) continue;
    // Conservation: an event in the late topic is in no window.
    if (late.count(provenance(h.spec.source_topic, ev.partition, ev.offset))) continue;
    ++expected[{ev.key, window_start(ev.event_time_ms, h.spec.window_ms)}];
  }
  return expected;
}

std::vector<PropertyResult> check_exactly_once(const PipelineHistory& h) {
  const int64_t size = h.spec.window_ms;
  SS_ASSERT(size > 0, "the exactly-once checker needs a window size");
  std::vector<PropertyResult> out;

  // input_durable: acknowledged sends are in the committed input.
  {
    Cases c;
    std::map<std::pair<int32_t, int64_t>, const scenarios::InputEvent*> at;
    for (const auto& ev : h.input) at[{ev.partition, ev.offset}] = &ev;
    if (h.final_read_done) {
      for (const auto& s : h.sends) {
        if (!s.acked) continue;
        auto it = at.find({s.partition, s.offset});
        if (it == at.end() || it->second->id != s.id)
          c.add("acknowledged send of event " + std::to_string(s.id) + " (key " + s.key + ") at " +
                provenance(h.spec.source_topic, s.partition, s.offset) + " is not in the committed input");
      }
    }
    for (const auto& m : h.malformed) c.add("record " + m + " could not be decoded");
    out.push_back(c.result("input_durable"));
  }

  const auto expected = reference_counts(h);
  std::map<std::pair<std::string, int64_t>, std::vector<const WindowResult*>> got;
  for (const auto& w : h.output)
    if (!scenarios::is_sentinel_key(w.key)) got[{w.key, w.start_ms}].push_back(&w);
  std::set<std::string> inputs;
  for (const auto& ev : h.input) inputs.insert(provenance(h.spec.source_topic, ev.partition, ev.offset));

  // no_duplicates: nothing counted or written twice, nothing without input.
  {
    Cases c;
    for (const auto& [w, results] : got) {
      const std::string name = window_text(w.first, w.second, size);
      if (results.size() > 1) {
        std::string all;
        for (const auto* r : results) all += (all.empty() ? "" : "; ") + result_text(*r);
        c.add(name + " emitted " + std::to_string(results.size()) + " times: " + all);
        continue;
      }
      auto it = expected.find(w);
      const int64_t count = results.front()->count;
      if (it == expected.end())
        c.add(name + " emitted (" + result_text(*results.front()) +
              ") but no committed input event outside the late topic belongs to it");
      else if (count > it->second)
        c.add(name + ": expected " + std::to_string(it->second) + " events, got " + std::to_string(count) + " (" +
              result_text(*results.front()) + ")");
    }
    std::map<std::string, size_t> late_seen;
    for (const auto& l : h.late) ++late_seen[l.source];
    for (const auto& [src, n] : late_seen) {
      if (n > 1) c.add("late event " + src + " written " + std::to_string(n) + " times to the late topic");
      if (!inputs.count(src)) c.add("late record names " + src + ", which is not in the committed input");
    }
    out.push_back(c.result("no_duplicates"));
  }

  // no_losses: every reference window is there with its full count.
  {
    Cases c;
    // A pipeline that did not settle is judged by liveness: its missing
    // windows may still be on their way, and a stall is not a loss.
    if (h.final_read_done && h.settled) {
      const std::string note;
      for (const auto& [w, n] : expected) {
        auto it = got.find(w);
        if (it == got.end()) {
          c.add(window_text(w.first, w.second, size) + " missing: expected " + std::to_string(n) + " events" + note);
        } else if (it->second.size() == 1 && it->second.front()->count < n) {
          c.add(window_text(w.first, w.second, size) + ": expected " + std::to_string(n) + " events, got " +
                std::to_string(it->second.front()->count) + " (" + result_text(*it->second.front()) + ")" + note);
        }
      }
    }
    out.push_back(c.result("no_losses"));
  }

  // no_open_transactions.
  {
    Cases c;
    for (const auto& t : h.open_transactions) c.add("open transaction left on " + t);
    out.push_back(c.result("no_open_transactions"));
  }
  SS_ASSERT(out.size() == 4, "the exactly-once checker reports four properties");
  return out;
}

std::vector<PropertyResult> check_pipeline(const PipelineHistory& h, const PerfExpectations& perf) {
  std::vector<PropertyResult> all = check_exactly_once(h);
  for (auto& p : check_watermarks(h)) all.push_back(std::move(p));
  for (auto& p : check_pipeline_liveness(h)) all.push_back(std::move(p));
  for (auto& p : check_performance(h, perf)) all.push_back(std::move(p));
  return all;
}

}  // namespace streamsim::harness
