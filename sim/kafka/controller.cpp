// The controller quorum: persistence, election, replication and commit (the
// protocol and its safety argument are in controller.h), and the metadata
// changes the active controller makes on its own (broker liveness, elections).
#include "controller.h"

#include <streamsim/core/assert.h>
#include <streamsim/core/checksum.h>

#include <spdlog/logger.h>

#include <algorithm>
#include <sstream>

namespace streamsim::sim::kafka {

namespace {

constexpr const char* kMetaFile = "controller/metadata.log";
// Answers waiting for a commit; beyond this the request goes unanswered and the
// caller times out and retries, as a full socket buffer would make it.
constexpr size_t kMaxWaiting = 1024;

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

// Raft's currentTerm and votedFor, one record per change.
std::string encode_vote(int32_t term, int32_t voted_for) {
  return "vote " + std::to_string(term) + " " + std::to_string(voted_for) + "\n";
}

bool decode_vote(const std::string& text, int32_t* term, int32_t* voted_for) {
  std::istringstream in(text);
  std::string kind;
  in >> kind >> *term >> *voted_for;
  return static_cast<bool>(in) && kind == "vote";
}

}  // namespace

// A line-oriented snapshot: small, diffable, and checksummed by its framing. It
// holds every field of the image, so a decoded image equals the encoded one (the
// quorum relies on (term, version) naming one image).
std::string encode_image(const MetadataImage& m) {
  std::ostringstream o;
  o << "version " << m.version << "\nepoch " << m.controller_epoch << "\nlive " << join(m.live_brokers) << "\n";
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
      } else if (kind == "live") {
        std::string live;
        in >> live;
        m.live_brokers = split(live);
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

Controller::Controller(SimRuntime& rt, int index, const ClusterConfig& cfg, const std::vector<NodeId>& controllers,
                       const std::vector<NodeId>& brokers)
    : rt_(rt), index_(index), cfg_(cfg), controllers_(controllers), brokers_(brokers) {
  SS_ASSERT(!brokers.empty(), "a cluster needs brokers");
  SS_ASSERT(index >= 0 && static_cast<size_t>(index) < controllers.size(), "controller index out of range");
  SS_ASSERT(controllers[static_cast<size_t>(index)] == rt.id(), "controller runs on the wrong node");
  SS_ASSERT(cfg.broker_session_timeout > cfg.heartbeat_interval, "session timeout must exceed the heartbeat interval");
  SS_ASSERT(cfg.controller_election_timeout >= Duration::millis(6), "election timeout too short to send heartbeats");
}

// --- persistence ---

MetadataImage Controller::bootstrap_image() {
  MetadataImage m;
  for (size_t b = 0; b < brokers_.size(); ++b) m.live_brokers.push_back(static_cast<BrokerId>(b));
  std::vector<Errc> errors;
  add_topics(m, cfg_.topics, &errors);
  m.version = 1;
  m.controller_epoch = 0;
  return m;
}

void Controller::load() {
  UniqueLock lk(rt_, io_);
  std::string data;
  if (auto r = rt_.storage().read_all(kMetaFile); r.ok()) data = std::move(*r);
  FramedScan scan = scan_records(data);
  if (scan.corrupt_tail) {
    // A torn or flipped unsynced tail. Cut it, or every record appended from now
    // on would sit behind it, and a scan stops at the first bad record.
    auto t = rt_.storage().truncate(kMetaFile, scan.valid_bytes);
    SS_ASSERT(t.ok(), "controller metadata truncate failed");
    auto f = rt_.storage().fsync(kMetaFile);
    SS_ASSERT(f.ok(), "controller metadata fsync failed");
    rt_.trace("kafka/controller_tail_cut", data.size() - scan.valid_bytes, 0);
  }
  bool have_image = false;
  for (const std::string& rec : scan.records) {
    if (rec.rfind("vote ", 0) == 0) {
      SS_ASSERT(decode_vote(rec, &term_, &voted_for_), "a checksummed vote record does not decode");
      continue;
    }
    MetadataImage m;
    SS_ASSERT(decode_image(rec, &m), "a checksummed metadata record does not decode");
    image_ = std::move(m);
    have_image = true;
  }
  if (!have_image) image_ = bootstrap_image();
  SS_ASSERT(image_.controller_epoch <= term_, "an image from a term this voter never reached");
  durable_ = std::make_shared<const MetadataImage>(image_);
  snapshot_ = durable_;
  rt_.trace("kafka/controller_load", static_cast<uint64_t>(term_), static_cast<uint64_t>(image_.version));
  rt_.log().info("controller {} loaded term {} image ({}, {}) with {} topics", index_, term_, image_.controller_epoch,
                 image_.version, image_.topics.size());
}

void Controller::persist(bool vote, const MetadataImage* image) {
  SS_ASSERT(io_.locked(), "persist without the io mutex");
  SS_ASSERT(vote || image != nullptr, "persist of nothing");
  std::string rec;
  if (vote) frame_record(rec, encode_vote(term_, voted_for_));
  if (image != nullptr) frame_record(rec, encode_image(*image));
  // One record per change; the file only grows within a run, which the run's
  // bounded length keeps small (an image is a few hundred bytes).
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

// --- the quorum ---

Duration Controller::quorum_heartbeat() const { return cfg_.controller_election_timeout / 6; }

void Controller::reset_election_deadline() {
  const int64_t t = cfg_.controller_election_timeout.ns();
  election_deadline_ = rt_.now() + Duration::nanos(t + static_cast<int64_t>(rt_.random().uniform(static_cast<uint64_t>(t))));
}

bool Controller::up_to_date(int32_t last_term, int64_t last_version) const {
  if (last_term != image_.controller_epoch) return last_term > image_.controller_epoch;
  return last_version >= image_.version;
}

void Controller::to_follower(int32_t term) {
  SS_ASSERT(io_.locked(), "role change without the io mutex");
  SS_ASSERT(term >= term_, "terms never go back");
  const bool was_leader = role_ == Role::leader;
  if (term > term_) {
    term_ = term;
    voted_for_ = -1;
    leader_hint_ = -1;
  }
  role_ = Role::follower;
  if (was_leader) {
    // The working image's uncommitted changes go (Raft truncates a deposed
    // leader's uncommitted entries); what this voter acknowledged is on disk.
    image_ = *durable_;
    snapshot_ = durable_;
    committed_.reset();
    liveness_.clear();
    leader_hint_ = -1;
    // Its election timer did not run while it led: start it afresh, or a deposed
    // leader would at once stand against the leader that replaced it.
    reset_election_deadline();
    rt_.trace("kafka/controller_resign", static_cast<uint64_t>(term_), static_cast<uint64_t>(index_));
    rt_.log().info("controller {} is no longer active (term {})", index_, term_);
    replicate_.notify_all();
    commit_.notify_all();
  }
}

void Controller::observe_term(int32_t term) {
  UniqueLock lk(rt_, io_);
  if (term <= term_) return;
  to_follower(term);
  persist(true, nullptr);
}

void Controller::resign(int32_t term) {
  UniqueLock lk(rt_, io_);
  if (!leading(term)) return;
  to_follower(term_);
}

std::shared_ptr<const Payload> Controller::on_vote(const VoteReq& r) {
  SS_ASSERT(r.candidate >= 0 && static_cast<size_t>(r.candidate) < controllers_.size(), "vote from a stranger");
  UniqueLock lk(rt_, io_);
  bool dirty = false;
  if (r.term > term_) {
    to_follower(r.term);
    dirty = true;
  }
  SS_ASSERT(role_ == Role::leader || image_.version == durable_->version, "a non-leader's image is its durable one");
  auto resp = std::make_shared<VoteResp>();
  if (r.term == term_ && (voted_for_ < 0 || voted_for_ == r.candidate) && up_to_date(r.last_term, r.last_version)) {
    if (voted_for_ != r.candidate) {
      voted_for_ = r.candidate;
      dirty = true;
    }
    resp->granted = true;
    reset_election_deadline();
  }
  // The vote (and the term) are durable before the answer leaves.
  if (dirty) persist(true, nullptr);
  resp->term = term_;
  if (resp->granted) rt_.trace("kafka/controller_vote", static_cast<uint64_t>(r.term), static_cast<uint64_t>(r.candidate));
  return resp;
}

std::shared_ptr<const Payload> Controller::on_append(const AppendImageReq& r) {
  SS_ASSERT(r.image != nullptr && r.image->controller_epoch == r.term, "a leader sends images of its own term");
  UniqueLock lk(rt_, io_);
  auto resp = std::make_shared<AppendImageResp>();
  if (r.term < term_) {
    resp->term = term_;
    resp->image_term = image_.controller_epoch;
    resp->version = image_.version;
    return resp;  // a deposed leader; the answer tells it the newer term
  }
  bool vote_dirty = false;
  if (r.term > term_) {
    to_follower(r.term);
    vote_dirty = true;
  }
  // Election safety: at most one leader per term (votes are persisted).
  SS_ASSERT(role_ != Role::leader, "two active controllers in one term");
  role_ = Role::follower;
  leader_hint_ = r.leader;
  reset_election_deadline();
  // Keep a later version of the same term: it may already have been acknowledged.
  const bool take = !(image_.controller_epoch == r.image->controller_epoch && image_.version >= r.image->version);
  if (take || vote_dirty) persist(vote_dirty, take ? r.image.get() : nullptr);
  if (take) {
    image_ = *r.image;
    durable_ = r.image;
    snapshot_ = r.image;
  }
  resp->term = term_;
  resp->success = true;
  resp->image_term = image_.controller_epoch;
  resp->version = image_.version;
  return resp;
}

void Controller::quorum_loop(Inbox& in) {
  for (;;) {
    auto r = in.recv(rt_);
    if (!r.ok()) return;
    std::shared_ptr<const Payload> resp;
    if (auto* v = dynamic_cast<const VoteReq*>(r->body.get())) {
      resp = on_vote(*v);
    } else if (auto* a = dynamic_cast<const AppendImageReq*>(r->body.get())) {
      resp = on_append(*a);
    }
    if (resp) rt_.net().reply(*r, resp);
  }
}

void Controller::election_loop() {
  for (;;) {
    if (role_ == Role::leader) {
      const int32_t term = term_;
      rt_.sleep_for(quorum_heartbeat());
      check_quorum(term);
      continue;
    }
    // The deadline moves whenever a leader is heard or a vote granted.
    if (rt_.now() < election_deadline_) {
      rt_.sleep_until(election_deadline_);
      continue;
    }
    run_election();
  }
}

void Controller::run_election() {
  int32_t term = 0;
  auto req = std::make_shared<VoteReq>();
  {
    UniqueLock lk(rt_, io_);
    if (role_ == Role::leader || rt_.now() < election_deadline_) return;  // a leader was heard meanwhile
    term_ += 1;
    voted_for_ = index_;
    role_ = Role::candidate;
    leader_hint_ = -1;
    reset_election_deadline();
    persist(true, nullptr);
    term = term_;
    req->term = term;
    req->candidate = index_;
    req->last_term = image_.controller_epoch;
    req->last_version = image_.version;
  }
  rt_.trace("kafka/controller_election", static_cast<uint64_t>(term), static_cast<uint64_t>(index_));
  struct Tally {
    size_t granted = 1;  // our own vote
    CondVar changed;
  };
  auto tally = std::make_shared<Tally>();
  for (size_t p = 0; p < controllers_.size(); ++p) {
    if (p == static_cast<size_t>(index_)) continue;
    rt_.spawn("vote-request", [this, tally, req, p, term] {
      auto r = rt_.net().call(rt_, rt_.id(), controllers_[p], kQuorumPort, req, cfg_.controller_election_timeout);
      if (!r.ok()) return;
      const auto& resp = payload_as<VoteResp>(*r);
      if (resp.term > term) {
        observe_term(resp.term);
      } else if (resp.granted && role_ == Role::candidate && term_ == term) {
        ++tally->granted;
      }
      tally->changed.notify_all();
    });
  }
  // Bounded by the election deadline; a new term or a leader ends it sooner.
  while (role_ == Role::candidate && term_ == term && tally->granted < majority() && rt_.now() < election_deadline_) {
    tally->changed.wait_until(rt_, election_deadline_);
  }
  if (role_ == Role::candidate && term_ == term && tally->granted >= majority()) become_leader(term);
}

void Controller::become_leader(int32_t term) {
  {
    UniqueLock lk(rt_, io_);
    if (role_ != Role::candidate || term_ != term) return;
    SS_ASSERT(voted_for_ == index_, "a leader voted for itself in its term");
    role_ = Role::leader;
    leader_hint_ = index_;
    leader_since_ = rt_.now();
    acked_.assign(controllers_.size(), nullptr);
    last_ack_.assign(controllers_.size(), leader_since_);
    committed_.reset();
    // Fencing state is replicated (live_brokers); session timers are not. Every
    // live broker gets one session timeout from now to heartbeat to this new
    // active controller, as KRaft does on failover; fenced ones stay fenced until
    // they heartbeat.
    liveness_.clear();
    for (size_t b = 0; b < brokers_.size(); ++b) {
      const auto id = static_cast<BrokerId>(b);
      liveness_[id] = Liveness{leader_since_, !contains(image_.live_brokers, id)};
    }
    // Raft's no-op: a version in this term, whose commit commits everything
    // earlier terms left behind. Brokers see nothing of this term before it.
    changed();
    rt_.trace("kafka/controller_leader", static_cast<uint64_t>(term), static_cast<uint64_t>(index_));
    rt_.log().info("controller {} is active at term {} (image version {})", index_, term, image_.version);
  }
  rt_.spawn("persist", [this, term] { persist_loop(term); });
  for (size_t p = 0; p < controllers_.size(); ++p) {
    if (p == static_cast<size_t>(index_)) continue;
    rt_.spawn("replicate-" + std::to_string(p), [this, term, p] { replicate_loop(term, static_cast<int>(p)); });
  }
}

void Controller::persist_loop(int32_t term) {
  for (;;) {
    while (leading(term) && durable_->controller_epoch == term && durable_->version == image_.version) {
      replicate_.wait(rt_);
    }
    if (!leading(term)) return;
    {
      UniqueLock lk(rt_, io_);
      if (!leading(term)) return;
      std::shared_ptr<const MetadataImage> snap = snapshot();
      SS_ASSERT(snap->controller_epoch == term, "the leader writes images of its own term");
      persist(false, snap.get());
      durable_ = snap;
    }
    advance_commit(term);
  }
}

void Controller::replicate_loop(int32_t term, int peer) {
  SS_ASSERT(peer != index_, "no replication to oneself");
  const auto p = static_cast<size_t>(peer);
  bool sent = false;
  Instant last_sent;
  for (;;) {
    if (!leading(term)) return;
    std::shared_ptr<const MetadataImage> snap = snapshot();
    const bool behind = !acked_[p] || acked_[p]->version < snap->version;
    const Instant next_heartbeat = last_sent + quorum_heartbeat();
    if (sent && !behind && rt_.now() < next_heartbeat) {
      replicate_.wait_until(rt_, next_heartbeat);
      continue;
    }
    sent = true;
    last_sent = rt_.now();
    auto req = std::make_shared<AppendImageReq>();
    req->term = term;
    req->leader = index_;
    req->image = snap;
    auto r = rt_.net().call(rt_, rt_.id(), controllers_[p], kQuorumPort, req, cfg_.controller_election_timeout);
    if (!leading(term)) return;
    if (!r.ok()) {
      rt_.sleep_for(quorum_heartbeat());  // a reset fails at once: pause before the retry
      continue;
    }
    const auto& resp = payload_as<AppendImageResp>(*r);
    if (resp.term > term) {
      observe_term(resp.term);
      return;
    }
    SS_ASSERT(resp.success, "a follower refuses only a lower term");
    last_ack_[p] = rt_.now();
    if (resp.image_term == term && resp.version >= snap->version && (!acked_[p] || acked_[p]->version < snap->version)) {
      acked_[p] = snap;
    }
    advance_commit(term);
  }
}

void Controller::advance_commit(int32_t term) {
  if (!leading(term)) return;
  std::vector<std::shared_ptr<const MetadataImage>> held;
  if (durable_->controller_epoch == term) held.push_back(durable_);
  for (size_t p = 0; p < controllers_.size(); ++p) {
    if (p != static_cast<size_t>(index_) && acked_[p]) held.push_back(acked_[p]);
  }
  if (held.size() < majority()) return;
  std::stable_sort(held.begin(), held.end(), [](const auto& a, const auto& b) { return a->version > b->version; });
  // The highest version that a majority holds (or holds a later version of).
  const std::shared_ptr<const MetadataImage>& c = held[majority() - 1];
  SS_ASSERT(c->controller_epoch == term, "a leader commits only versions of its own term");
  if (committed_ && c->version <= committed_->version) return;
  SS_ASSERT(!committed_ || committed_->controller_epoch == term, "committed images of one leader share its term");
  committed_ = c;
  rt_.trace("kafka/controller_commit", static_cast<uint64_t>(term), static_cast<uint64_t>(c->version));
  commit_.notify_all();
}

void Controller::check_quorum(int32_t term) {
  if (!leading(term) || rt_.now() - leader_since_ < cfg_.controller_election_timeout) return;
  size_t heard = 1;  // itself
  for (size_t p = 0; p < controllers_.size(); ++p) {
    if (p != static_cast<size_t>(index_) && rt_.now() - last_ack_[p] < cfg_.controller_election_timeout) ++heard;
  }
  if (heard >= majority()) return;
  rt_.log().warn("controller {} heard from {} of {} voters: resigning at term {}", index_, heard, controllers_.size(),
                 term);
  resign(term);
}

// --- serving brokers and the admin client ---

std::shared_ptr<const Payload> Controller::not_controller(const Payload& body) const {
  std::shared_ptr<ControllerResp> r;
  if (dynamic_cast<const BrokerHeartbeatReq*>(&body)) {
    r = std::make_shared<BrokerHeartbeatResp>();
  } else if (dynamic_cast<const AlterPartitionReq*>(&body)) {
    r = std::make_shared<AlterPartitionResp>();
  } else if (dynamic_cast<const CreateTopicsReq*>(&body)) {
    r = std::make_shared<CreateTopicsResp>();
  } else if (dynamic_cast<const ControllerMetadataReq*>(&body)) {
    r = std::make_shared<ControllerMetadataResp>();
  } else if (dynamic_cast<const ElectLeadersReq*>(&body)) {
    r = std::make_shared<ElectLeadersResp>();
  } else {
    return nullptr;
  }
  r->error = Errc::not_controller;
  r->leader_hint = role_ == Role::leader ? -1 : leader_hint_;
  return r;
}

void Controller::serve(const Request& req) {
  const Payload& body = *req.body;
  if (role_ != Role::leader) {
    if (auto resp = not_controller(body)) rt_.net().reply(req, resp);
    return;
  }
  // Requests are applied one at a time, without suspending: the active
  // controller is the single writer of the working image, as in KRaft.
  Answer a;
  if (auto* hb = dynamic_cast<const BrokerHeartbeatReq*>(&body)) {
    a = handle_heartbeat(*hb);
  } else if (auto* ap = dynamic_cast<const AlterPartitionReq*>(&body)) {
    a = handle_alter_partition(*ap);
  } else if (auto* ct = dynamic_cast<const CreateTopicsReq*>(&body)) {
    a = handle_create_topics(*ct);
  } else if (auto* el = dynamic_cast<const ElectLeadersReq*>(&body)) {
    a = handle_elect_leaders(*el);
  } else if (dynamic_cast<const ControllerMetadataReq*>(&body)) {
    a.resp = std::make_shared<ControllerMetadataResp>();
    a.commit_version = image_.version;
    a.on_commit = [this](ControllerResp& r) { static_cast<ControllerMetadataResp&>(r).image = committed_; };
  } else {
    return;
  }
  answer_after_commit(req, std::move(a));
}

void Controller::answer_after_commit(const Request& req, Answer a) {
  SS_ASSERT(a.resp != nullptr, "a handler answers");
  SS_ASSERT(role_ == Role::leader, "only the active controller answers");
  auto ready = [this, v = a.commit_version] { return v == 0 || (committed_ && committed_->version >= v); };
  if (ready()) {
    if (a.on_commit) a.on_commit(*a.resp);
    rt_.net().reply(req, a.resp);
    return;
  }
  if (waiting_ >= kMaxWaiting) return;
  ++waiting_;
  rt_.spawn("commit-wait", [this, req, a = std::move(a), ready, term = term_] {
    struct Count {
      size_t& n;
      ~Count() { --n; }
    } count{waiting_};
    // Bounded: at most one election timeout, after which the caller retries.
    const Instant deadline = rt_.now() + cfg_.controller_election_timeout;
    while (leading(term) && !ready() && rt_.now() < deadline) commit_.wait_until(rt_, deadline);
    if (leading(term) && ready()) {
      if (a.on_commit) a.on_commit(*a.resp);
    } else {
      a.resp->error = leading(term) ? Errc::request_timed_out : Errc::not_controller;
      a.resp->leader_hint = leading(term) ? -1 : leader_hint_;
    }
    rt_.net().reply(req, a.resp);
  });
}

// --- metadata changes of the active controller ---

void Controller::changed() {
  SS_ASSERT(role_ == Role::leader, "only the active controller changes metadata");
  ++image_.version;
  image_.controller_epoch = term_;
  SS_ASSERT(image_.version > durable_->version || durable_->controller_epoch < term_, "versions only grow");
  snapshot_.reset();
  replicate_.notify_all();
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
  if (chosen >= 0) rt_.probe("kafka.leader_epoch_change");
  if (chosen < 0) rt_.probe("kafka.partition_offline");
  if (unclean) rt_.probe("kafka.unclean_election");
  rt_.log().info("{}-{}: leader {} epoch {}{} isr [{}]", p.tp.topic, p.tp.partition, chosen, p.leader_epoch,
                 unclean ? " (unclean)" : "", join(p.isr));
}

void Controller::broker_down(BrokerId b) {
  rt_.log().info("broker {} fenced (no heartbeat)", b);
  liveness_[b].fenced = true;
  for (auto& [tp, p] : image_.partitions) {
    const TopicState& t = image_.topics.at(tp.topic);
    // Keep the last ISR member even when it dies, so a clean election can wait
    // for it to return instead of losing committed data.
    if (contains(p.isr, b) && p.isr.size() > 1) {
      p.isr.erase(std::remove(p.isr.begin(), p.isr.end(), b), p.isr.end());
      ++p.partition_epoch;
      rt_.probe("kafka.isr_shrink");
    }
    if (p.leader == b) elect(p, t);
  }
  image_.live_brokers.erase(std::remove(image_.live_brokers.begin(), image_.live_brokers.end(), b),
                            image_.live_brokers.end());
  changed();
}

void Controller::broker_up(BrokerId b) {
  rt_.log().info("broker {} registered", b);
  liveness_[b].fenced = false;
  if (!contains(image_.live_brokers, b)) image_.live_brokers.push_back(b);
  std::sort(image_.live_brokers.begin(), image_.live_brokers.end());
  for (auto& [tp, p] : image_.partitions) {
    if (p.leader < 0) elect(p, image_.topics.at(tp.topic));
  }
  changed();
}

void Controller::check_liveness() {
  SS_ASSERT(role_ == Role::leader, "only the active controller fences brokers");
  for (auto& [b, l] : liveness_) {
    if (!l.fenced && rt_.now() - l.last_heartbeat > cfg_.broker_session_timeout) broker_down(b);
  }
}

void Controller::liveness_loop() {
  for (;;) {
    rt_.sleep_for(cfg_.heartbeat_interval);
    if (role_ == Role::leader) check_liveness();
  }
}

void Controller::main() {
  load();
  if (controllers_.size() == 1) {
    election_deadline_ = rt_.now();  // a quorum of one elects itself at once
  } else {
    reset_election_deadline();
  }
  Inbox& quorum = rt_.net().listen(rt_.id(), kQuorumPort);
  Inbox& in = rt_.net().listen(rt_.id(), kControllerPort);
  rt_.spawn("quorum", [this, &quorum] { quorum_loop(quorum); });
  rt_.spawn("election", [this] { election_loop(); });
  rt_.spawn("liveness", [this] { liveness_loop(); });
  for (;;) {
    auto r = in.recv(rt_);
    if (!r.ok()) return;
    serve(*r);
  }
}

void run_controller(SimRuntime& rt, int index, const ClusterConfig& cfg, const std::vector<NodeId>& controllers,
                    const std::vector<NodeId>& brokers) {
  Controller c(rt, index, cfg, controllers, brokers);
  c.main();
}

}  // namespace streamsim::sim::kafka
