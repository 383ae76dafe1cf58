// Scenario parsing and validation with file:line:column diagnostics.
#include <streamsim/scenarios/scenario.h>

#include <streamsim/core/assert.h>
#include <streamsim/kafka/config.h>

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <set>

namespace streamsim::scenarios {

namespace pb = google::protobuf;

std::string ScenarioError::format() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
  out += ": error: ";
  if (!field.empty()) out += field + ": ";
  out += message;
  return out;
}

namespace {

// Collects the first syntax error reported by the text-format parser.
class FirstError final : public pb::io::ErrorCollector {
 public:
  void AddError(int line, pb::io::ColumnNumber column, const std::string& message) override {
    if (have) return;
    have = true;
    this->line = line + 1;
    this->column = column + 1;
    this->message = message;
  }
  void AddWarning(int, pb::io::ColumnNumber, const std::string&) override {}
  bool have = false;
  int line = 0, column = 0;
  std::string message;
};

// Semantic checks, each reported at the offending field's position.
class Validator {
 public:
  Validator(const std::string& file, const pb::TextFormat::ParseInfoTree* root) : file_(file), root_(root) {}

  // Checks `ok`; on failure records an error at field `name` of message `m`
  // (located through `tree`, the parse tree of m). Returns ok.
  bool check(bool ok, const pb::Message& m, const pb::TextFormat::ParseInfoTree* tree, const std::string& path,
             const char* name, const std::string& message, int index = -1) {
    if (ok || have_) return ok;
    have_ = true;
    err_.file = file_;
    err_.field = path.empty() ? name : path + "." + name;
    err_.message = message;
    const pb::FieldDescriptor* fd = m.GetDescriptor()->FindFieldByName(name);
    SS_ASSERT(fd != nullptr, "validator names a field the schema does not have");
    if (tree != nullptr) {
      pb::TextFormat::ParseLocation loc = tree->GetLocation(fd, index);
      // A list written as `f: [a, b]` is recorded once, at its first element:
      // fall back to the nearest earlier element that has a position.
      for (int i = index - 1; loc.line < 0 && i >= 0; --i) loc = tree->GetLocation(fd, i);
      if (loc.line >= 0) {
        err_.line = loc.line + 1;
        err_.column = loc.column + 1;
      }
    }
    if (err_.line == 0) {
      // The field was omitted: point at the enclosing message instead.
      err_.line = fallback_line_;
      err_.column = fallback_col_;
    }
    return false;
  }
  const pb::TextFormat::ParseInfoTree* nested(const pb::TextFormat::ParseInfoTree* tree, const pb::Message& m,
                                              const char* name, int index = -1) {
    if (tree == nullptr) return nullptr;
    const pb::FieldDescriptor* fd = m.GetDescriptor()->FindFieldByName(name);
    SS_ASSERT(fd != nullptr, "validator names a field the schema does not have");
    pb::TextFormat::ParseLocation loc = tree->GetLocation(fd, index);
    if (loc.line >= 0) {
      fallback_line_ = loc.line + 1;
      fallback_col_ = loc.column + 1;
    }
    return tree->GetTreeForNested(fd, index);
  }
  void set_fallback(int line, int col) {
    fallback_line_ = line;
    fallback_col_ = col;
  }
  bool failed() const { return have_; }
  const ScenarioError& error() const { return err_; }
  const pb::TextFormat::ParseInfoTree* root() const { return root_; }

 private:
  std::string file_;
  const pb::TextFormat::ParseInfoTree* root_;
  bool have_ = false;
  ScenarioError err_;
  int fallback_line_ = 1, fallback_col_ = 1;
};

bool in_unit(double p) { return p >= 0.0 && p <= 1.0; }

void validate_counter(Validator& v, const proto::Scenario& s, const pb::TextFormat::ParseInfoTree* st) {
  const auto& c = s.counter();
  auto* t = v.nested(st, s, "counter");
  v.check(c.replicas() <= 9, c, t, "counter", "replicas", "must be between 1 and 9 (0 means the default, 3)");
  v.check(c.clients() <= 64, c, t, "counter", "clients", "must be between 1 and 64 (0 means the default, 3)");
  v.check(c.request_interval_ms() <= 60'000, c, t, "counter", "request_interval_ms", "must be at most 60000");
  v.check(c.request_timeout_ms() <= 60'000, c, t, "counter", "request_timeout_ms", "must be at most 60000");
}

void validate_fault_fields(Validator& v, const proto::ScriptedFault& f, const pb::TextFormat::ParseInfoTree* t,
                           const std::string& path, const std::set<std::string>& nodes) {
  v.check(f.kind() != proto::FAULT_UNSPECIFIED, f, t, path, "kind", "a scripted fault needs a kind");
  v.check(in_unit(f.probability()), f, t, path, "probability", "must be within [0, 1]");
  v.check(f.factor() <= 1000, f, t, path, "factor", "must be at most 1000");
  v.check(f.duration_ms() <= 24 * 3600 * 1000ULL, f, t, path, "duration_ms", "must be at most one day");
  for (int i = 0; i < f.nodes_size(); ++i) {
    v.check(nodes.count(f.nodes(i)) != 0, f, t, path, "nodes",
            "unknown node '" + f.nodes(i) + "' (this workload has: " + [&] {
              std::string all;
              for (auto& n : nodes) all += (all.empty() ? "" : ", ") + n;
              return all;
            }() + ")",
            i);
  }
}

void validate_kafka(Validator& v, const proto::Scenario& s, const pb::TextFormat::ParseInfoTree* st) {
  const auto& k = s.kafka();
  auto* t = v.nested(st, s, "kafka");
  v.check(k.brokers() <= 16, k, t, "kafka", "brokers", "must be between 1 and 16 (0 means the default, 3)");
  v.check(k.controllers() <= 9, k, t, "kafka", "controllers", "must be between 1 and 9 (0 means the default, 3)");
  v.check(k.producers() <= 32, k, t, "kafka", "producers", "must be at most 32");
  v.check(k.consumers() <= 32, k, t, "kafka", "consumers", "must be at most 32");
  const uint32_t brokers = k.brokers() ? k.brokers() : 3;
  for (int i = 0; i < k.topics_size(); ++i) {
    const auto& topic = k.topics(i);
    auto* tt = v.nested(t, k, "topics", i);
    std::string path = "kafka.topics[" + std::to_string(i) + "]";
    v.check(!topic.name().empty(), topic, tt, path, "name", "a topic needs a name");
    v.check(topic.partitions() <= 256, topic, tt, path, "partitions", "must be at most 256");
    uint32_t rf = topic.replication() ? topic.replication() : 3;
    v.check(rf <= brokers, topic, tt, path, "replication", "exceeds the number of brokers (" + std::to_string(brokers) + ")");
    v.check(topic.min_insync_replicas() <= rf, topic, tt, path, "min_insync_replicas", "exceeds the replication factor");
  }
  // Client properties are librdkafka's: the same validation as the clients use.
  for (const char* field : {"producer_config", "consumer_config"}) {
    const bool producer = std::string(field) == "producer_config";
    const auto& props = producer ? k.producer_config() : k.consumer_config();
    std::vector<std::pair<std::string, std::string>> kv = {{"bootstrap.servers", "broker-0"}};
    for (const auto& p : props) kv.push_back({p.key(), p.value()});
    auto r = streamsim::kafka::Config::make(producer ? streamsim::kafka::Role::producer : streamsim::kafka::Role::consumer, kv);
    if (!r.ok()) {
      int index = 0;
      for (int i = 0; i < props.size(); ++i) {
        if (props[i].key() == r.error().property) index = i;
      }
      v.check(false, k, t, "kafka", field, r.error().format(), index);
    }
  }
}

std::set<std::string> workload_nodes(const proto::Scenario& s) {
  std::set<std::string> out;
  if (s.has_counter()) {
    uint32_t r = s.counter().replicas() ? s.counter().replicas() : 3;
    for (uint32_t i = 0; i < r; ++i) out.insert("r" + std::to_string(i));
    uint32_t c = s.counter().clients() ? s.counter().clients() : 3;
    for (uint32_t i = 0; i < c; ++i) out.insert("client" + std::to_string(i));
  }
  if (s.has_kafka()) {
    uint32_t b = s.kafka().brokers() ? s.kafka().brokers() : 3;
    for (uint32_t i = 0; i < b; ++i) out.insert("broker-" + std::to_string(i));
    uint32_t c = s.kafka().controllers() ? s.kafka().controllers() : 3;
    for (uint32_t i = 0; i < c; ++i) out.insert("controller-" + std::to_string(i));
  }
  return out;
}

void validate(Validator& v, const proto::Scenario& s) {
  auto* root = v.root();
  v.check(!s.name().empty(), s, root, "", "name", "every scenario needs a name");
  v.check(s.workload_case() != proto::Scenario::WORKLOAD_NOT_SET, s, root, "", "counter",
          "no workload: set one of the workload fields (counter, kafka)");
  if (s.has_run()) {
    const auto& r = s.run();
    auto* t = v.nested(root, s, "run");
    v.check(r.safety_ms() <= 24 * 3600 * 1000ULL, r, t, "run", "safety_ms", "must be at most one day");
    v.check(r.liveness_ms() <= 24 * 3600 * 1000ULL, r, t, "run", "liveness_ms", "must be at most one day");
    v.check(r.max_sim_time_ms() == 0 || r.max_sim_time_ms() >= r.safety_ms() + r.liveness_ms(), r, t, "run",
            "max_sim_time_ms", "must cover safety_ms + liveness_ms");
  }
  if (s.has_network()) {
    const auto& n = s.network();
    auto* t = v.nested(root, s, "network");
    v.check(n.latency_sigma() >= 0 && n.latency_sigma() <= 5, n, t, "network", "latency_sigma", "must be within [0, 5]");
    v.check(n.latency_max_us() == 0 || n.latency_max_us() >= n.latency_min_us(), n, t, "network", "latency_max_us",
            "must not be below latency_min_us");
    v.check(n.latency_median_us() <= 10'000'000, n, t, "network", "latency_median_us", "must be at most 10 s");
  }
  if (s.has_disk()) {
    const auto& d = s.disk();
    auto* t = v.nested(root, s, "disk");
    v.check(in_unit(d.torn_write_probability()), d, t, "disk", "torn_write_probability", "must be within [0, 1]");
    v.check(in_unit(d.bit_flip_probability()), d, t, "disk", "bit_flip_probability", "must be within [0, 1]");
  }
  if (s.has_counter()) validate_counter(v, s, root);
  if (s.has_kafka()) validate_kafka(v, s, root);
  std::set<std::string> nodes = workload_nodes(s);
  if (s.has_faults()) {
    const auto& f = s.faults();
    auto* ft = v.nested(root, s, "faults");
    for (int i = 0; i < f.scripted_size(); ++i) {
      auto* t = v.nested(ft, f, "scripted", i);
      validate_fault_fields(v, f.scripted(i), t, "faults.scripted[" + std::to_string(i) + "]", nodes);
    }
    if (f.has_random()) {
      const auto& r = f.random();
      auto* t = v.nested(ft, f, "random");
      for (int i = 0; i < r.kinds_size(); ++i) {
        v.check(r.kinds(i) != proto::FAULT_UNSPECIFIED, r, t, "faults.random", "kinds", "FAULT_UNSPECIFIED is not a fault", i);
      }
      v.check(r.kinds_size() == 0 || r.mean_interval_ms() > 0, r, t, "faults.random", "mean_interval_ms",
              "must be positive when kinds are given");
      v.check(r.max_duration_ms() >= r.min_duration_ms(), r, t, "faults.random", "max_duration_ms",
              "must not be below min_duration_ms");
      v.check(r.max_concurrent() <= 16, r, t, "faults.random", "max_concurrent", "must be at most 16");
    }
  }
  if (s.has_expect()) {
    const auto& e = s.expect();
    auto* t = v.nested(root, s, "expect");
    std::vector<std::string> known = known_properties(s);
    auto is_known = [&](const std::string& p) { return std::find(known.begin(), known.end(), p) != known.end(); };
    std::string list;
    for (auto& k : known) list += (list.empty() ? "" : ", ") + k;
    for (int i = 0; i < e.properties_size(); ++i) {
      v.check(is_known(e.properties(i)), e, t, "expect", "properties",
              "unknown property '" + e.properties(i) + "' (known: " + list + ")", i);
    }
    v.check(e.expect_violation().empty() || is_known(e.expect_violation()), e, t, "expect", "expect_violation",
            "unknown property '" + e.expect_violation() + "' (known: " + list + ")");
  }
}

}  // namespace

std::vector<std::string> known_properties(const proto::Scenario& s) {
  // Kernel-level properties apply to every workload.
  std::vector<std::string> out;
  if (s.has_counter()) {
    out = {"acked_durable", "no_duplicates", "replicas_agree", "values_consistent", "liveness"};
  }
  if (s.has_kafka()) {
    out = {"lost_writes",      "no_duplicates",    "no_poll_skips", "monotonic_sends",
           "monotonic_polls",  "no_aborted_reads", "one_owner_per_generation", "liveness"};
  }
  out.push_back("no_task_failure");
  out.push_back("within_limits");
  return out;
}

bool parse_scenario(const std::string& text, const std::string& file, proto::Scenario* out, ScenarioError* err) {
  SS_ASSERT(out != nullptr && err != nullptr, "parse_scenario needs output pointers");
  pb::TextFormat::Parser parser;
  FirstError errors;
  pb::TextFormat::ParseInfoTree tree;
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(&tree);
  parser.AllowPartialMessage(false);
  out->Clear();
  if (!parser.ParseFromString(text, out)) {
    err->file = file;
    err->line = errors.have ? errors.line : 1;
    err->column = errors.have ? errors.column : 1;
    err->field.clear();
    err->message = errors.have ? errors.message : "not a valid scenario";
    return false;
  }
  Validator v(file, &tree);
  validate(v, *out);
  if (v.failed()) {
    *err = v.error();
    return false;
  }
  return true;
}

Result<proto::Scenario, ScenarioError> parse_scenario(const std::string& text, const std::string& file) {
  proto::Scenario s;
  ScenarioError e;
  if (!parse_scenario(text, file, &s, &e)) return unexpected(e);
  return s;
}

}  // namespace streamsim::scenarios
