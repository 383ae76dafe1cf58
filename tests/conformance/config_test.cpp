// Conformance: every configuration streamsim rejects as a forbidden combination,
// librdkafka rejects too (rd_kafka_new fails), and the accepted ones it accepts,
// so a scenario's client settings cannot pass in simulation and fail live.
#include <catch2/catch.hpp>

#include <streamsim/kafka/config.h>

#include <librdkafka/rdkafka.h>

using namespace streamsim::kafka;
using Props = std::vector<std::pair<std::string, std::string>>;

namespace {

bool librdkafka_accepts(rd_kafka_type_t type, const Props& props, std::string* why) {
  char err[512] = {0};
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [k, v] : props) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      *why = err;
      rd_kafka_conf_destroy(conf);
      return false;
    }
  }
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (rk == nullptr) {
    // rd_kafka_new takes the configuration only when it succeeds.
    rd_kafka_conf_destroy(conf);
    *why = err;
    return false;
  }
  rd_kafka_destroy(rk);
  return true;
}

}  // namespace

TEST_CASE("conformance: config validation agrees with librdkafka", "[conformance]") {
  struct Case {
    Role role;
    Props props;
  };
  const std::vector<Case> cases = {
      {Role::producer, {{"enable.idempotence", "true"}, {"acks", "1"}}},
      {Role::producer, {{"enable.idempotence", "true"}, {"max.in.flight.requests.per.connection", "6"}}},
      {Role::producer, {{"enable.idempotence", "true"}, {"retries", "0"}}},
      {Role::producer, {{"linger.ms", "1000"}, {"message.timeout.ms", "500"}}},
      {Role::producer, {{"transactional.id", "t"}, {"acks", "0"}}},
      {Role::producer, {{"linger.ms", "-1"}}},
      {Role::producer, {{"acks", "all"}, {"enable.idempotence", "true"}}},
      {Role::producer, {{"transactional.id", "t"}}},
      {Role::producer, {{"partitioner", "murmur2_random"}, {"linger.ms", "0"}}},
      {Role::consumer, {{"group.id", "g"}, {"isolation.level", "read_uncommitted"}}},
      {Role::consumer, {{"group.id", "g"}, {"auto.offset.reset", "earliest"}}},
      {Role::consumer, {{"group.id", "g"}, {"auto.offset.reset", "sometimes"}}},
      {Role::consumer, {{"group.id", "g"}, {"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "2000"}}},
  };
  for (const auto& c : cases) {
    std::string props_text;
    for (const auto& [k, v] : c.props) props_text += k + "=" + v + " ";
    INFO(props_text);
    auto ours = Config::make(c.role, c.props);
    std::string why;
    bool theirs = librdkafka_accepts(c.role == Role::consumer ? RD_KAFKA_CONSUMER : RD_KAFKA_PRODUCER, c.props, &why);
    INFO("librdkafka: " << why << " / streamsim: " << (ours.ok() ? std::string("ok") : ours.error().format()));
    CHECK(ours.ok() == theirs);
  }
}
