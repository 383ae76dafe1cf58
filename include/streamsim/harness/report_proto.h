// Converts a run's result into the report data model (proto/report.proto),
// which reports/ renders as JSON, JUnit XML and HTML. The harness depends on
// reports/, never the other way round: this is the only place that knows both
// RunReport and the report messages.
#pragma once

#include <streamsim/harness/runner.h>
#include <streamsim/proto/report.pb.h>
#include <streamsim/proto/scenario.pb.h>

#include <string>

namespace streamsim::harness {

// Every field of the report, the timeline included. The scenario's Kafka client
// configurations are rendered through kafka::Config::describe(), which redacts
// secrets (sasl.password, ssl.key.password, ...): no secret reaches a report.
proto::RunSummary to_summary(const RunReport& r, const proto::Scenario& scenario, const std::string& scenario_path,
                             const std::string& replay_command, double wall_s);

// The scenario's Kafka client configurations, one line per client role
// ("producer: acks=all, enable.idempotence=true"), secrets redacted.
std::vector<std::string> describe_client_config(const proto::Scenario& scenario);

}  // namespace streamsim::harness
