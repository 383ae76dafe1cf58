// Expected failures of the engine, as values (Result<T, EngineError>).
#pragma once

#include <string>

namespace streamsim::engine {

enum class EngineErrc {
  // Pipeline registry (registry.h).
  unknown_pipeline = 1,
  unknown_parameter,
  missing_parameter,
  invalid_parameter,
  // Pipeline construction (pipeline.h): an invalid combination of operators,
  // such as an output mode that Spark's rules forbid.
  invalid_pipeline,
  // Execution (query.h).
  bad_record,     // dead-letter policy is `fail` and a record could not be used
  state_limit,    // a task's state would exceed EngineLimits::max_state_entries
  batch_limit,    // a micro-batch exceeds EngineLimits::max_records_per_batch
  unknown_partition,  // a batch names a partition this query does not own
  bad_checkpoint,     // changelog entries that do not decode
  query_failed,       // an earlier batch failed; restore from the last checkpoint
  // The Kafka wiring (instance.h).
  invalid_config,  // an InstanceConfig field or client property the instance refuses
  kafka_error,     // Kafka kept failing where the instance cannot go on (field: the call)
};
const char* to_string(EngineErrc e);

struct EngineError {
  EngineErrc code = EngineErrc::invalid_pipeline;
  // What the error is about: a dotted field ("params.window", "output_mode"), or
  // an input record ("clicks[0]@17").
  std::string field;
  std::string message;
  // "field: message"
  std::string format() const { return field.empty() ? message : field + ": " + message; }
};

}  // namespace streamsim::engine
