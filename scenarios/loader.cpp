// Scenario parsing and validation with file:line:column diagnostics.
#include <streamsim/scenarios/scenario.h>

#include <streamsim/core/assert.h>
#include <streamsim/core/coverage.h>
#include <streamsim/engine/registry.h>
#include <streamsim/kafka/config.h>

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <cmath>
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

// What a fault kind needs from the scenario: empty when the kind fits it, else
// the reason it does not (the fault catalog, docs/faults.md).
std::string kind_unfit(proto::FaultKind k, const proto::Scenario& s) {
  const std::string name = proto::FaultKind_Name(k);
  switch (k) {
    case proto::ENGINE_CRASH:
    case proto::ZOMBIE_ENGINE:
    case proto::ENGINE_SCALE:
    case proto::ISOLATE_ENGINE:
      return s.has_pipeline() ? "" : name + " needs engine instances (the pipeline workload)";
    case proto::CONTROLLER_FAILOVER:
    case proto::LEADER_MOVE:
    case proto::ISOLATE_LEADER:
      return s.has_kafka() || s.has_pipeline() ? "" : name + " needs a Kafka cluster (the kafka or pipeline workload)";
    default:
      return "";
  }
}

// Kinds that last (a stop, a stall, a cut) and so need a duration.
bool needs_duration(proto::FaultKind k) {
  switch (k) {
    case proto::PAUSE:
    case proto::CONTROLLER_FAILOVER:
    case proto::FSYNC_STALL:
    case proto::ZOMBIE_ENGINE:
    case proto::ENGINE_SCALE:
    case proto::ISOLATE_ENGINE:
    case proto::PARTITION_HALVES:
    case proto::ISOLATE_LEADER:
      return true;
    default:
      return false;
  }
}

// The engine instances' consumer group session timeout (EngineSettings).
uint64_t engine_session_ms(const proto::Scenario& s) {
  return s.pipeline().engine().session_timeout_ms() ? s.pipeline().engine().session_timeout_ms() : 6'000;
}

// The kind-specific checks of one scripted fault: what it needs from the
// workload, its duration, and which nodes it may name.
void validate_fault_kind(Validator& v, const proto::Scenario& s, const proto::ScriptedFault& f,
                         const pb::TextFormat::ParseInfoTree* t, const std::string& path) {
  const proto::FaultKind k = f.kind();
  const std::string name = proto::FaultKind_Name(k);
  const std::string unfit = kind_unfit(k, s);
  v.check(unfit.empty(), f, t, path, "kind", unfit);
  v.check(!needs_duration(k) || f.duration_ms() > 0, f, t, path, "duration_ms", name + " needs a positive duration_ms");
  v.check(k != proto::LEADER_MOVE || f.duration_ms() == 0, f, t, path, "duration_ms",
          "LEADER_MOVE is instantaneous (the leadership stays moved); leave duration_ms unset");
  if (k == proto::ZOMBIE_ENGINE && s.has_pipeline()) {
    v.check(f.duration_ms() > engine_session_ms(s), f, t, path, "duration_ms",
            "ZOMBIE_ENGINE must pause the instance longer than its session timeout (pipeline.engine.session_timeout_ms = " +
                std::to_string(engine_session_ms(s)) + "), or the group never evicts it");
  }
  const bool engine_kind =
      k == proto::ENGINE_CRASH || k == proto::ZOMBIE_ENGINE || k == proto::ENGINE_SCALE || k == proto::ISOLATE_ENGINE;
  for (int n = 0; n < f.nodes_size(); ++n)
    v.check(!engine_kind || f.nodes(n).rfind("engine-", 0) == 0, f, t, path, "nodes",
            name + " targets engine instance nodes (engine-0 ..)", n);
  const bool from_state = k == proto::CONTROLLER_FAILOVER || k == proto::LEADER_MOVE || k == proto::ISOLATE_LEADER;
  v.check(!from_state || f.nodes_size() == 0, f, t, path, "nodes",
          name + " finds its target in the cluster's state when it starts; leave nodes empty", 0);
  const bool single = k == proto::PAUSE || k == proto::FSYNC_STALL || engine_kind;
  v.check(!single || f.nodes_size() <= 1, f, t, path, "nodes", name + " targets one node", 1);
}

void validate_kafka(Validator& v, const proto::Scenario& s, const pb::TextFormat::ParseInfoTree* st) {
  const auto& k = s.kafka();
  auto* t = v.nested(st, s, "kafka");
  v.check(k.brokers() <= 16, k, t, "kafka", "brokers", "must be between 1 and 16 (0 means the default, 3)");
  v.check(k.controllers() <= 9, k, t, "kafka", "controllers", "must be between 1 and 9 (0 means the default, 3)");
  v.check(k.producers() <= 32, k, t, "kafka", "producers", "must be at most 32");
  v.check(k.consumers() <= 32, k, t, "kafka", "consumers", "must be at most 32");
  v.check(k.group_consumers() <= 32, k, t, "kafka", "group_consumers", "must be at most 32");
  v.check(k.records_per_txn() <= 10'000, k, t, "kafka", "records_per_txn", "must be at most 10000");
  v.check(in_unit(k.abort_fraction()), k, t, "kafka", "abort_fraction", "must be within [0, 1]");
  const bool txn_id_set = std::any_of(k.producer_config().begin(), k.producer_config().end(),
                                      [](const auto& p) { return p.key() == "transactional.id"; });
  v.check(k.abort_fraction() == 0 || k.transactional() || txn_id_set, k, t, "kafka", "abort_fraction",
          "needs transactional: true (only transactions can be aborted)");
  v.check(k.member_lifetime_ms() <= 24 * 3600 * 1000ULL, k, t, "kafka", "member_lifetime_ms", "must be at most one day");
  v.check(k.rejoin_delay_ms() <= 60'000, k, t, "kafka", "rejoin_delay_ms", "must be at most 60000");
  v.check(k.commit_interval_ms() <= 60'000, k, t, "kafka", "commit_interval_ms", "must be at most 60000");
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


// The pipeline workload. The pipeline is built through the engine's registry,
// so an unknown pipeline or parameter is reported at the scenario's field; the
// settings EngineInstance::create would refuse are refused here, with their
// position, because a workload cannot report a configuration error mid-run.
void validate_pipeline(Validator& v, const proto::Scenario& s, const pb::TextFormat::ParseInfoTree* st) {
  const auto& w = s.pipeline();
  auto* t = v.nested(st, s, "pipeline");
  const std::string path = "pipeline";

  const auto& cl = w.cluster();
  auto* ct = v.nested(t, w, "cluster");
  v.check(cl.brokers() <= 16, cl, ct, path + ".cluster", "brokers", "must be between 1 and 16 (0 means the default, 3)");
  v.check(cl.controllers() <= 9, cl, ct, path + ".cluster", "controllers", "must be between 1 and 9 (0 means the default, 1)");
  const uint32_t brokers = cl.brokers() ? cl.brokers() : 3;
  for (int i = 0; i < cl.topics_size(); ++i) {
    const auto& topic = cl.topics(i);
    auto* tt = v.nested(ct, cl, "topics", i);
    const std::string tpath = path + ".cluster.topics[" + std::to_string(i) + "]";
    v.check(!topic.name().empty(), topic, tt, tpath, "name", "a topic needs a name");
    v.check(topic.partitions() <= 64, topic, tt, tpath, "partitions", "must be at most 64");
    const uint32_t rf = topic.replication() ? topic.replication() : std::min(3u, brokers);
    v.check(rf <= brokers, topic, tt, tpath, "replication", "exceeds the number of brokers (" + std::to_string(brokers) + ")");
    v.check(topic.min_insync_replicas() <= rf, topic, tt, tpath, "min_insync_replicas", "exceeds the replication factor");
  }

  // The pipeline, through the engine's registry.
  const auto& spec = w.pipeline();
  auto* pt = v.nested(t, w, "pipeline");
  const std::string ppath = path + ".pipeline";
  engine::PipelineRegistry reg;
  engine::register_builtin_pipelines(reg);
  std::vector<std::pair<std::string, std::string>> params;
  for (const auto& p : spec.params()) params.push_back({p.key(), p.value()});
  const std::string name = spec.name().empty() ? "click-counts" : spec.name();
  auto built = reg.build(name, params);
  if (!built.ok()) {
    const auto& err = built.error();
    if (err.field.rfind("params.", 0) == 0) {
      const std::string key = err.field.substr(7);
      int index = -1;
      for (int i = 0; i < spec.params_size(); ++i)
        if (spec.params(i).key() == key && index < 0) index = i;
      v.check(false, spec, pt, ppath, "params", err.format(), index);
    } else {
      std::string known;
      for (const auto& n : reg.names()) known += (known.empty() ? "" : ", ") + n;
      v.check(false, spec, pt, ppath, "name", err.format() + " (registered: " + known + ")");
    }
    return;
  }
  // What the batch reference evaluates (harness/checkers/eos_checker.cpp).
  const engine::PipelinePlan& plan = built->plan();
  // The general evaluator (engine/reference.h) judges any keyed windowed
  // aggregate without a join (a join's result depends on when its table
  // loads) or a fold (the user's function); the workload writes typed-encoded
  // string keys and int64 values, so the source must use the typed decoder.
  bool joins = false;
  for (const auto& stage : plan.stages) joins = joins || stage.kind == engine::Stage::Kind::join;
  const bool judged = plan.window_kind && plan.aggregate && plan.aggregate->kind != engine::Aggregate::Kind::fold &&
                      !joins && !plan.select_max_per_window;
  v.check(judged, spec, pt, ppath, "name",
          "the pipeline workload's reference evaluates a keyed count, sum, min, max or avg in tumbling, sliding or "
          "session windows without a join; '" + name + "' is " + plan.description);
  for (int i = 0; i < spec.params_size(); ++i)
    v.check(spec.params(i).key() != "decoder" || spec.params(i).value() == "typed", spec, pt, ppath, "params",
            "the pipeline workload writes the engine's typed encoding: decoder must be typed", i);
  // `params` is a repeated field: an error points at the parameter that set
  // it, or at the first one (an index is required for a repeated field).
  auto param_index = [&](const std::string& key) {
    for (int i = 0; i < spec.params_size(); ++i)
      if (spec.params(i).key() == key) return i;
    return 0;
  };
  v.check(plan.output_mode == engine::OutputMode::append, spec, pt, ppath, "params",
          "the exactly-once checker needs output_mode append (each window emitted once)", param_index("output_mode"));
  v.check(plan.late_policy == engine::LatePolicy::route, spec, pt, ppath, "params",
          "the exactly-once checker accounts for late events through the late topic: set late_events to route",
          param_index("late_events"));

  const auto& in = w.input();
  auto* it = v.nested(t, w, "input");
  const std::string ipath = path + ".input";
  v.check(in.producers() <= 32, in, it, ipath, "producers", "must be at most 32");
  v.check(in.rate() >= 0 && in.rate() <= 100'000, in, it, ipath, "rate", "must be within [0, 100000] events/s");
  v.check(in.keys() <= 1'000'000, in, it, ipath, "keys", "must be at most 1000000");
  v.check(in.zipf_exponent() >= 0 && in.zipf_exponent() <= 10, in, it, ipath, "zipf_exponent", "must be within [0, 10]");
  v.check(in_unit(in.late_fraction()), in, it, ipath, "late_fraction", "must be within [0, 1]");
  // A late event is counted by a sliding window in only those of its windows
  // that are still open, which the batch reference cannot know.
  v.check(plan.window_kind != engine::WindowSpec::Kind::sliding || in.late_fraction() == 0, in, it, ipath,
          "late_fraction",
          "must be 0 with sliding windows: a late event counts in only its open windows, which the reference cannot "
          "judge");
  v.check(in_unit(in.duplicate_fraction()), in, it, ipath, "duplicate_fraction", "must be within [0, 1]");
  v.check(in.out_of_order_ms() <= 3'600'000, in, it, ipath, "out_of_order_ms", "must be at most one hour");
  v.check(in.lateness_ms() <= 24 * 3'600'000ULL, in, it, ipath, "lateness_ms", "must be at most one day");
  v.check(in.clock_skew_ms() <= 24 * 3'600'000ULL, in, it, ipath, "clock_skew_ms", "must be at most one day");
  v.check(in.burst_factor() >= 0 && in.burst_factor() <= 100, in, it, ipath, "burst_factor", "must be within [0, 100]");
  v.check(in.burst_ms() <= in.burst_every_ms(), in, it, ipath, "burst_ms", "must not exceed burst_every_ms");
  uint32_t source_partitions = 3;
  for (const auto& topic : cl.topics())
    if (topic.name() == plan.source_topic && topic.partitions()) source_partitions = topic.partitions();
  v.check(in.idle_partitions() < source_partitions, in, it, ipath, "idle_partitions",
          "must leave at least one of the source topic's " + std::to_string(source_partitions) + " partitions busy");
  {
    std::vector<std::pair<std::string, std::string>> kv = {{"bootstrap.servers", "broker-0"}};
    for (const auto& p : in.producer_config()) kv.push_back({p.key(), p.value()});
    auto r = streamsim::kafka::Config::make(streamsim::kafka::Role::producer, kv);
    if (!r.ok()) {
      int index = 0;
      for (int i = 0; i < in.producer_config_size(); ++i)
        if (in.producer_config(i).key() == r.error().property) index = i;
      v.check(false, in, it, ipath, "producer_config", r.error().format(), index);
    }
  }

  v.check(w.instances() <= 16, w, t, path, "instances", "must be between 1 and 16 (0 means the default, 1)");
  v.check(w.spare_instances() <= 16, w, t, path, "spare_instances", "must be at most 16");
  {
    // Spares start only when an ENGINE_SCALE fault scales out: without one they
    // would idle through the run, which is surely not what the file means.
    bool scale = false;
    for (const auto& f : s.faults().scripted()) scale |= f.kind() == proto::ENGINE_SCALE;
    for (int k : s.faults().random().kinds()) scale |= k == proto::ENGINE_SCALE;
    v.check(w.spare_instances() == 0 || scale, w, t, path, "spare_instances",
            "spare instances start only through ENGINE_SCALE faults; add ENGINE_SCALE to faults or remove spare_instances");
  }
  const auto& es = w.engine();
  auto* et = v.nested(t, w, "engine");
  const std::string epath = path + ".engine";
  const uint64_t trigger = es.trigger_interval_ms() ? es.trigger_interval_ms() : 200;
  const uint64_t kafka_timeout = es.kafka_timeout_ms() ? es.kafka_timeout_ms() : 5'000;
  const uint64_t txn_timeout = es.transaction_timeout_ms() ? es.transaction_timeout_ms() : 30'000;
  const uint64_t session = es.session_timeout_ms() ? es.session_timeout_ms() : 6'000;
  const uint64_t heartbeat = es.heartbeat_interval_ms() ? es.heartbeat_interval_ms() : 500;
  v.check(trigger <= 60'000, es, et, epath, "trigger_interval_ms", "must be at most 60000");
  v.check(es.max_records_per_batch() <= 100'000, es, et, epath, "max_records_per_batch", "must be at most 100000");
  v.check(kafka_timeout <= 300'000, es, et, epath, "kafka_timeout_ms", "must be at most 300000");
  v.check(es.pause_before_commit_ms() <= 60'000, es, et, epath, "pause_before_commit_ms", "must be at most 60000");
  v.check(w.mode() != proto::EXACTLY_ONCE || txn_timeout >= trigger + 2 * kafka_timeout + es.pause_before_commit_ms(),
          es, et, epath, "transaction_timeout_ms",
          "must be at least trigger_interval_ms + 2 * kafka_timeout_ms + pause_before_commit_ms (" +
              std::to_string(trigger + 2 * kafka_timeout + es.pause_before_commit_ms()) +
              "): the coordinator could abort a batch's transaction while it is being committed");
  v.check(txn_timeout <= 900'000, es, et, epath, "transaction_timeout_ms", "must be at most 900000 (the broker's maximum)");
  v.check(session >= 6'000 && session <= 1'800'000, es, et, epath, "session_timeout_ms",
          "must be within the group coordinator's [6000, 1800000]");
  v.check(heartbeat < session, es, et, epath, "heartbeat_interval_ms", "must be below session_timeout_ms");
  v.check(es.changelog_replication() <= brokers, es, et, epath, "changelog_replication", "exceeds the number of brokers");
  v.check(es.watermark_skew_ms() >= -86'400'000 && es.watermark_skew_ms() <= 86'400'000, es, et, epath,
          "watermark_skew_ms", "must be within one day");

  const auto& x = w.expect();
  auto* xt = v.nested(t, w, "expect");
  const uint64_t liveness = s.run().liveness_ms() ? s.run().liveness_ms() : 30'000;
  v.check(x.settle_within_ms() <= liveness, x, xt, path + ".expect", "settle_within_ms",
          "must not exceed run.liveness_ms (" + std::to_string(liveness) + ")");
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
  if (s.has_pipeline()) {
    const auto& cl = s.pipeline().cluster();
    for (uint32_t i = 0; i < (cl.brokers() ? cl.brokers() : 3); ++i) out.insert("broker-" + std::to_string(i));
    for (uint32_t i = 0; i < (cl.controllers() ? cl.controllers() : 1); ++i) out.insert("controller-" + std::to_string(i));
    const uint32_t n = (s.pipeline().instances() ? s.pipeline().instances() : 1) + s.pipeline().spare_instances();
    for (uint32_t i = 0; i < n; ++i) out.insert("engine-" + std::to_string(i));
  }
  return out;
}

void validate(Validator& v, const proto::Scenario& s) {
  auto* root = v.root();
  v.check(!s.name().empty(), s, root, "", "name", "every scenario needs a name");
  v.check(s.workload_case() != proto::Scenario::WORKLOAD_NOT_SET, s, root, "", "counter",
          "no workload: set one of the workload fields (counter, kafka, pipeline)");
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
  if (s.has_pipeline()) validate_pipeline(v, s, root);
  std::set<std::string> nodes = workload_nodes(s);
  if (s.has_faults()) {
    const auto& f = s.faults();
    auto* ft = v.nested(root, s, "faults");
    for (int i = 0; i < f.scripted_size(); ++i) {
      auto* t = v.nested(ft, f, "scripted", i);
      const std::string fpath = "faults.scripted[" + std::to_string(i) + "]";
      validate_fault_fields(v, f.scripted(i), t, fpath, nodes);
      validate_fault_kind(v, s, f.scripted(i), t, fpath);
    }
    if (f.has_random()) {
      const auto& r = f.random();
      auto* t = v.nested(ft, f, "random");
      for (int i = 0; i < r.kinds_size(); ++i) {
        v.check(r.kinds(i) != proto::FAULT_UNSPECIFIED, r, t, "faults.random", "kinds", "FAULT_UNSPECIFIED is not a fault", i);
        const std::string unfit = kind_unfit(static_cast<proto::FaultKind>(r.kinds(i)), s);
        v.check(unfit.empty(), r, t, "faults.random", "kinds", unfit, i);
        v.check(!needs_duration(static_cast<proto::FaultKind>(r.kinds(i))) || r.max_duration_ms() > 0, r, t,
                "faults.random", "max_duration_ms",
                proto::FaultKind_Name(static_cast<proto::FaultKind>(r.kinds(i))) + " needs a positive duration");
      }
      v.check(r.kinds_size() == 0 || r.mean_interval_ms() > 0, r, t, "faults.random", "mean_interval_ms",
              "must be positive when kinds are given");
      v.check(r.max_duration_ms() >= r.min_duration_ms(), r, t, "faults.random", "max_duration_ms",
              "must not be below min_duration_ms");
      v.check(r.max_concurrent() <= 16, r, t, "faults.random", "max_concurrent", "must be at most 16");
    }
    if (f.has_buggify()) {
      const auto& b = f.buggify();
      auto* t = v.nested(ft, f, "buggify");
      v.check(in_unit(b.fire_probability()), b, t, "faults.buggify", "fire_probability", "must be within [0, 1]");
      v.check(in_unit(b.enable_probability()), b, t, "faults.buggify", "enable_probability", "must be within [0, 1]");
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
    // Throughput and latency are measured by the pipeline workload only, and a
    // property with no bound to check against would hold vacuously.
    v.check(std::isfinite(e.min_throughput_events_per_s()) && e.min_throughput_events_per_s() >= 0, e, t, "expect",
            "min_throughput_events_per_s", "must be a finite number, at least 0");
    v.check(s.has_pipeline() || (e.min_throughput_events_per_s() == 0 && e.max_p99_latency_ms() == 0), e, t, "expect",
            e.max_p99_latency_ms() ? "max_p99_latency_ms" : "min_throughput_events_per_s",
            "throughput and latency expectations need the pipeline workload");
    auto unbounded = [&](const std::string& p) -> std::string {
      if (p == "throughput" && e.min_throughput_events_per_s() <= 0) return "'throughput' needs expect.min_throughput_events_per_s";
      if (p == "latency_p99" && e.max_p99_latency_ms() == 0) return "'latency_p99' needs expect.max_p99_latency_ms";
      return "";
    };
    for (int i = 0; i < e.properties_size(); ++i)
      v.check(unbounded(e.properties(i)).empty(), e, t, "expect", "properties", unbounded(e.properties(i)), i);
    v.check(unbounded(e.expect_violation()).empty(), e, t, "expect", "expect_violation",
            unbounded(e.expect_violation()));
    // A target that no code can reach would fail every sweep: refuse it here.
    for (int i = 0; i < e.targets_size(); ++i) {
      if (is_known_coverage_mark(e.targets(i))) continue;
      std::string marks;
      for (const auto& m : kCoverageMarks) marks += (marks.empty() ? "" : ", ") + std::string(m.name);
      v.check(false, e, t, "expect", "targets",
              "unknown coverage mark '" + e.targets(i) + "' (known: " + marks + ", buggify.<point>)", i);
    }
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
  if (s.has_pipeline()) {
    out = {"input_durable",    "no_duplicates",    "no_losses",          "no_open_transactions",
           "watermark_monotonic", "watermark_bounded", "no_on_time_drops", "late_behind_watermark",
           "coverage",         "liveness",          "throughput",         "latency_p99"};
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
