// The workload registry: scenario workload field -> workload object.
#include <streamsim/scenarios/counter.h>
#include <streamsim/scenarios/kafka_jepsen.h>
#include <streamsim/scenarios/pipeline.h>
#include <streamsim/scenarios/scenario.h>

namespace streamsim::scenarios {

std::unique_ptr<Workload> make_workload(const proto::Scenario& s) {
  switch (s.workload_case()) {
    case proto::Scenario::kCounter: return std::make_unique<CounterWorkload>(s.counter());
    case proto::Scenario::kKafka: return std::make_unique<KafkaJepsenWorkload>(s.kafka());
    case proto::Scenario::kPipeline: return std::make_unique<PipelineWorkload>(s.pipeline(), s.run());
    case proto::Scenario::WORKLOAD_NOT_SET: break;
  }
  return nullptr;
}

}  // namespace streamsim::scenarios
