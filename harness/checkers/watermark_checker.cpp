// The watermark checker of the pipeline workload (pipeline_checkers.h): the
// engine's reported watermarks against what the producers had sent.
#include "cases.h"

#include <streamsim/core/assert.h>
#include <streamsim/harness/pipeline_checkers.h>

#include <algorithm>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace streamsim::harness {

using scenarios::EngineStart;
using scenarios::PipelineHistory;
using scenarios::PropertyResult;

namespace {

constexpr int64_t kMinMs = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxMs = std::numeric_limits<int64_t>::max();

std::string ms_text(int64_t ms) {
  if (ms == kMinMs) return "-inf";
  if (ms == kMaxMs) return "+inf";
  return std::to_string(ms) + "ms";
}


// The largest watermark an honest engine could report at processing time T:
// the largest event time sent at or before T, minus the delay. Sends are
// recorded in the order they were made, so their times never decrease.
class Bound {
 public:
  explicit Bound(const PipelineHistory& h) : delay_(h.spec.watermark_delay_ms) {
    int64_t max_ts = kMinMs;
    for (const auto& s : h.sends) {
      SS_ASSERT(times_.empty() || times_.back() <= s.sent_at, "sends are recorded in time order");
      max_ts = std::max(max_ts, s.event_time_ms);
      times_.push_back(s.sent_at);
      max_.push_back(max_ts);
    }
  }
  // kMinMs when nothing had been sent by T.
  int64_t at(Instant t) const {
    auto it = std::upper_bound(times_.begin(), times_.end(), t);
    if (it == times_.begin()) return kMinMs;
    return max_[static_cast<size_t>(it - times_.begin()) - 1] - delay_;
  }

 private:
  int64_t delay_;
  std::vector<Instant> times_;
  std::vector<int64_t> max_;
};

}  // namespace

std::vector<PropertyResult> check_watermarks(const PipelineHistory& h) {
  SS_ASSERT(h.spec.window_ms > 0, "the watermark checker needs a window size");
  const Bound bound(h);
  std::vector<PropertyResult> out;

  {
    Cases c;
    std::map<std::string, int64_t> last;  // per engine incarnation
    for (const auto& w : h.watermarks) {
      auto it = last.find(w.engine);
      if (w.to_ms <= w.from_ms)
        c.add(w.engine + " batch " + std::to_string(w.batch) + ": watermark advance from " + ms_text(w.from_ms) +
              " to " + ms_text(w.to_ms) + " does not go up");
      else if (it != last.end() && w.from_ms < it->second)
        c.add(w.engine + " batch " + std::to_string(w.batch) + ": watermark went back from " + ms_text(it->second) +
              " to " + ms_text(w.from_ms));
      last[w.engine] = std::max(w.to_ms, it == last.end() ? kMinMs : it->second);
    }
    // Across restarts: an incarnation starts at or above every watermark any
    // incarnation had committed before it started (the engine reads them all
    // back before it takes work). Only committed watermarks bind it: an
    // advance whose batch never committed may be redone lower.
    std::map<std::string, std::pair<int64_t, std::string>> floor;  // incarnation -> (highest committed, by whom)
    {
      std::vector<EngineStart> starts = h.engine_starts;
      std::stable_sort(starts.begin(), starts.end(), [](const auto& a, const auto& b) { return a.at < b.at; });
      size_t next = 0;
      std::pair<int64_t, std::string> best{kMinMs, ""};
      for (const auto& s : starts) {
        for (; next < h.watermark_commits.size() && h.watermark_commits[next].at < s.at; ++next) {
          const auto& cm = h.watermark_commits[next];
          SS_ASSERT(next == 0 || h.watermark_commits[next - 1].at <= cm.at, "commits are recorded in time order");
          if (cm.watermark_ms > best.first)
            best = {cm.watermark_ms, cm.engine + " batch " + std::to_string(cm.batch) + " at " + format_instant(cm.at)};
        }
        floor[s.engine] = best;
      }
    }
    for (const auto& w : h.watermarks) {
      auto f = floor.find(w.engine);
      if (f == floor.end() || f->second.first == kMinMs || w.from_ms >= f->second.first) continue;
      c.add(w.engine + " batch " + std::to_string(w.batch) + ": watermark advance from " + ms_text(w.from_ms) +
            " starts below " + ms_text(f->second.first) + ", committed by " + f->second.second +
            " before this incarnation started");
    }
    out.push_back(c.result("watermark_monotonic"));
  }

  {
    Cases c;
    for (const auto& w : h.watermarks) {
      if (w.to_ms == kMaxMs) continue;  // end of input is never reported by the Kafka wiring
      const int64_t b = bound.at(w.at);
      if (w.to_ms > b)
        c.add(w.engine + " batch " + std::to_string(w.batch) + " at " + format_instant(w.at) + ": watermark " +
              ms_text(w.to_ms) + " is above " + ms_text(b) + " (largest event time sent by then minus the delay)");
    }
    for (const auto& l : h.late_reports) {
      const int64_t b = bound.at(l.at);
      if (l.watermark_ms > b)
        c.add(l.engine + " at " + format_instant(l.at) + ": judged " + l.source + " against watermark " +
              ms_text(l.watermark_ms) + ", above " + ms_text(b));
    }
    out.push_back(c.result("watermark_bounded"));
  }

  {
    Cases c;
    for (const auto& l : h.late_reports) {
      // The watermark at which the event becomes late: its (last) window's
      // end + allowed lateness, or for sessions t + lateness + 1.
      const int64_t late_at = late_from_watermark_ms(h, l.event_time_ms);
      const int64_t b = bound.at(l.at);
      if (late_at > b)
        c.add(l.engine + " at " + format_instant(l.at) + " dropped " + l.source + " (event time " +
              ms_text(l.event_time_ms) + ", late from watermark " + ms_text(late_at) +
              ") although no honest watermark could pass " + ms_text(b) + " yet: an on-time event");
    }
    out.push_back(c.result("no_on_time_drops"));
  }

  {
    Cases c;
    for (const auto& l : h.late) {
      if (!l.watermark_known) {
        c.add("late record " + l.source + " has no watermark header");
        continue;
      }
      const int64_t late_at = late_from_watermark_ms(h, l.event_time_ms);
      if (late_at > l.watermark_ms)
        c.add("late record " + l.source + " (event time " + ms_text(l.event_time_ms) + ", late from watermark " +
              ms_text(late_at) + ") was judged against watermark " + ms_text(l.watermark_ms) +
              ", below window end + allowed lateness");
    }
    out.push_back(c.result("late_behind_watermark"));
  }
  SS_ASSERT(out.size() == 4, "the watermark checker reports four properties");
  return out;
}

}  // namespace streamsim::harness
