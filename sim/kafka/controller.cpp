#include "controller.h"

#include <streamsim/core/assert.h>
#include <streamsim/core/checksum.h>

#include <spdlog/logger.h>

#include <algorithm>
#include <sstream>

namespace streamsim::sim::kafka {

namespace {

constexpr const char* kMetaFile = "controller/metadata.log";

std::string join(const std::vector<BrokerId>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s.empty() ? "-" : s;
}

std::vector<BrokerId> split(const std::string& s) {
  std::vector<BrokerId> out;
  if (s == "-") return out;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, ',')) out.push_back(std::stoi(part));
  return out;
}

bool contains(const std::vector<BrokerId>& v, BrokerId b) { return std::find(v.begin(), v.end(), b) != v.end(); }

}  // namespace

// A line-oriented snapshot: small, diffable, and checksummed by its framing.
std::string encode_image(const MetadataImage& m) {
  std::ostringstream o;
  o << "version " << m.version << "\nepoch " << m.controller_epoch << "\n";
  for (const auto& [name, t] : m.topics) {
    o << "topic " << name << " " << t.partitions << " " << t.replication << " " << t.min_insync_replicas << " "
      << t.unclean_leader_election << " " << t.flush_messages << "\n";
  }
  for (const auto& [b, e] : m.broker_epochs) o << "broker " << b << " " << e << "\n";
  for (const auto& [tp, p] : m.partitions) {
    o << "partition " << tp.topic << " " << tp.partition << " " << p.leader << " " << p.leader_epoch << " "
      << p.partition_epoch << " " << join(p.replicas) << " " << join(p.isr) << "\n";
  }
  return o.str();
}

bool decode_image(std::string_view text, MetadataImage* out) {
  MetadataImage m;
  std::istringstream in{std::string(text)};
  std::string kind;
  try {
    while (in >> kind) {
      if (kind == "version") {
        in >> m.version;
      } else if (kind == "epoch") {
        in >> m.controller_epoch;
      } else if (kind == "topic") {
        TopicState t;
        in >> t.name >> t.partitions >> t.replication >> t.min_insync_replicas >> t.unclean_leader_election >>
            t.flush_messages;
        m.topics[t.name] = t;
      } else if (kind == "broker") {
        BrokerId b = 0;
        uint64_t e = 0;
        in >> b >> e;
        m.broker_epochs[b] = e;
      } else if (kind == "partition") {
        PartitionState p;
        std::string replicas, isr;
        in >> p.tp.topic >> p.tp.partition >> p.leader >> p.leader_epoch >> p.partition_epoch >> replicas >> isr;
        p.replicas = split(replicas);
        p.isr = split(isr);
        m.partitions[p.tp] = p;
      } else {
        return false;
      }
      if (!in) return false;
    }
  } catch (const std::exception&) {
    return false;
  }
  *out = std::move(m);
  return true;
}

Controller::Controller(SimRuntime& rt, const ClusterConfig& cfg, const std::vector<NodeId>& brokers)
    : rt_(rt), cfg_(cfg), brokers_(brokers) {
  SS_ASSERT(!brokers.empty(), "a cluster needs brokers");
  SS_ASSERT(cfg.broker_session_timeout > cfg.heartbeat_interval, "session timeout must exceed the heartbeat interval");
}

void Controller::load() {
  std::string data;
  if (auto r = rt_.storage().read_all(kMetaFile); r.ok()) data = std::move(*r);
  FramedScan scan = scan_records(data);
  bool loaded = false;
  for (auto it = scan.records.rbegin(); it != scan.records.rend() && !loaded; ++it) loaded = decode_image(*it, &image_);
  if (!loaded) {
    // First start: create the configured topics.
    image_ = MetadataImage{};
    CreateTopicsReq req;
    req.topics = cfg_.topics;
    handle_create_topics(req);
  }
  // A new controller incarnation fences requests from the previous one.
  ++image_.controller_epoch;
  // Every broker gets one session timeout from now to heartbeat; one that does
  // not is fenced then and its partitions elect new leaders.
  image_.live_brokers.clear();
  for (size_t b = 0; b < brokers_.size(); ++b) {
    liveness_[static_cast<BrokerId>(b)] = Liveness{rt_.now(), 0, false};
    image_.live_brokers.push_back(static_cast<BrokerId>(b));
  }
  changed();
  rt_.log().info("controller epoch {} with {} topics, {} partitions", image_.controller_epoch, image_.topics.size(),
                 image_.partitions.size());
}

void Controller::persist() {
  std::string rec;
  frame_record(rec, encode_image(image_));
  // One snapshot per change; the file only grows within a run, which the run's
  // bounded length keeps small. (Compaction is left to a later version.)
  auto a = rt_.storage().append(kMetaFile, rec);
  SS_ASSERT(a.ok(), "controller metadata append failed");
  auto f = rt_.storage().fsync(kMetaFile);
  SS_ASSERT(f.ok(), "controller metadata fsync failed");
  if (!name_durable_) {
    // A new file's name survives a crash only after the directory is synced
    // (without this a restarted controller forgot every topic: found by sweep).
    auto d = rt_.storage().sync_dir();
    SS_ASSERT(d.ok(), "controller sync_dir failed");
    name_durable_ = true;
  }
}

void Controller::changed() {
  ++image_.version;
  snapshot_.reset();
  persist();
}

std::shared_ptr<const MetadataImage> Controller::snapshot() {
  if (!snapshot_) snapshot_ = std::make_shared<const MetadataImage>(image_);
  return snapshot_;
}

bool Controller::live(BrokerId b) const {
  auto it = liveness_.find(b);
  return it != liveness_.end() && !it->second.fenced;
}

// Clean election picks the first live replica of the ISR (in replica order); an
// unclean election, where the topic allows it, any live replica.
void Controller::elect(PartitionState& p, const TopicState& t) {
  BrokerId chosen = -1;
  for (BrokerId r : p.replicas) {
    if (contains(p.isr, r) && live(r)) {
      chosen = r;
      break;
    }
  }
  bool unclean = false;
  if (chosen < 0 && t.unclean_leader_election) {
    for (BrokerId r : p.replicas) {
      if (live(r)) {
        chosen = r;
        unclean = true;
        break;
      }
    }
  }
  if (chosen == p.leader) return;
  p.leader = chosen;
  ++p.leader_epoch;
  ++p.partition_epoch;
  if (unclean) p.isr = {chosen};
  rt_.trace(unclean ? "kafka/unclean_election" : "kafka/leader_election", static_cast<uint64_t>(chosen + 1),
            static_cast<uint64_t>(p.leader_epoch));
  rt_.log().info("{}-{}: leader {} epoch {}{} isr [{}]", p.tp.topic, p.tp.partition, chosen, p.leader_epoch,
                 unclean ? " (unclean)" : "", join(p.isr));
}

void Controller::broker_down(BrokerId b) {
  rt_.log().info("broker {} fenced (no heartbeat)", b);
  liveness_[b].fenced = true;
  for (auto& [tp, p] : image_.partitions) {
    const TopicState& t = image_.topics.at(tp.topic);
    bool touched = false;
    // Keep the last ISR member even when it dies, so a clean election can wait
    // for it to return instead of losing committed data.
    if (contains(p.isr, b) && p.isr.size() > 1) {
      p.isr.erase(std::remove(p.isr.begin(), p.isr.end(), b), p.isr.end());
      ++p.partition_epoch;
      touched = true;
    }
    if (p.leader == b) {
      elect(p, t);
      touched = true;
    }
    (void)touched;
  }
  image_.live_brokers.erase(std::remove(image_.live_brokers.begin(), image_.live_brokers.end(), b),
                            image_.live_brokers.end());
  changed();
}

void Controller::broker_up(BrokerId b) {
  rt_.log().info("broker {} registered", b);
  liveness_[b].fenced = false;
  image_.live_brokers.push_back(b);
  std::sort(image_.live_brokers.begin(), image_.live_brokers.end());
  for (auto& [tp, p] : image_.partitions) {
    if (p.leader < 0) elect(p, image_.topics.at(tp.topic));
  }
  changed();
}

void Controller::check_liveness() {
  for (auto& [b, l] : liveness_) {
    if (!l.fenced && rt_.now() - l.last_heartbeat > cfg_.broker_session_timeout) broker_down(b);
  }
}

void Controller::main() {
  load();
  Inbox& in = rt_.net().listen(rt_.id(), kControllerPort);
  rt_.spawn("liveness", [this] {
    for (;;) {
      rt_.sleep_for(cfg_.heartbeat_interval);
      check_liveness();
    }
  });
  for (;;) {
    auto r = in.recv(rt_);
    if (!r.ok()) return;
    const Request& req = *r;
    std::shared_ptr<const Payload> resp;
    // Requests are handled one at a time: the controller is a single writer of
    // the metadata image, like KRaft's active controller.
    if (auto* hb = dynamic_cast<const BrokerHeartbeatReq*>(req.body.get())) {
      resp = handle_heartbeat(*hb);
    } else if (auto* ap = dynamic_cast<const AlterPartitionReq*>(req.body.get())) {
      resp = handle_alter_partition(*ap);
    } else if (auto* ct = dynamic_cast<const CreateTopicsReq*>(req.body.get())) {
      resp = handle_create_topics(*ct);
    } else if (dynamic_cast<const ControllerMetadataReq*>(req.body.get())) {
      auto m = std::make_shared<ControllerMetadataResp>();
      m->image = snapshot();
      resp = m;
    }
    if (resp) rt_.net().reply(req, resp);
  }
}

void run_controller(SimRuntime& rt, const ClusterConfig& cfg, const std::vector<NodeId>& brokers) {
  Controller c(rt, cfg, brokers);
  c.main();
}

}  // namespace streamsim::sim::kafka
