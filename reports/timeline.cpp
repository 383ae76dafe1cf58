#include <streamsim/reports/timeline.h>

#include <streamsim/core/assert.h>

#include <algorithm>
#include <string_view>

namespace streamsim::reports {

namespace {

constexpr int64_t kCellNs = 10'000'000;  // delivery counting resolution: 10 ms

// The timeline kind of a custom (component) trace event, or "" when the
// timeline does not show it. Leader changes come from the simulated Kafka
// controller (sim/kafka/controller.cpp, elect_leaders.cpp).
std::string_view custom_kind(std::string_view detail) {
  if (detail == "kafka/leader_election") return "leader_election";
  if (detail == "kafka/unclean_election") return "unclean_election";
  if (detail == "kafka/preferred_election") return "preferred_election";
  if (detail == "kafka/controller_leader") return "controller_leader";
  return {};
}

}  // namespace

TimelineRecorder::TimelineRecorder(TraceSink* tee, size_t max_events) : tee_(tee), max_events_(max_events) {}

void TimelineRecorder::on_event(const TraceEvent& ev, std::string_view node_name) {
  const int64_t t = ev.time.ns();
  // The nemesis ends its own pending fault tasks by crashing its node when the
  // safety phase ends (Nemesis::stop_and_heal): mechanics, not a fault a
  // reader should see as a node going down.
  const bool nemesis = node_name == "nemesis";
  std::string_view kind;
  std::string detail;
  switch (ev.kind) {
    case TraceKind::deliver: {
      ++deliveries_;
      const size_t cell = static_cast<size_t>(std::max<int64_t>(0, t) / kCellNs);
      if (cell >= deliver_cells_.size()) deliver_cells_.resize(cell + 1, 0);
      ++deliver_cells_[cell];
      break;
    }
    case TraceKind::fault:
      kind = "fault";
      detail = std::string(ev.detail);
      break;
    case TraceKind::heal:
      kind = "heal";
      detail = std::string(ev.detail);
      break;
    case TraceKind::crash:
      if (nemesis) break;
      kind = "crash";
      detail = std::string(node_name) + " crashed: " + std::to_string(ev.a) + " unsynced bytes lost" +
               (ev.c ? ", disk wiped" : "");
      break;
    case TraceKind::restart:
      if (nemesis) break;
      kind = "restart";
      detail = std::string(node_name) + " restarted (incarnation " + std::to_string(ev.a) + ")";
      break;
    case TraceKind::custom:
      // Transaction decisions of the coordinator: kafka/txn_end (b: 1 commit,
      // 0 abort) and kafka/txn_timeout (an abort the coordinator decided).
      if (ev.detail == "kafka/txn_end") {
        (ev.b ? commits_ns_ : aborts_ns_).push_back(t);
      } else if (ev.detail == "kafka/txn_timeout") {
        aborts_ns_.push_back(t);
      } else {
        kind = custom_kind(ev.detail);
        if (kind == "controller_leader") {
          detail = "controller-" + std::to_string(ev.b) + " became the active controller (term " + std::to_string(ev.a) + ")";
        } else if (!kind.empty()) {
          // a: the chosen replica's broker index + 1 (0: none), b: leader epoch.
          detail = std::string(kind == "unclean_election" ? "UNCLEAN election: " : "") +
                   (ev.a ? "partition leader broker-" + std::to_string(ev.a - 1) : std::string("no leader")) +
                   ", epoch " + std::to_string(ev.b) + (kind == "preferred_election" ? " (preferred replica)" : "");
        }
      }
      break;
    default:
      break;
  }
  if (!kind.empty()) {
    if (events_.size() < max_events_) {
      proto::TimelineEvent e;
      e.set_t_ns(t);
      e.set_kind(std::string(kind));
      e.set_node(std::string(node_name));
      e.set_detail(std::move(detail));
      events_.push_back(std::move(e));
    } else {
      ++dropped_;
    }
  }
  if (tee_) tee_->on_event(ev, node_name);
}

proto::Timeline TimelineRecorder::finish(int64_t end_ns, int64_t heal_ns, size_t max_points) const {
  proto::Timeline tl;
  tl.set_start_ns(0);
  tl.set_end_ns(end_ns);
  tl.set_heal_ns(heal_ns);
  for (const auto& e : events_) *tl.add_events() = e;
  tl.set_events_dropped(dropped_);
  // Deliveries per second, from the 10 ms cells: each cell's count lands in the
  // bucket holding the cell's start.
  const int64_t w = bucket_width_ns(0, end_ns, max_points);
  proto::Series* s = tl.add_series();
  s->set_name("network_deliveries");
  s->set_unit("messages/s");
  s->set_bucket_ns(w);
  const size_t n = static_cast<size_t>(end_ns / w) + 1;
  std::vector<uint64_t> per(n, 0);
  for (size_t c = 0; c < deliver_cells_.size(); ++c) {
    const size_t b = std::min(n - 1, static_cast<size_t>(static_cast<int64_t>(c) * kCellNs / w));
    per[b] += deliver_cells_[c];
  }
  for (size_t b = 0; b < n; ++b) {
    auto* p = s->add_points();
    p->set_t_ns(static_cast<int64_t>(b) * w);
    p->set_value(static_cast<double>(per[b]) * 1e9 / static_cast<double>(w));
  }
  if (!commits_ns_.empty() || !aborts_ns_.empty()) {
    *tl.add_series() = count_series("txn_commits", "per bucket", commits_ns_, 0, end_ns, max_points, false);
    *tl.add_series() = count_series("txn_aborts", "per bucket", aborts_ns_, 0, end_ns, max_points, false);
  }
  return tl;
}

int64_t bucket_width_ns(int64_t start_ns, int64_t end_ns, size_t max_points) {
  SS_ASSERT(max_points > 0, "a series has room for at least one point");
  const int64_t span = std::max<int64_t>(end_ns - start_ns, 1);
  const int64_t raw = (span + static_cast<int64_t>(max_points) - 1) / static_cast<int64_t>(max_points);
  // Round up to 1, 2 or 5 times a power of ten of milliseconds, so bucket
  // edges fall on readable times.
  int64_t w = 1'000'000;
  for (;;) {
    for (int64_t m : {1, 2, 5}) {
      if (w * m >= raw) return w * m;
    }
    w *= 10;
  }
}

proto::Series count_series(const std::string& name, const std::string& unit, const std::vector<int64_t>& times_ns,
                           int64_t start_ns, int64_t end_ns, size_t max_points, bool per_second) {
  proto::Series s;
  s.set_name(name);
  s.set_unit(unit);
  const int64_t w = bucket_width_ns(start_ns, end_ns, max_points);
  s.set_bucket_ns(w);
  const size_t n = static_cast<size_t>(std::max<int64_t>(end_ns - start_ns, 0) / w) + 1;
  std::vector<uint64_t> per(n, 0);
  for (int64_t t : times_ns) {
    if (t < start_ns) continue;
    ++per[std::min(n - 1, static_cast<size_t>((t - start_ns) / w))];
  }
  for (size_t b = 0; b < n; ++b) {
    auto* p = s.add_points();
    p->set_t_ns(start_ns + static_cast<int64_t>(b) * w);
    double v = static_cast<double>(per[b]);
    if (per_second) v = v * 1e9 / static_cast<double>(w);
    p->set_value(v);
  }
  return s;
}

proto::Series sample_series(const std::string& name, const std::string& unit,
                            const std::vector<std::pair<int64_t, double>>& samples, int64_t start_ns, int64_t end_ns,
                            size_t max_points) {
  proto::Series s;
  s.set_name(name);
  s.set_unit(unit);
  const int64_t w = bucket_width_ns(start_ns, end_ns, max_points);
  bool have = false;
  int64_t cur = 0;
  double best = 0;
  for (const auto& [t, v] : samples) {
    const int64_t b = (std::max(t, start_ns) - start_ns) / w;
    if (have && b != cur) {
      auto* p = s.add_points();
      p->set_t_ns(start_ns + cur * w);
      p->set_value(best);
      have = false;
    }
    if (!have || v > best) best = v;
    cur = b;
    have = true;
  }
  if (have) {
    auto* p = s.add_points();
    p->set_t_ns(start_ns + cur * w);
    p->set_value(best);
  }
  return s;
}

}  // namespace streamsim::reports
