#include <streamsim/kafka/config.h>

#include <streamsim/core/assert.h>
#include <streamsim/kafka/partitioner.h>

#include <algorithm>
#include <charconv>

namespace streamsim::kafka {

namespace {

enum class Type { string, integer, boolean, choice };
enum Scope : unsigned { P = 1, C = 2, A = 4, ALL = 7 };

struct Prop {
  const char* name;
  Type type;
  const char* def;       // librdkafka's default, as text
  int64_t min, max;      // integers
  const char* choices;   // choice: comma-separated
  unsigned scope;
  bool secret;
};

// librdkafka 2.0 names, defaults and ranges (CONFIGURATION.md). Only properties
// that the simulated client models or that must pass through to librdkafka are
// listed; anything else is rejected as unknown rather than silently ignored.
const Prop kProps[] = {
    {"bootstrap.servers", Type::string, "", 0, 0, nullptr, ALL, false},
    {"client.id", Type::string, "rdkafka", 0, 0, nullptr, ALL, false},
    {"acks", Type::integer, "-1", -1, 1000, nullptr, P, false},
    {"enable.idempotence", Type::boolean, "false", 0, 0, nullptr, P, false},
    {"transactional.id", Type::string, "", 0, 0, nullptr, P, false},
    {"transaction.timeout.ms", Type::integer, "60000", 1000, 2147483647, nullptr, P, false},
    {"max.in.flight.requests.per.connection", Type::integer, "1000000", 1, 1000000, nullptr, ALL, false},
    {"retries", Type::integer, "2147483647", 0, 2147483647, nullptr, P, false},
    {"retry.backoff.ms", Type::integer, "100", 1, 300000, nullptr, ALL, false},
    {"linger.ms", Type::integer, "5", 0, 900000, nullptr, P, false},
    {"batch.num.messages", Type::integer, "10000", 1, 1000000, nullptr, P, false},
    {"batch.size", Type::integer, "1000000", 1, 2147483647, nullptr, P, false},
    {"queue.buffering.max.messages", Type::integer, "100000", 1, 10000000, nullptr, P, false},
    {"request.timeout.ms", Type::integer, "30000", 1, 900000, nullptr, P, false},
    {"message.timeout.ms", Type::integer, "300000", 0, 2147483647, nullptr, P, false},
    {"socket.timeout.ms", Type::integer, "60000", 10, 300000, nullptr, ALL, false},
    {"partitioner", Type::choice, "consistent_random", 0, 0,
     "random,consistent,consistent_random,murmur2,murmur2_random,fnv1a,fnv1a_random", P, false},
    {"compression.type", Type::choice, "none", 0, 0, "none,gzip,snappy,lz4,zstd", P, false},
    {"group.id", Type::string, "", 0, 0, nullptr, C, false},
    {"group.instance.id", Type::string, "", 0, 0, nullptr, C, false},
    {"session.timeout.ms", Type::integer, "45000", 1, 3600000, nullptr, C, false},
    {"heartbeat.interval.ms", Type::integer, "3000", 1, 3600000, nullptr, C, false},
    {"max.poll.interval.ms", Type::integer, "300000", 1, 86400000, nullptr, C, false},
    {"partition.assignment.strategy", Type::string, "range,roundrobin", 0, 0, nullptr, C, false},
    {"auto.offset.reset", Type::choice, "largest", 0, 0, "smallest,earliest,beginning,largest,latest,end,error", C,
     false},
    {"enable.auto.commit", Type::boolean, "true", 0, 0, nullptr, C, false},
    {"auto.commit.interval.ms", Type::integer, "5000", 0, 86400000, nullptr, C, false},
    {"enable.auto.offset.store", Type::boolean, "true", 0, 0, nullptr, C, false},
    {"enable.partition.eof", Type::boolean, "false", 0, 0, nullptr, C, false},
    {"isolation.level", Type::choice, "read_committed", 0, 0, "read_committed,read_uncommitted", C, false},
    {"fetch.min.bytes", Type::integer, "1", 1, 100000000, nullptr, C, false},
    {"fetch.max.bytes", Type::integer, "52428800", 0, 2147483135, nullptr, C, false},
    {"fetch.wait.max.ms", Type::integer, "500", 0, 300000, nullptr, C, false},
    {"topic.metadata.refresh.interval.ms", Type::integer, "300000", -1, 3600000, nullptr, ALL, false},
    {"metadata.max.age.ms", Type::integer, "900000", 1, 86400000, nullptr, ALL, false},
    {"reconnect.backoff.ms", Type::integer, "100", 0, 3600000, nullptr, ALL, false},
    {"reconnect.backoff.max.ms", Type::integer, "10000", 0, 3600000, nullptr, ALL, false},
    {"statistics.interval.ms", Type::integer, "0", 0, 86400000, nullptr, ALL, false},
    {"debug", Type::string, "", 0, 0, nullptr, ALL, false},
    {"log_level", Type::integer, "6", 0, 7, nullptr, ALL, false},
    {"security.protocol", Type::choice, "plaintext", 0, 0, "plaintext,ssl,sasl_plaintext,sasl_ssl", ALL, false},
    {"sasl.mechanisms", Type::choice, "GSSAPI", 0, 0, "GSSAPI,PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER", ALL, false},
    {"sasl.username", Type::string, "", 0, 0, nullptr, ALL, false},
    {"sasl.password", Type::string, "", 0, 0, nullptr, ALL, true},
    {"sasl.oauthbearer.config", Type::string, "", 0, 0, nullptr, ALL, true},
    {"sasl.oauthbearer.client.id", Type::string, "", 0, 0, nullptr, ALL, false},
    {"sasl.oauthbearer.client.secret", Type::string, "", 0, 0, nullptr, ALL, true},
    {"sasl.oauthbearer.token.endpoint.url", Type::string, "", 0, 0, nullptr, ALL, false},
    {"ssl.ca.location", Type::string, "", 0, 0, nullptr, ALL, false},
    {"ssl.ca.pem", Type::string, "", 0, 0, nullptr, ALL, false},
    {"ssl.certificate.location", Type::string, "", 0, 0, nullptr, ALL, false},
    {"ssl.certificate.pem", Type::string, "", 0, 0, nullptr, ALL, false},
    {"ssl.key.location", Type::string, "", 0, 0, nullptr, ALL, false},
    {"ssl.key.password", Type::string, "", 0, 0, nullptr, ALL, true},
    {"ssl.key.pem", Type::string, "", 0, 0, nullptr, ALL, true},
    {"ssl.keystore.location", Type::string, "", 0, 0, nullptr, ALL, false},
    {"ssl.keystore.password", Type::string, "", 0, 0, nullptr, ALL, true},
    {"ssl.endpoint.identification.algorithm", Type::choice, "https", 0, 0, "none,https", ALL, false},
};

const std::pair<const char*, const char*> kAliases[] = {
    {"metadata.broker.list", "bootstrap.servers"},
    {"request.required.acks", "acks"},
    {"max.in.flight", "max.in.flight.requests.per.connection"},
    {"message.send.max.retries", "retries"},
    {"queue.buffering.max.ms", "linger.ms"},
    {"delivery.timeout.ms", "message.timeout.ms"},
    {"compression.codec", "compression.type"},
    {"sasl.mechanism", "sasl.mechanisms"},
};

const Prop* find_prop(std::string_view name) {
  for (const auto& p : kProps) {
    if (name == p.name) return &p;
  }
  return nullptr;
}

std::string_view canonical(std::string_view name) {
  for (const auto& [alias, real] : kAliases) {
    if (name == alias) return real;
  }
  return name;
}

bool parse_int(std::string_view v, int64_t* out) {
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), *out);
  return !v.empty() && ec == std::errc() && p == v.data() + v.size();
}

Unexpected<ConfigError> fail(ConfigErrc c, std::string property, std::string message) {
  return unexpected(ConfigError{c, std::move(property), std::move(message)});
}

// Normalises a value to the table's canonical text, or explains why it is invalid.
bool normalise(const Prop& p, std::string_view v, std::string* out, std::string* why) {
  switch (p.type) {
    case Type::string:
      *out = std::string(v);
      return true;
    case Type::boolean:
      if (v == "true" || v == "false") {
        *out = std::string(v);
        return true;
      }
      *why = "expected true or false, got '" + std::string(v) + "'";
      return false;
    case Type::integer: {
      int64_t n = 0;
      std::string_view text = v;
      // acks accepts "all" as -1, like librdkafka.
      if (std::string_view(p.name) == "acks" && v == "all") text = "-1";
      if (!parse_int(text, &n)) {
        *why = "expected an integer, got '" + std::string(v) + "'";
        return false;
      }
      if (n < p.min || n > p.max) {
        *why = "value " + std::to_string(n) + " is outside " + std::to_string(p.min) + ".." + std::to_string(p.max);
        return false;
      }
      *out = std::to_string(n);
      return true;
    }
    case Type::choice: {
      std::string_view all = p.choices;
      size_t start = 0;
      while (start <= all.size()) {
        size_t end = all.find(',', start);
        if (end == std::string_view::npos) end = all.size();
        if (all.substr(start, end - start) == v) {
          *out = std::string(v);
          return true;
        }
        start = end + 1;
      }
      *why = "expected one of " + std::string(all) + ", got '" + std::string(v) + "'";
      return false;
    }
  }
  return false;
}

}  // namespace

std::string ConfigError::format() const { return property + ": " + message; }

bool is_secret(std::string_view name) {
  const Prop* p = find_prop(canonical(name));
  if (p != nullptr) return p->secret;
  // Unknown names that look like secrets are treated as secrets too.
  return name.find("password") != std::string_view::npos || name.find("secret") != std::string_view::npos ||
         name.find("key.pem") != std::string_view::npos;
}

std::string redact(std::string_view name, std::string_view value) {
  return is_secret(name) ? "[redacted]" : std::string(value);
}

Result<Config, ConfigError> Config::make(Role role, const std::vector<std::pair<std::string, std::string>>& props) {
  Config c;
  c.role_ = role;
  const unsigned role_bit = role == Role::producer ? P : role == Role::consumer ? C : A;
  for (const auto& [given, value] : props) {
    std::string_view name = canonical(given);
    const Prop* p = find_prop(name);
    if (p == nullptr) {
      return fail(ConfigErrc::unknown_property, given, "unknown configuration property");
    }
    std::string norm, why;
    if (!normalise(*p, value, &norm, &why)) {
      // Never echo a secret back, even a malformed one.
      if (p->secret) why = "invalid value";
      return fail(ConfigErrc::invalid_value, p->name, why);
    }
    c.set_[p->name] = norm;
    if ((p->scope & role_bit) == 0 && role != Role::admin) {
      c.warnings_.push_back(std::string(p->name) + " is a " + ((p->scope & P) ? "producer" : "consumer") +
                            " property and is ignored by this client");
    }
  }
  for (const auto& p : kProps) c.values_[p.name] = p.def;
  for (const auto& [k, v] : c.set_) c.values_[k] = v;

  // transactional.id implies idempotence (librdkafka turns it on); an explicit
  // false contradicts it.
  if (!c.str("transactional.id").empty()) {
    if (c.is_set("enable.idempotence") && !c.flag("enable.idempotence")) {
      return fail(ConfigErrc::forbidden_combination, "enable.idempotence",
                  "must not be false when transactional.id is set (transactions need idempotence)");
    }
    c.values_["enable.idempotence"] = "true";
  }
  if (role == Role::producer && c.flag("enable.idempotence")) {
    if (c.is_set("acks") && c.num("acks") != -1) {
      return fail(ConfigErrc::forbidden_combination, "acks", "must be all (-1) when enable.idempotence is true");
    }
    if (c.num("max.in.flight.requests.per.connection") > 5) {
      if (c.is_set("max.in.flight.requests.per.connection")) {
        return fail(ConfigErrc::forbidden_combination, "max.in.flight.requests.per.connection",
                    "must be at most 5 when enable.idempotence is true");
      }
      c.values_["max.in.flight.requests.per.connection"] = "5";
    }
    if (c.is_set("retries") && c.num("retries") == 0) {
      return fail(ConfigErrc::forbidden_combination, "retries", "must be at least 1 when enable.idempotence is true");
    }
  }
  if (role == Role::producer && c.num("message.timeout.ms") != 0 && c.num("message.timeout.ms") <= c.num("linger.ms")) {
    return fail(ConfigErrc::forbidden_combination, "message.timeout.ms", "must be greater than linger.ms");
  }
  if (role == Role::consumer && c.num("heartbeat.interval.ms") >= c.num("session.timeout.ms")) {
    return fail(ConfigErrc::forbidden_combination, "heartbeat.interval.ms", "must be lower than session.timeout.ms");
  }
  if (role == Role::producer && c.transactional() &&
      c.num("transaction.timeout.ms") < c.num("message.timeout.ms") && c.is_set("message.timeout.ms")) {
    // librdkafka lowers message.timeout.ms to transaction.timeout.ms when unset; an
    // explicit larger value would let a message outlive its transaction.
    return fail(ConfigErrc::forbidden_combination, "message.timeout.ms",
                "must not exceed transaction.timeout.ms for a transactional producer");
  }
  if (role == Role::producer && c.transactional() && !c.is_set("message.timeout.ms") &&
      c.num("message.timeout.ms") > c.num("transaction.timeout.ms")) {
    c.values_["message.timeout.ms"] = c.str("transaction.timeout.ms");  // as librdkafka adjusts it
  }
  SS_ASSERT(parse_partitioner(c.str("partitioner")).has_value(), "partitioner table and parser disagree");
  return c;
}

const std::string& Config::str(std::string_view name) const {
  auto it = values_.find(std::string(name));
  SS_ASSERT(it != values_.end(), "Config::str of a property not in the table");
  return it->second;
}

int64_t Config::num(std::string_view name) const {
  int64_t n = 0;
  bool ok = parse_int(str(name), &n);
  SS_ASSERT(ok, "Config::num of a non-integer property");
  return n;
}

bool Config::flag(std::string_view name) const {
  const std::string& v = str(name);
  SS_ASSERT(v == "true" || v == "false", "Config::flag of a non-boolean property");
  return v == "true";
}

bool Config::is_set(std::string_view name) const { return set_.count(std::string(name)) != 0; }

std::string Config::describe() const {
  std::string out;
  for (const auto& [k, v] : set_) {
    if (!out.empty()) out += ", ";
    out += k + "=" + redact(k, v);
  }
  return out;
}

}  // namespace streamsim::kafka
