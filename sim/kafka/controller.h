// The controller quorum (internal to sim/kafka): KRaft's controllers as a Raft
// group whose replicated state is the metadata image. The quorum protocol
// (election, replication, persistence) lives in controller.cpp; the handlers of
// the active controller one per file: broker_heartbeat.cpp, alter_partition.cpp,
// create_topics.cpp.
//
// Protocol
// - Every voter keeps (term, voted_for) and its metadata image in one append-only
//   file of framed records and fsyncs a change before it answers anything that
//   depends on it (Raft's persistent state).
// - A voter that hears from no leader for a random time in [T, 2T) (T is
//   ClusterConfig::controller_election_timeout, the draw comes from the node's
//   seeded Runtime stream) starts an election: term + 1, a persisted vote for
//   itself, Vote requests to the others. A voter grants at most one vote per term,
//   and only to a candidate whose image is at least as up to date as its own:
//   (image term, version) compared lexicographically, Raft's (last log term, last
//   log index). The image term is MetadataImage::controller_epoch.
// - The leader is the active controller. It first writes a new image version in
//   its own term (Raft's no-op, which commits whatever earlier terms left), then
//   applies broker requests to its working image, and sends its latest image to
//   every follower. A version is committed once a majority holds it or a later
//   version of the leader's term, the leader counting only its own fsynced copy.
//   Brokers and the admin client only ever see committed images; requests that
//   change metadata are answered once their change has committed.
// - A leader that has not heard from a majority for T resigns (KRaft's
//   check-quorum), so a controller cut off from the quorum stops acting as the
//   active controller; every other controller answers controller requests with
//   not_controller and the leader it knows as a hint.
//
// Why replicating whole images instead of a log is safe. Read the image at (term
// t, version v) as a Raft log whose last entry is (t, v) and whose earlier entries
// are the versions it was derived from. Only one leader exists per term (votes
// are persisted, one per term), and it derives each version from its previous
// one, so (t, v) names exactly one image and its whole history (log matching).
// Sending the whole image is Raft's InstallSnapshot of the entire log; a follower
// replaces its image unless it already holds a later version of the same term
// (which it may have acknowledged), as Raft truncates only a conflicting suffix.
// Votes use the same up-to-date check on (t, v), so an elected leader's image
// descends from every committed image (leader completeness), and a leader commits
// only versions of its own term, so committed images are totally ordered by
// (t, v). Losing a disk breaks this (a voter that forgets its vote can vote twice
// in a term; one that forgets an acknowledged image can undo a majority), which
// is why the nemesis never wipes a controller's disk.
//
// Every controller of the cluster starts from the same bootstrap image (version
// 1, term 0: the configured topics, every broker live), derived from the config
// alone, like KRaft's bootstrap metadata written by kafka-storage format.
//
// Ownership: the Controller lives on its node's boot task; every task it spawns
// is younger and is cancelled first on a crash. Calls that suspend are marked.
#pragma once

#include <streamsim/core/sync.h>
#include <streamsim/sim/kafka/cluster.h>

#include <functional>
#include <map>
#include <memory>

namespace streamsim::sim::kafka {

// Vote and AppendImage travel between controllers on their own port, so that the
// quorum's messages never queue behind broker requests.
constexpr uint32_t kQuorumPort = 9094;

struct VoteReq final : Payload {
  int32_t term = 0;
  int32_t candidate = -1;  // controller index
  int32_t last_term = 0;   // the candidate's image term and version
  int64_t last_version = 0;
  const char* type_name() const override { return "Vote"; }
};
struct VoteResp final : Payload {
  int32_t term = 0;
  bool granted = false;
  const char* type_name() const override { return "VoteResponse"; }
};
// The leader's latest image; also its heartbeat (sent even when unchanged).
struct AppendImageReq final : Payload {
  int32_t term = 0;
  int32_t leader = -1;  // controller index
  std::shared_ptr<const MetadataImage> image;  // image->controller_epoch == term
  const char* type_name() const override { return "AppendImage"; }
};
struct AppendImageResp final : Payload {
  int32_t term = 0;
  bool success = false;
  // What the follower holds (durably) after the request.
  int32_t image_term = 0;
  int64_t version = 0;
  const char* type_name() const override { return "AppendImageResponse"; }
};

class Controller {
 public:
  Controller(SimRuntime& rt, int index, const ClusterConfig& cfg, const std::vector<NodeId>& controllers,
             const std::vector<NodeId>& brokers);
  // Loads the persisted state and serves until the node crashes. Suspends.
  void main();

  // What a handler of the active controller answers: the response, and the image
  // version that must commit before it is sent (0: send at once). on_commit, if
  // set, completes the response just before it is sent after a successful wait.
  struct Answer {
    std::shared_ptr<ControllerResp> resp;
    int64_t commit_version = 0;
    std::function<void(ControllerResp&)> on_commit;
  };
  // Handlers of the active controller (one file each). Precondition: this
  // controller is the leader. They change the working image without suspending.
  Answer handle_heartbeat(const BrokerHeartbeatReq& r);
  Answer handle_alter_partition(const AlterPartitionReq& r);
  Answer handle_create_topics(const CreateTopicsReq& r);
  Answer handle_elect_leaders(const ElectLeadersReq& r);

 private:
  enum class Role { follower, candidate, leader };

  // --- persistence (controller.cpp); each suspends; the caller holds io_ ---
  void load();
  void persist(bool vote, const MetadataImage* image);

  // --- the quorum ---
  void quorum_loop(Inbox& in);  // serves Vote and AppendImage, one at a time
  void election_loop();  // elections while not leading, check-quorum while leading
  void liveness_loop();  // broker session timeouts while leading
  std::shared_ptr<const Payload> on_vote(const VoteReq& r);           // suspends
  std::shared_ptr<const Payload> on_append(const AppendImageReq& r);  // suspends
  void run_election();                      // suspends
  void become_leader(int32_t term);         // suspends
  void observe_term(int32_t term);          // suspends: steps down if term is newer
  void resign(int32_t term);                // suspends: check-quorum step-down
  void to_follower(int32_t term);           // caller holds io_; does not persist
  void persist_loop(int32_t term);          // the leader's own durable copy
  void replicate_loop(int32_t term, int peer);
  void advance_commit(int32_t term);
  void check_quorum(int32_t term);
  void reset_election_deadline();
  Duration quorum_heartbeat() const;  // how often the leader sends its image to each follower
  bool leading(int32_t term) const { return role_ == Role::leader && term_ == term; }
  bool up_to_date(int32_t last_term, int64_t last_version) const;
  size_t majority() const { return controllers_.size() / 2 + 1; }
  MetadataImage bootstrap_image();

  // --- serving brokers and the admin client ---
  void serve(const Request& req);
  void answer_after_commit(const Request& req, Answer a);
  std::shared_ptr<const Payload> not_controller(const Payload& body) const;

  // --- metadata changes of the active controller (controller.cpp) ---
  void changed();  // bump the working image's version in this term; does not suspend
  void check_liveness();
  void broker_down(BrokerId b);
  void broker_up(BrokerId b);
  void elect(PartitionState& p, const TopicState& t);
  bool live(BrokerId b) const;
  // Adds valid new topics to m, one error per topic (no_error if added); true if
  // any was added. Does not bump the version.
  bool add_topics(MetadataImage& m, const std::vector<TopicState>& topics, std::vector<Errc>* errors) const;
  std::shared_ptr<const MetadataImage> snapshot();

  SimRuntime& rt_;
  const int index_;
  const ClusterConfig& cfg_;
  std::vector<NodeId> controllers_;
  std::vector<NodeId> brokers_;

  // Raft state. term_, voted_for_ and (for non-leaders) image_ equal what is on
  // disk once io_ is released; every change of role_ or term_ holds io_.
  Mutex io_;
  int32_t term_ = 0;
  int32_t voted_for_ = -1;
  Role role_ = Role::follower;
  int32_t leader_hint_ = -1;
  Instant election_deadline_;
  // The working image: the leader's latest (possibly not yet durable or
  // committed); on every other controller the durable one.
  MetadataImage image_;
  std::shared_ptr<const MetadataImage> snapshot_;  // cached copy of image_
  std::shared_ptr<const MetadataImage> durable_;   // the image on disk (or the bootstrap image)
  bool name_durable_ = false;

  // Leader state, reset by become_leader.
  Instant leader_since_;
  std::vector<std::shared_ptr<const MetadataImage>> acked_;  // per peer: the latest image it holds durably
  std::vector<Instant> last_ack_;                            // per peer: its last successful answer
  std::shared_ptr<const MetadataImage> committed_;           // what brokers may see
  CondVar replicate_;  // the working image or the role changed
  CondVar commit_;     // committed_ or the role changed
  size_t waiting_ = 0;  // answers waiting for a commit
  struct Liveness {
    Instant last_heartbeat;
    bool fenced = true;
  };
  std::map<BrokerId, Liveness> liveness_;
};

std::string encode_image(const MetadataImage& m);
bool decode_image(std::string_view text, MetadataImage* out);

}  // namespace streamsim::sim::kafka
