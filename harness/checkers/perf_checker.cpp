// Throughput and end-to-end latency of the pipeline workload, in simulated
// time, against the scenario's expectations (pipeline_checkers.h).
//
// Every index is an ordered map, so the evidence never depends on hashing or
// addresses.
#include <streamsim/core/assert.h>
#include <streamsim/harness/pipeline_checkers.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace streamsim::harness {

using scenarios::PipelineHistory;
using scenarios::PropertyResult;

namespace {

int64_t window_start(int64_t t, int64_t size) { return t - (((t % size) + size) % size); }

std::optional<int64_t> parse_int(const std::string& s) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

double to_ms(Duration d) { return static_cast<double>(d.ns()) / 1e6; }

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// The value at rank ceil(q * n) of the sorted values (nearest rank): a real
// observation, never an interpolation between two.
double nearest_rank(const std::vector<double>& sorted, double q) {
  SS_ASSERT(!sorted.empty(), "a percentile of no values");
  const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

}  // namespace

PerfExpectations perf_expectations(const proto::Expectations& e) {
  return PerfExpectations{e.min_throughput_events_per_s(), e.max_p99_latency_ms()};
}

PipelinePerf measure_performance(const PipelineHistory& h) {
  PipelinePerf out;
  // Throughput: the input phase spans the data sends and their acknowledgements.
  std::optional<Instant> first, last;
  std::map<uint64_t, Instant> sent_at;  // event id -> its first send
  for (const auto& s : h.sends) {
    if (s.sentinel) continue;
    if (!first || s.sent_at < *first) first = s.sent_at;
    Instant end = s.sent_at;
    if (s.acked && s.acked_at > end) end = s.acked_at;
    if (!last || end > *last) last = end;
    auto [it, fresh] = sent_at.emplace(s.id, s.sent_at);
    if (!fresh && s.sent_at < it->second) it->second = s.sent_at;
  }
  for (const auto& ev : h.input) out.events += ev.sentinel ? 0 : 1;
  if (first) out.input_phase = *last - *first;
  // A phase of one send has no length: one millisecond keeps the rate finite.
  const double seconds = std::max(to_ms(out.input_phase), 1.0) / 1e3;
  out.throughput_events_per_s = first ? static_cast<double>(out.events) / seconds : 0;

  // Latency: each window's first commit, through the batch that emitted it.
  std::map<std::pair<uint64_t, int32_t>, Instant> commit_of;  // (batch, task partition) -> first commit
  for (const auto& c : h.watermark_commits) {
    auto [it, fresh] = commit_of.emplace(std::pair{c.batch, c.partition}, c.at);
    if (!fresh && c.at < it->second) it->second = c.at;
  }
  std::map<std::pair<std::string, int64_t>, std::pair<Instant, std::string>> window_commit;  // -> (commit, batch text)
  for (const auto& w : h.output) {
    if (scenarios::is_sentinel_key(w.key)) continue;
    const auto batch = parse_int(w.batch);
    const auto task = parse_int(w.task);
    if (!batch || !task || *batch < 0) continue;
    auto c = commit_of.find({static_cast<uint64_t>(*batch), static_cast<int32_t>(*task)});
    if (c == commit_of.end()) continue;
    auto [it, fresh] = window_commit.emplace(std::pair{w.key, w.start_ms}, std::pair{c->second, w.batch});
    if (!fresh && c->second < it->second.first) it->second = {c->second, w.batch};
  }
  std::set<std::string> late;
  for (const auto& l : h.late) late.insert(l.source);
  std::vector<double> latencies;
  double worst = -1;
  for (const auto& ev : h.input) {
    if (ev.sentinel) continue;
    const std::string where = h.spec.source_topic + "[" + std::to_string(ev.partition) + "]@" + std::to_string(ev.offset);
    if (late.count(where)) continue;  // counted by the late topic, in no window
    SS_ASSERT(h.spec.window_ms > 0, "the latency of a window needs its size");
    const int64_t start = window_start(ev.event_time_ms, h.spec.window_ms);
    auto w = window_commit.find({ev.key, start});
    auto s = sent_at.find(ev.id);
    if (w == window_commit.end() || s == sent_at.end()) {
      ++out.latency_unmeasured;
      continue;
    }
    const double ms = to_ms(w->second.first - s->second);
    latencies.push_back(ms);
    if (ms > worst) {
      worst = ms;
      out.slowest = where + " (key " + ev.key + ") sent at " + format_instant(s->second) + ", its window [" +
                    std::to_string(start) + "," + std::to_string(start + h.spec.window_ms) + ") committed at " +
                    format_instant(w->second.first) + " by batch " + w->second.second;
    }
  }
  out.latency_events = latencies.size();
  if (!latencies.empty()) {
    std::sort(latencies.begin(), latencies.end());
    out.latency_p50_ms = nearest_rank(latencies, 0.50);
    out.latency_p99_ms = nearest_rank(latencies, 0.99);
    out.latency_max_ms = latencies.back();
  }
  return out;
}

std::vector<std::pair<std::string, double>> performance_metrics(const PipelinePerf& p) {
  return {{"throughput_events_per_s", p.throughput_events_per_s},
          {"latency_p50_ms", p.latency_p50_ms},
          {"latency_p99_ms", p.latency_p99_ms},
          {"latency_max_ms", p.latency_max_ms},
          {"latency_unmeasured_events", static_cast<double>(p.latency_unmeasured)}};
}

std::vector<PropertyResult> check_performance(const PipelineHistory& h, const PerfExpectations& x) {
  std::vector<PropertyResult> out;
  if (x.min_throughput_events_per_s <= 0 && x.max_p99_latency_ms == 0) return out;
  const PipelinePerf p = measure_performance(h);
  if (x.min_throughput_events_per_s > 0) {
    std::string why;
    if (p.throughput_events_per_s < x.min_throughput_events_per_s)
      why = "throughput " + fixed(p.throughput_events_per_s, 1) + " events/s, expected at least " +
            fixed(x.min_throughput_events_per_s, 1) + " (" + std::to_string(p.events) +
            " committed input events over an input phase of " + format_duration(p.input_phase) + ")";
    out.push_back({"throughput", why.empty(), why});
  }
  if (x.max_p99_latency_ms > 0) {
    std::string why;
    if (p.latency_events == 0)
      why = "no latency measured: none of the " + std::to_string(p.events) +
            " committed input events is in a window with a reported commit";
    else if (p.latency_p99_ms > static_cast<double>(x.max_p99_latency_ms))
      why = "p99 latency " + fixed(p.latency_p99_ms, 1) + " ms, expected at most " +
            std::to_string(x.max_p99_latency_ms) + " ms (p50 " + fixed(p.latency_p50_ms, 1) + " ms, max " +
            fixed(p.latency_max_ms, 1) + " ms over " + std::to_string(p.latency_events) + " events; slowest: " +
            p.slowest + ")";
    out.push_back({"latency_p99", why.empty(), why});
  }
  return out;
}

}  // namespace streamsim::harness
