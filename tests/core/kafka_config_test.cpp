#include <catch2/catch.hpp>

#include <streamsim/kafka/config.h>

using namespace streamsim::kafka;
using Props = std::vector<std::pair<std::string, std::string>>;

TEST_CASE("kafka config: defaults, aliases and typed access", "[kafka][config]") {
  auto c = Config::make(Role::producer, {{"bootstrap.servers", "b:9092"}, {"request.required.acks", "all"},
                                         {"queue.buffering.max.ms", "20"}});
  REQUIRE(c.ok());
  CHECK(c->acks() == -1);
  CHECK(c->num("linger.ms") == 20);
  CHECK(c->str("partitioner") == "consistent_random");
  CHECK(c->num("retries") == 2147483647);
  CHECK_FALSE(c->idempotent());
  CHECK(c->is_set("acks"));
  CHECK_FALSE(c->is_set("retries"));
  CHECK(c->describe() == "acks=-1, bootstrap.servers=b:9092, linger.ms=20");
}

TEST_CASE("kafka config: unknown and invalid properties name the property", "[kafka][config]") {
  auto u = Config::make(Role::producer, {{"bootstrap.server", "x"}});
  REQUIRE_FALSE(u.ok());
  CHECK(u.error().code == ConfigErrc::unknown_property);
  CHECK(u.error().property == "bootstrap.server");

  auto t = Config::make(Role::producer, {{"linger.ms", "soon"}});
  REQUIRE_FALSE(t.ok());
  CHECK(t.error().code == ConfigErrc::invalid_value);
  CHECK(t.error().format() == "linger.ms: expected an integer, got 'soon'");

  auto r = Config::make(Role::consumer, {{"session.timeout.ms", "0"}});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().property == "session.timeout.ms");

  auto e = Config::make(Role::consumer, {{"isolation.level", "read_dirty"}});
  REQUIRE_FALSE(e.ok());
  CHECK(e.error().message.find("read_committed") != std::string::npos);

  auto b = Config::make(Role::producer, {{"enable.idempotence", "yes"}});
  REQUIRE_FALSE(b.ok());
  CHECK(b.error().property == "enable.idempotence");
}

TEST_CASE("kafka config: forbidden combinations", "[kafka][config]") {
  struct Case {
    Props props;
    std::string property;
  };
  const std::vector<Case> cases = {
      {{{"enable.idempotence", "true"}, {"acks", "1"}}, "acks"},
      {{{"enable.idempotence", "true"}, {"max.in.flight.requests.per.connection", "6"}},
       "max.in.flight.requests.per.connection"},
      {{{"enable.idempotence", "true"}, {"retries", "0"}}, "retries"},
      {{{"transactional.id", "t"}, {"enable.idempotence", "false"}}, "enable.idempotence"},
      {{{"transactional.id", "t"}, {"acks", "0"}}, "acks"},
      {{{"linger.ms", "1000"}, {"message.timeout.ms", "500"}}, "message.timeout.ms"},
  };
  for (const auto& c : cases) {
    auto r = Config::make(Role::producer, c.props);
    INFO(c.property);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ConfigErrc::forbidden_combination);
    CHECK(r.error().property == c.property);
  }
  auto hb = Config::make(Role::consumer, {{"session.timeout.ms", "3000"}, {"heartbeat.interval.ms", "3000"}});
  REQUIRE_FALSE(hb.ok());
  CHECK(hb.error().property == "heartbeat.interval.ms");
}

TEST_CASE("kafka config: transactional.id implies idempotence like librdkafka", "[kafka][config]") {
  auto c = Config::make(Role::producer, {{"transactional.id", "engine-0"}});
  REQUIRE(c.ok());
  CHECK(c->idempotent());
  CHECK(c->transactional());
  CHECK(c->num("max.in.flight.requests.per.connection") == 5);
  CHECK(c->num("message.timeout.ms") == c->num("transaction.timeout.ms"));
}

TEST_CASE("kafka config: secrets never appear in descriptions or errors", "[kafka][config][secrets]") {
  auto c = Config::make(Role::consumer, {{"sasl.password", "hunter2"}, {"sasl.username", "alice"},
                                         {"ssl.key.password", "s3cret"}, {"security.protocol", "sasl_ssl"}});
  REQUIRE(c.ok());
  std::string d = c->describe();
  CHECK(d.find("hunter2") == std::string::npos);
  CHECK(d.find("s3cret") == std::string::npos);
  CHECK(d.find("sasl.password=[redacted]") != std::string::npos);
  CHECK(d.find("sasl.username=alice") != std::string::npos);
  // The value is still there for the librdkafka adapter.
  CHECK(c->explicit_values().at("sasl.password") == "hunter2");
  CHECK(is_secret("ssl.key.pem"));
  CHECK(is_secret("sasl.oauthbearer.client.secret"));
  CHECK_FALSE(is_secret("bootstrap.servers"));
  CHECK(redact("sasl.password", "x") == "[redacted]");
}

TEST_CASE("kafka config: role-irrelevant properties are accepted with a warning", "[kafka][config]") {
  auto c = Config::make(Role::consumer, {{"acks", "all"}});
  REQUIRE(c.ok());
  REQUIRE(c->warnings().size() == 1);
  CHECK(c->warnings()[0].find("acks") != std::string::npos);
}
