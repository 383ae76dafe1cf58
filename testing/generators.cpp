// RapidCheck generators for users' property tests (include/streamsim/testing/generators.h).
#include <streamsim/core/assert.h>
#include <streamsim/engine/row.h>
#include <streamsim/testing/generators.h>

#include <google/protobuf/text_format.h>

#include <algorithm>
#include <map>
#include <tuple>

namespace streamsim::testing {

const char* to_string(Event::Kind k) {
  switch (k) {
    case Event::Kind::on_time: return "on_time";
    case Event::Kind::late: return "late";
    case Event::Kind::duplicate: return "duplicate";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& os, const Event& e) {
  return os << "{" << e.key << " value=" << e.value << " t=" << e.event_time_ms << "ms arrival=" << e.arrival_ms
            << "ms p" << e.partition << " " << to_string(e.kind) << "}";
}

namespace {

// The kind a draw's roll selects: the on-time share first, so a shrinking
// roll (towards 0) turns late events and duplicates into on-time ones.
Event::Kind kind_of(const DisorderSpec& spec, int roll) {
  const int late = static_cast<int>(spec.late_fraction * 1000 + 0.5);
  const int dup = static_cast<int>(spec.duplicate_fraction * 1000 + 0.5);
  const int on_time = 1000 - late - dup;
  if (roll < on_time) return Event::Kind::on_time;
  if (roll < on_time + late) return Event::Kind::late;
  return Event::Kind::duplicate;
}

void check_spec(const DisorderSpec& s) {
  SS_ASSERT(s.keys >= 1 && s.partitions >= 1, "DisorderSpec: at least one key and one partition");
  SS_ASSERT(s.max_out_of_order_ms >= 0 && s.lateness_ms >= 1 && s.max_step_ms >= 0,
            "DisorderSpec: non-negative bound and step, positive lateness");
  SS_ASSERT(s.late_fraction >= 0 && s.duplicate_fraction >= 0 && s.late_fraction + s.duplicate_fraction <= 1.0,
            "DisorderSpec: fractions within [0, 1] and summing to at most 1");
  SS_ASSERT(s.start_ms >= s.max_out_of_order_ms + s.lateness_ms, "DisorderSpec: start_ms leaves no event time negative");
}

}  // namespace

std::vector<Event> to_events(const DisorderSpec& spec, const std::vector<EventDraw>& draws) {
  check_spec(spec);
  std::vector<Event> out;
  std::vector<size_t> originals;  // indices into out
  int64_t arrival = spec.start_ms;
  for (const auto& d : draws) {
    arrival += d.gap_ms;
    Event::Kind kind = kind_of(spec, d.kind_roll);
    if (kind == Event::Kind::duplicate && !originals.empty()) {
      Event e = out[originals[static_cast<size_t>(d.original) % originals.size()]];
      e.arrival_ms = arrival;
      e.kind = Event::Kind::duplicate;
      out.push_back(std::move(e));
      continue;
    }
    if (kind == Event::Kind::duplicate) kind = Event::Kind::on_time;  // nothing to repeat yet
    Event e;
    e.key = "k" + std::to_string(d.key);
    e.value = static_cast<int64_t>(originals.size());
    e.arrival_ms = arrival;
    e.partition = d.key % spec.partitions;
    e.kind = kind;
    e.event_time_ms = kind == Event::Kind::on_time ? arrival - d.displacement_ms
                                                   : arrival - (spec.max_out_of_order_ms + 1 + d.lateness_ms);
    originals.push_back(out.size());
    out.push_back(std::move(e));
  }
  return out;
}

proto::Faults to_faults(const std::vector<proto::ScriptedFault>& faults) {
  proto::Faults f;
  for (const auto& s : faults) *f.add_scripted() = s;
  return f;
}

std::string describe(const std::vector<proto::ScriptedFault>& faults) {
  std::string out;
  google::protobuf::TextFormat::Printer printer;
  printer.SetSingleLineMode(true);
  for (const auto& f : faults) {
    std::string line;
    printer.PrintToString(f, &line);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

void add_events(engine::TestStream& ts, const std::vector<Event>& events) {
  for (const auto& e : events)
    ts.add(engine::Value(e.key), engine::Value(e.value), engine::EventTime::from_ms(e.event_time_ms), e.partition);
}

std::vector<Event> without_late(const std::vector<Event>& events, const std::vector<engine::Row>& late) {
  std::map<std::tuple<std::string, int64_t, int64_t>, int> remove;
  for (const auto& r : late) {
    SS_ASSERT(r.key.is_string() && r.value.is_int(), "without_late: late rows of generated events (string key, int value)");
    ++remove[{r.key.as_string(), r.value.as_int(), r.event_time.ms()}];
  }
  std::vector<Event> out;
  for (const auto& e : events) {
    auto it = remove.find({e.key, e.value, e.event_time_ms});
    if (it != remove.end() && it->second > 0) {
      --it->second;
      continue;
    }
    out.push_back(e);
  }
  return out;
}

namespace {

bool engine_kind(proto::FaultKind k) {
  return k == proto::ENGINE_CRASH || k == proto::ZOMBIE_ENGINE || k == proto::ENGINE_SCALE || k == proto::ISOLATE_ENGINE;
}
// Kinds that act on one named node when given one (the fault catalog, docs/faults.md).
bool node_kind(proto::FaultKind k) {
  return k == proto::CRASH || k == proto::CRASH_WIPE || k == proto::PAUSE || k == proto::ISOLATE ||
         k == proto::SLOW_NODE || k == proto::CLOG || k == proto::FSYNC_STALL;
}

// One fault's draws: indices and offsets that shrink towards the first kind,
// time 0, the shortest duration and no named node.
struct FaultDraw {
  size_t kind = 0;
  uint64_t at_ms = 0;
  uint64_t duration_ms = 0;  // offset above the kind's minimum
  int setting = 0;           // [0, 100): probability / extra latency / factor
  size_t node = 0;           // 0: none; i: the i-th eligible candidate
};

proto::ScriptedFault to_fault(const FaultScheduleSpec& spec, const FaultDraw& d) {
  proto::ScriptedFault f;
  const proto::FaultKind k = spec.kinds[d.kind];
  f.set_kind(k);
  f.set_at_ms(d.at_ms);
  const uint64_t span = spec.max_duration_ms - spec.min_duration_ms;
  if (k == proto::LEADER_MOVE) {
    f.set_duration_ms(0);  // instantaneous
  } else if (k == proto::ZOMBIE_ENGINE) {
    f.set_duration_ms(spec.session_timeout_ms + 1 + d.duration_ms % (span + 1));
  } else {
    f.set_duration_ms(std::max<uint64_t>(1, spec.min_duration_ms + d.duration_ms % (span + 1)));
  }
  if (k == proto::PACKET_LOSS) f.set_probability(0.05 + 0.005 * d.setting);   // [0.05, 0.55)
  if (k == proto::LATENCY_SPIKE || k == proto::FSYNC_STALL) f.set_extra_latency_ms(10 + 20 * static_cast<uint64_t>(d.setting));
  if (k == proto::SLOW_NODE) f.set_factor(2 + static_cast<uint32_t>(d.setting) / 5);  // [2, 21]
  if (d.node > 0 && (engine_kind(k) || node_kind(k))) {
    std::vector<std::string> eligible;
    for (const auto& n : spec.nodes)
      if ((n.rfind("engine-", 0) == 0) == engine_kind(k)) eligible.push_back(n);
    if (!eligible.empty()) f.add_nodes(eligible[(d.node - 1) % eligible.size()]);
  }
  return f;
}

// A variable-length vector of draws, so shrinking removes elements as well as
// shrinking them. Its length is at most max (0: RapidCheck's size); resize
// bounds it, while each element keeps the property's own size (inRange
// scales its range with the size, so resizing the elements too would shrink
// every draw's range).
template <class T>
rc::Gen<std::vector<T>> bounded_container(rc::Gen<T> element, size_t max) {
  if (max == 0) return rc::gen::container<std::vector<T>>(element);
  return rc::gen::withSize([element, max](int size) {
    return rc::gen::resize(static_cast<int>(max),
                           rc::gen::container<std::vector<T>>(rc::gen::resize(size, element)));
  });
}

}  // namespace

namespace gen {

rc::Gen<std::vector<Event>> events(DisorderSpec spec) {
  check_spec(spec);
  auto draw = rc::gen::map(
      rc::gen::tuple(rc::gen::inRange<int64_t>(0, spec.max_step_ms + 1), rc::gen::inRange<int>(0, spec.keys),
                     rc::gen::inRange<int64_t>(0, spec.max_out_of_order_ms + 1),
                     rc::gen::inRange<int64_t>(0, spec.lateness_ms), rc::gen::inRange<int>(0, 1000),
                     rc::gen::inRange<int>(0, 1 << 16)),
      [](const std::tuple<int64_t, int, int64_t, int64_t, int, int>& t) {
        return EventDraw{std::get<0>(t), std::get<1>(t), std::get<2>(t), std::get<3>(t), std::get<4>(t), std::get<5>(t)};
      });
  // The truncation is only a guard (bounded_container bounds the length).
  auto draws = bounded_container(draw, spec.max_events);
  return rc::gen::map(draws, [spec](std::vector<EventDraw> d) {
    if (spec.max_events > 0 && d.size() > spec.max_events) d.resize(spec.max_events);
    return to_events(spec, d);
  });
}

rc::Gen<std::vector<proto::ScriptedFault>> fault_schedule(FaultScheduleSpec spec) {
  SS_ASSERT(!spec.kinds.empty(), "FaultScheduleSpec: at least one kind");
  SS_ASSERT(spec.horizon_ms >= 1 && spec.max_duration_ms >= spec.min_duration_ms,
            "FaultScheduleSpec: a positive horizon and min_duration_ms <= max_duration_ms");
  for (auto k : spec.kinds) SS_ASSERT(k != proto::FAULT_UNSPECIFIED, "FaultScheduleSpec: kinds are specified");
  auto draw = rc::gen::map(
      rc::gen::tuple(rc::gen::inRange<size_t>(0, spec.kinds.size()), rc::gen::inRange<uint64_t>(0, spec.horizon_ms),
                     rc::gen::inRange<uint64_t>(0, spec.max_duration_ms - spec.min_duration_ms + 1),
                     rc::gen::inRange<int>(0, 100), rc::gen::inRange<size_t>(0, spec.nodes.size() + 1)),
      [](const std::tuple<size_t, uint64_t, uint64_t, int, size_t>& t) {
        return FaultDraw{std::get<0>(t), std::get<1>(t), std::get<2>(t), std::get<3>(t), std::get<4>(t)};
      });
  auto draws = bounded_container(draw, spec.max_faults);
  return rc::gen::map(draws, [spec](const std::vector<FaultDraw>& ds) {
    std::vector<proto::ScriptedFault> out;
    for (size_t i = 0; i < ds.size() && i < spec.max_faults; ++i) out.push_back(to_fault(spec, ds[i]));
    std::stable_sort(out.begin(), out.end(),
                     [](const proto::ScriptedFault& a, const proto::ScriptedFault& b) { return a.at_ms() < b.at_ms(); });
    return out;
  });
}

}  // namespace gen

}  // namespace streamsim::testing

namespace streamsim::proto {
void showValue(const ScriptedFault& f, std::ostream& os) {
  os << testing::describe({f});
}
}  // namespace streamsim::proto
