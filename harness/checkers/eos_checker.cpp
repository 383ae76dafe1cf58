// The exactly-once checker of the pipeline workload: the committed output
// against a batch reference over the committed input (pipeline_checkers.h).
//
// Every index is an ordered map, so the first evidence never depends on
// hashing or addresses and the checker runs in O(n log n).
#include "cases.h"

#include <streamsim/core/assert.h>
#include <streamsim/harness/pipeline_checkers.h>

#include <streamsim/engine/reference.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace streamsim::harness {

using scenarios::PipelineHistory;
using scenarios::PropertyResult;
using scenarios::WindowResult;

namespace {

std::string provenance(const std::string& topic, int32_t p, int64_t offset) {
  return topic + "[" + std::to_string(p) + "]@" + std::to_string(offset);
}

std::string window_text(const ReferenceWindowId& w) {
  return "window " + w.key + "@[" + std::to_string(w.start_ms) + "," + std::to_string(w.end_ms) + ")";
}

std::string result_text(const WindowResult& w) {
  return "output[" + std::to_string(w.partition) + "]@" + std::to_string(w.offset) + " value " +
         w.value.to_string() + " (batch " + w.batch + ", task " + w.task + ")";
}

// "expected 6 events, got 5" for counts, "expected 120, got 95" otherwise.
std::string mismatch_text(bool counts, const engine::Value& expected, const engine::Value* got) {
  std::string t = "expected " + expected.to_string() + (counts ? " events" : "");
  if (got) t += ", got " + got->to_string();
  return t;
}

// Above the reference: something was counted that should not have been.
// Numbers compare numerically; values of different kinds are not comparable.
bool above(const engine::Value& got, const engine::Value& expected) {
  return got.is_numeric() && expected.is_numeric() && got.to_double() > expected.to_double();
}

}  // namespace

engine::PipelinePlan reference_plan(const PipelineHistory& h) {
  if (h.spec.plan) return *h.spec.plan;
  SS_ASSERT(h.spec.window_ms > 0, "a history without a plan has a tumbling window size");
  engine::PipelinePlan p;
  p.source_topic = h.spec.source_topic;
  p.watermark_delay_ms = h.spec.watermark_delay_ms;
  p.window_kind = engine::WindowSpec::Kind::tumbling;
  p.window_size_ms = p.window_slide_ms = h.spec.window_ms;
  p.aggregate = engine::Aggregate::count();
  p.allowed_lateness_ms = h.spec.allowed_lateness_ms;
  p.late_policy = engine::LatePolicy::route;
  p.output_mode = engine::OutputMode::append;
  return p;
}

int64_t late_from_watermark_ms(const PipelineHistory& h, int64_t t) {
  // The scenario's plan is used in place: copying it per event would copy its functions.
  return h.spec.plan ? engine::late_from_watermark_ms(*h.spec.plan, t)
                     : engine::late_from_watermark_ms(reference_plan(h), t);
}

bool reference_value_matches(const engine::Value& expected, const engine::Value& got) {
  if (expected.is_double() && got.is_double()) {
    const double a = expected.as_double(), b = got.as_double();
    return a == b || std::fabs(a - b) <= 1e-9 * std::max(std::fabs(a), std::fabs(b));
  }
  return expected == got;
}

Result<std::map<ReferenceWindowId, engine::Value>, std::string> reference_results(const PipelineHistory& h) {
  std::set<std::string> late;
  for (const auto& l : h.late) late.insert(l.source);
  // The committed input in offset order per partition: the order the engine
  // read it in, which is all the evaluator's order contract asks for.
  std::vector<const scenarios::InputEvent*> input;
  for (const auto& ev : h.input) input.push_back(&ev);
  std::stable_sort(input.begin(), input.end(), [](const auto* a, const auto* b) {
    return std::pair{a->partition, a->offset} < std::pair{b->partition, b->offset};
  });
  std::vector<engine::ReferenceEvent> events;
  for (const auto* ev : input) {
    if (ev->sentinel) continue;
    // Conservation: an event in the late topic is in no window.
    if (late.count(provenance(h.spec.source_topic, ev->partition, ev->offset))) continue;
    // The workload writes the event's id as its int64 value (PipelineSend::id).
    events.push_back({engine::Value(ev->key), engine::Value(static_cast<int64_t>(ev->id)), ev->event_time_ms});
  }
  auto r = engine::evaluate_reference(reference_plan(h), events);
  if (!r) return unexpected(r.error().format());
  std::map<ReferenceWindowId, engine::Value> out;
  for (auto& [w, v] : *r) {
    SS_ASSERT(w.key.is_string(), "the workload's keys are strings");
    out.emplace(ReferenceWindowId{w.key.as_string(), w.start_ms, w.end_ms}, std::move(v));
  }
  return out;
}

std::vector<PropertyResult> check_exactly_once(const PipelineHistory& h) {
  std::vector<PropertyResult> out;

  // input_durable: acknowledged sends are in the committed input.
  {
    Cases c;
    std::map<std::pair<int32_t, int64_t>, const scenarios::InputEvent*> at;
    std::set<std::pair<int32_t, uint64_t>> ids;  // (partition, event id) of the committed input
    for (const auto& ev : h.input) {
      at[{ev.partition, ev.offset}] = &ev;
      ids.insert({ev.partition, ev.id});
    }
    if (h.final_read_done) {
      for (const auto& s : h.sends) {
        if (!s.acked) continue;
        if (s.offset < 0) {
          // Acknowledged without an offset: librdkafka reports a batch the
          // broker calls a duplicate (DUPLICATE_SEQUENCE_NUMBER: an earlier
          // attempt persisted it) as delivered with RD_KAFKA_OFFSET_INVALID.
          // Such an ack promises the event is in its partition, not where.
          if (!ids.count({s.partition, s.id}))
            c.add("acknowledged send of event " + std::to_string(s.id) + " (key " + s.key + ") to " +
                  provenance(h.spec.source_topic, s.partition, s.offset) +
                  " (acknowledged without an offset) is not in the committed input");
          continue;
        }
        auto it = at.find({s.partition, s.offset});
        if (it == at.end() || it->second->id != s.id)
          c.add("acknowledged send of event " + std::to_string(s.id) + " (key " + s.key + ") at " +
                provenance(h.spec.source_topic, s.partition, s.offset) + " is not in the committed input");
      }
    }
    for (const auto& m : h.malformed) c.add("record " + m + " could not be decoded");
    out.push_back(c.result("input_durable"));
  }

  const auto reference = reference_results(h);
  static const std::map<ReferenceWindowId, engine::Value> kNone;
  const auto& expected = reference ? *reference : kNone;
  std::map<ReferenceWindowId, std::vector<const WindowResult*>> got;
  for (const auto& w : h.output)
    if (!scenarios::is_sentinel_key(w.key)) got[{w.key, w.start_ms, w.end_ms}].push_back(&w);
  std::set<std::string> inputs;
  for (const auto& ev : h.input) inputs.insert(provenance(h.spec.source_topic, ev.partition, ev.offset));
  const bool counts = reference_plan(h).aggregate->kind == engine::Aggregate::Kind::count;

  // no_duplicates: nothing counted or written twice, nothing without input.
  {
    Cases c;
    if (!reference) c.add("the batch reference cannot judge this input: " + reference.error());
    for (const auto& [w, results] : got) {
      if (!reference) break;
      const std::string name = window_text(w);
      if (results.size() > 1) {
        std::string all;
        for (const auto* r : results) all += (all.empty() ? "" : "; ") + result_text(*r);
        c.add(name + " emitted " + std::to_string(results.size()) + " times: " + all);
        continue;
      }
      auto it = expected.find(w);
      const engine::Value& value = results.front()->value;
      if (it == expected.end())
        c.add(name + " emitted (" + result_text(*results.front()) +
              ") but no committed input event outside the late topic belongs to it");
      else if (!reference_value_matches(it->second, value) && above(value, it->second))
        c.add(name + ": " + mismatch_text(counts, it->second, &value) + " (" + result_text(*results.front()) + ")");
    }
    std::map<std::string, size_t> late_seen;
    for (const auto& l : h.late) ++late_seen[l.source];
    for (const auto& [src, n] : late_seen) {
      if (n > 1) c.add("late event " + src + " written " + std::to_string(n) + " times to the late topic");
      if (!inputs.count(src)) c.add("late record names " + src + ", which is not in the committed input");
    }
    out.push_back(c.result("no_duplicates"));
  }

  // no_losses: every reference window is there with its full value.
  {
    Cases c;
    if (!reference) c.add("the batch reference cannot judge this input: " + reference.error());
    // A pipeline that did not settle is judged by liveness: its missing
    // windows may still be on their way, and a stall is not a loss.
    if (h.final_read_done && h.settled) {
      for (const auto& [w, v] : expected) {
        auto it = got.find(w);
        if (it == got.end()) {
          c.add(window_text(w) + " missing: " + mismatch_text(counts, v, nullptr));
        } else if (it->second.size() == 1 && !reference_value_matches(v, it->second.front()->value) &&
                   !above(it->second.front()->value, v)) {
          c.add(window_text(w) + ": " + mismatch_text(counts, v, &it->second.front()->value) + " (" +
                result_text(*it->second.front()) + ")");
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
