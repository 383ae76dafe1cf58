// librdkafka's in-process mock cluster, driven through the real librdkafka C++
// client: the foundation for the live mode and the conformance suite.
#include <catch2/catch.hpp>

#include <streamsim/live/mock_cluster.h>

#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>

using namespace streamsim;

namespace {

std::unique_ptr<RdKafka::Conf> conf(const std::map<std::string, std::string>& kv) {
  std::unique_ptr<RdKafka::Conf> c(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  for (const auto& [k, v] : kv) {
    INFO(k << "=" << v);
    REQUIRE(c->set(k, v, err) == RdKafka::Conf::CONF_OK);
  }
  return c;
}

}  // namespace

TEST_CASE("mock cluster: produce and consume through librdkafka", "[live]") {
  std::string err;
  auto started = live::MockCluster::start(3, &err);
  INFO(err);
  REQUIRE(started.ok());
  std::unique_ptr<live::MockCluster> mc(*started);
  REQUIRE(!mc->bootstraps().empty());
  REQUIRE(mc->create_topic("clicks", 4, 3).ok());

  auto pconf = conf({{"bootstrap.servers", mc->bootstraps()}, {"enable.idempotence", "true"}, {"acks", "all"},
                     {"linger.ms", "5"}, {"message.timeout.ms", "20000"}});
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(pconf.get(), err));
  INFO(err);
  REQUIRE(producer != nullptr);
  const int n = 200;
  for (int i = 0; i < n; ++i) {
    std::string key = "user-" + std::to_string(i % 17), value = "click-" + std::to_string(i);
    RdKafka::ErrorCode rc = producer->produce("clicks", RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                                              value.data(), value.size(), key.data(), key.size(), 0, nullptr);
    REQUIRE(rc == RdKafka::ERR_NO_ERROR);
    producer->poll(0);
  }
  REQUIRE(producer->flush(30'000) == RdKafka::ERR_NO_ERROR);
  REQUIRE(producer->outq_len() == 0);

  auto cconf = conf({{"bootstrap.servers", mc->bootstraps()}, {"group.id", "streamsim-test"},
                     {"enable.auto.commit", "false"}, {"auto.offset.reset", "earliest"}});
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(cconf.get(), err));
  INFO(err);
  REQUIRE(consumer != nullptr);
  std::vector<RdKafka::TopicPartition*> parts;
  for (int p = 0; p < 4; ++p) parts.push_back(RdKafka::TopicPartition::create("clicks", p, RdKafka::Topic::OFFSET_BEGINNING));
  REQUIRE(consumer->assign(parts) == RdKafka::ERR_NO_ERROR);
  RdKafka::TopicPartition::destroy(parts);

  std::set<std::string> seen;
  // Bounded wait: the test fails rather than hangs if the mock misbehaves.
  for (int polls = 0; polls < 300 && seen.size() < static_cast<size_t>(n); ++polls) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(100));
    if (m->err() == RdKafka::ERR_NO_ERROR) seen.insert(std::string(static_cast<const char*>(m->payload()), m->len()));
  }
  consumer->close();
  REQUIRE(seen.size() == static_cast<size_t>(n));
}
