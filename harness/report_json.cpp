#include <streamsim/harness/report_json.h>

#include <streamsim/reports/trace_writer.h>

#include <cstdio>

namespace streamsim::harness {

std::string to_json(const RunReport& r, const std::string& scenario_path, const std::string& replay_command) {
  using reports::json_string;
  std::string o = "{\"scenario\":";
  json_string(o, r.scenario);
  o += ",\"scenario_file\":";
  json_string(o, scenario_path);
  o += ",\"seed\":" + std::to_string(r.seed);
  o += ",\"passed\":";
  o += r.violated() ? "false" : "true";
  o += ",\"trace_hash\":\"" + Tracer::hex(r.trace_hash) + "\"";
  o += ",\"trace_events\":" + std::to_string(r.trace_events);
  o += ",\"sim_time_ns\":" + std::to_string(r.sim_time_ns);
  o += ",\"steps\":" + std::to_string(r.steps);
  o += ",\"stop\":";
  json_string(o, r.stop);
  o += ",\"faults\":";
  json_string(o, r.faults);
  o += ",\"properties\":[";
  for (size_t i = 0; i < r.properties.size(); ++i) {
    const auto& p = r.properties[i];
    o += i ? ",{" : "{";
    o += "\"name\":";
    json_string(o, p.name);
    o += ",\"held\":";
    o += p.held ? "true" : "false";
    if (!p.held) {
      o += ",\"evidence\":";
      json_string(o, p.evidence);
    }
    o += "}";
  }
  o += "],\"metrics\":{";
  for (size_t i = 0; i < r.metrics.size(); ++i) {
    if (i) o += ",";
    json_string(o, r.metrics[i].first);
    char b[64];
    std::snprintf(b, sizeof b, ":%.17g", r.metrics[i].second);
    o += b;
  }
  o += "},\"fault_log\":[";
  for (size_t i = 0; i < r.fault_log.size(); ++i) {
    if (i) o += ",";
    json_string(o, r.fault_log[i]);
  }
  o += "],\"coverage\":{";
  for (size_t i = 0; i < r.coverage.size(); ++i) {
    if (i) o += ",";
    json_string(o, r.coverage[i].first);
    o += ":" + std::to_string(r.coverage[i].second);
  }
  o += "}";
  for (const auto* list : {&r.targets_reached, &r.targets_missed}) {
    o += list == &r.targets_reached ? ",\"targets_reached\":[" : ",\"targets_missed\":[";
    for (size_t i = 0; i < list->size(); ++i) {
      if (i) o += ",";
      json_string(o, (*list)[i]);
    }
    o += "]";
  }
  if (r.violated()) {
    o += ",\"replay\":";
    json_string(o, replay_command);
  }
  o += "}\n";
  return o;
}

}  // namespace streamsim::harness
