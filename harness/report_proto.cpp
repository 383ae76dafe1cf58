#include <streamsim/harness/report_proto.h>

#include <streamsim/core/trace.h>
#include <streamsim/kafka/config.h>

namespace streamsim::harness {

namespace {

void describe_into(std::vector<std::string>& out, const std::string& label, kafka::Role role,
                   const google::protobuf::RepeatedPtrField<proto::Property>& props) {
  if (props.empty()) return;
  std::vector<std::pair<std::string, std::string>> kv;
  for (const auto& p : props) kv.emplace_back(p.key(), p.value());
  auto cfg = kafka::Config::make(role, kv);
  // An invalid configuration was refused by the loader; should one get here,
  // its values (possibly secrets) are not printed.
  out.push_back(label + ": " + (cfg.ok() ? cfg->describe() : std::string("(invalid configuration, not shown)")));
}

}  // namespace

std::vector<std::string> describe_client_config(const proto::Scenario& s) {
  std::vector<std::string> out;
  if (s.has_kafka()) {
    describe_into(out, "producer", kafka::Role::producer, s.kafka().producer_config());
    describe_into(out, "consumer", kafka::Role::consumer, s.kafka().consumer_config());
  }
  if (s.has_pipeline()) describe_into(out, "input producer", kafka::Role::producer, s.pipeline().input().producer_config());
  return out;
}

proto::RunSummary to_summary(const RunReport& r, const proto::Scenario& scenario, const std::string& scenario_path,
                             const std::string& replay_command, double wall_s) {
  proto::RunSummary o;
  o.set_scenario(r.scenario);
  o.set_scenario_file(scenario_path);
  o.set_seed(r.seed);
  o.set_passed(!r.violated());
  o.set_expect_violation(r.expect_violation);
  o.set_trace_hash(Tracer::hex(r.trace_hash));
  o.set_trace_events(r.trace_events);
  o.set_sim_time_ns(r.sim_time_ns);
  o.set_steps(r.steps);
  o.set_stop(r.stop);
  o.set_faults(r.faults);
  for (const auto& f : r.fault_log) o.add_fault_log(f);
  for (const auto& p : r.properties) {
    auto* q = o.add_properties();
    q->set_name(p.name);
    q->set_held(p.held);
    if (!p.held) q->set_evidence(p.evidence);
  }
  for (const auto& [name, value] : r.metrics) {
    auto* m = o.add_metrics();
    m->set_name(name);
    m->set_value(value);
  }
  for (const auto& [name, hits] : r.coverage) {
    auto* c = o.add_coverage();
    c->set_name(name);
    c->set_hits(hits);
  }
  for (const auto& t : r.targets_reached) o.add_targets_reached(t);
  for (const auto& t : r.targets_missed) o.add_targets_missed(t);
  o.set_replay(replay_command);
  *o.mutable_timeline() = r.timeline;
  for (auto& c : describe_client_config(scenario)) o.add_client_config(std::move(c));
  o.set_wall_s(wall_s);
  return o;
}

}  // namespace streamsim::harness
