// Kafka client configuration as librdkafka properties.
//
// The same property names and values configure the simulated client and the
// librdkafka adapter, so a scenario's client settings mean the same thing in both
// worlds. Validation follows librdkafka: an unknown property, a value of the wrong
// type or out of range, or a forbidden combination (idempotence with acks other
// than all, more than 5 in-flight requests with idempotence, message.timeout.ms
// not above linger.ms, ...) is a ConfigError naming the property. Aliases
// (acks = request.required.acks, linger.ms = queue.buffering.max.ms, ...) resolve
// to one canonical name.
//
// Secrets (sasl.password, ssl.key.password, ssl.key.pem, ...) are kept for the
// librdkafka adapter but never printed: describe() redacts them.
#pragma once

#include <streamsim/core/result.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace streamsim::kafka {

enum class ConfigErrc { unknown_property = 1, invalid_value, forbidden_combination };

struct ConfigError {
  ConfigErrc code = ConfigErrc::invalid_value;
  std::string property;  // canonical name (or the unknown name as given)
  std::string message;
  // "property: message"
  std::string format() const;
};

enum class Role { producer, consumer, admin };

// True for properties whose values must never appear in logs, traces or reports.
bool is_secret(std::string_view name);
// Replaces the value of every secret property in a "k=v" text with [redacted].
std::string redact(std::string_view name, std::string_view value);

class Config {
 public:
  // Validates props (in order; a later value for the same property wins).
  static Result<Config, ConfigError> make(Role role, const std::vector<std::pair<std::string, std::string>>& props);

  Role role() const { return role_; }
  // Typed access by canonical name; the librdkafka default when not set.
  // Precondition: the property exists in the table and has that type.
  const std::string& str(std::string_view name) const;
  int64_t num(std::string_view name) const;
  bool flag(std::string_view name) const;
  bool is_set(std::string_view name) const;

  // acks as a number: -1 for all.
  int acks() const { return static_cast<int>(num("acks")); }
  bool idempotent() const { return flag("enable.idempotence"); }
  bool transactional() const { return !str("transactional.id").empty(); }

  // Explicitly set properties, canonical name -> value (for the librdkafka adapter).
  const std::map<std::string, std::string>& explicit_values() const { return set_; }
  // "name=value, ..." of the explicit properties, secrets redacted.
  std::string describe() const;
  // Properties accepted but irrelevant to this role (librdkafka warns likewise).
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  Role role_ = Role::producer;
  std::map<std::string, std::string> set_;     // explicit, canonical, normalised
  std::map<std::string, std::string> values_;  // every property: explicit or default
  std::vector<std::string> warnings_;
};

}  // namespace streamsim::kafka
