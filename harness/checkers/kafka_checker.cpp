// check_kafka: the Jepsen-style judge of a Kafka history (see kafka_history.h).
//
// Every index is an ordered map or a sorted vector, so the checker runs in
// O(n log n) over the history and the first evidence it reports never depends
// on hashing or addresses.
#include <streamsim/core/assert.h>
#include <streamsim/harness/kafka_history.h>

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace streamsim::harness {

using scenarios::PropertyResult;

namespace {

using TxnKey = std::pair<uint32_t, int64_t>;  // (producer, transaction)

std::string tp_text(const TopicPartition& tp) { return tp.topic + "-" + std::to_string(tp.partition); }

// A value in quotes, control characters escaped and long values cut, so that
// evidence stays one readable line whatever the workload sends.
std::string quoted(std::string_view v) {
  constexpr size_t kMax = 80;
  std::string out = "\"";
  for (size_t i = 0; i < v.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (v.size() > kMax) out += "...";
  out += '"';
  return out;
}

std::string send_text(const Send& s) {
  std::string out = "value " + quoted(s.value) + " (producer " + std::to_string(s.producer) + ", send " +
                    std::to_string(s.send_index);
  if (s.txn >= 0) out += ", transaction " + std::to_string(s.txn);
  return out + ")";
}

std::string poll_text(const Poll& p) {
  return "offset " + std::to_string(p.offset) + " (seq " + std::to_string(p.seq) + ", value " + quoted(p.value) + ")";
}

std::string generation_text(int32_t g) {
  return g < 0 ? std::string("outside a group") : "in generation " + std::to_string(g);
}

// What the checker knows about the history, indexed once.
class Index {
 public:
  explicit Index(const KafkaHistory& h) : h_(h) {
    for (size_t i = 0; i < h.sends.size(); ++i) {
      const Send& s = h.sends[i];
      SS_ASSERT(send_of_.emplace(s.value, i).second, "check_kafka: two sends carry the same value");
      SS_ASSERT(s.outcome != SendOutcome::acked || s.offset >= 0, "check_kafka: an acked send has no offset");
    }
    for (const auto& t : h.txns) {
      auto [it, fresh] = txn_kind_.emplace(TxnKey{t.producer, t.txn}, t.kind);
      SS_ASSERT(fresh || it->second == t.kind, "check_kafka: one transaction has two different outcomes");
      SS_ASSERT(t.commit_seq >= -1, "check_kafka: a commit seq below -1");
      if (t.commit_seq >= 0) commit_seq_[{t.producer, t.txn}] = t.commit_seq;
    }
    for (const auto& c : h.commits) {
      SS_ASSERT(c.offset >= 0, "check_kafka: a group commit of a negative offset");
    }
    for (const auto& [tp, log] : h.final_log) {
      for (const auto& [offset, value] : log) {
        const Send* s = send(value);
        if (s != nullptr && s->txn >= 0) txn_in_final_.insert({s->producer, s->txn});
      }
    }
    for (const auto& p : h.polls) SS_ASSERT(p.offset >= 0, "check_kafka: a poll has a negative offset");
  }

  const Send* send(std::string_view value) const {
    auto it = send_of_.find(value);
    return it == send_of_.end() ? nullptr : &h_.sends[it->second];
  }

  // A transaction counts as committed when its producer saw the commit succeed,
  // or when its outcome is unknown (or unrecorded) but one of its values is in the
  // final read_committed log, which only a committed transaction can put there.
  bool txn_committed(const Send& s) const {
    auto it = txn_kind_.find({s.producer, s.txn});
    const auto kind = it == txn_kind_.end() ? TxnOutcome::Kind::unknown : it->second;
    if (kind == TxnOutcome::Kind::committed) return true;
    if (kind == TxnOutcome::Kind::aborted) return false;
    return txn_in_final_.count({s.producer, s.txn}) != 0;
  }

  // The seq just before the producer first asked to commit the transaction of
  // `s`, or -1 (not transactional, never asked, or not recorded).
  int64_t commit_seq(const Send& s) const {
    auto it = commit_seq_.find({s.producer, s.txn});
    return s.txn < 0 || it == commit_seq_.end() ? -1 : it->second;
  }

  TxnOutcome::Kind txn_kind(const Send& s) const {
    auto it = txn_kind_.find({s.producer, s.txn});
    return it == txn_kind_.end() ? TxnOutcome::Kind::unknown : it->second;
  }

  // Acked, and either outside a transaction or in a committed one: the value
  // must be in the final log, and every consumer reading past it must see it.
  bool committed_visible(const Send& s) const {
    return s.outcome == SendOutcome::acked && (s.txn < 0 || txn_committed(s));
  }

  // Empty when a read_committed reader may return `value`; otherwise why not.
  std::string unreadable_reason(std::string_view value) const {
    const Send* s = send(value);
    if (s == nullptr) return "value " + quoted(value) + ", which was never sent";
    if (s->outcome == SendOutcome::failed) return send_text(*s) + ", whose send failed";
    if (s->txn < 0 || txn_committed(*s)) return "";
    if (txn_kind(*s) == TxnOutcome::Kind::aborted) return send_text(*s) + ", whose transaction aborted";
    return send_text(*s) + ", whose transaction has no known commit and left no value in the final log";
  }

 private:
  const KafkaHistory& h_;
  std::map<std::string_view, size_t, std::less<>> send_of_;
  std::map<TxnKey, TxnOutcome::Kind> txn_kind_;
  std::set<TxnKey> txn_in_final_;
  std::map<TxnKey, int64_t> commit_seq_;
};

// "consumer 3", with "(read_uncommitted)" when the history says so, so that
// evidence shows at once whether the reader's configuration explains a read.
std::string consumer_text(const KafkaHistory& h, uint32_t consumer) {
  std::string out = "consumer " + std::to_string(consumer);
  auto it = h.consumers.find(consumer);
  if (it != h.consumers.end() && !it->second.read_committed) out += " (read_uncommitted)";
  return out;
}

struct Position {
  const TopicPartition* tp;
  int64_t offset;
};

std::string where(const Position& p) { return tp_text(*p.tp) + " offset " + std::to_string(p.offset); }

void violate(PropertyResult& r, std::string evidence) {
  if (!r.held) return;
  r.held = false;
  r.evidence = std::move(evidence);
}

}  // namespace

std::vector<PropertyResult> check_kafka(const KafkaHistory& h, bool sends_must_be_ordered) {
  PropertyResult lost{"lost_writes", true, ""}, dups{"no_duplicates", true, ""}, skips{"no_poll_skips", true, ""},
      msends{"monotonic_sends", true, ""}, mpolls{"monotonic_polls", true, ""}, aborted{"no_aborted_reads", true, ""},
      owners{"one_owner_per_generation", true, ""};
  const Index ix(h);

  // Where each value sits in the final log (first position first), and, per
  // partition, the offsets whose value a reader passing over them must return.
  std::map<std::string_view, std::vector<Position>, std::less<>> final_pos;
  std::map<TopicPartition, std::vector<int64_t>> visible_offsets;
  for (const auto& [tp, log] : h.final_log) {
    auto& visible = visible_offsets[tp];
    for (const auto& [offset, value] : log) {
      auto& at = final_pos[value];
      at.push_back({&tp, offset});
      if (at.size() == 2) {
        violate(dups, "value " + quoted(value) + " is at " + where(at[0]) + " and at " + where(at[1]) +
                          " of the final log");
      }
      const Send* s = ix.send(value);
      if (s != nullptr && ix.committed_visible(*s)) visible.push_back(offset);
    }
  }

  // lost_writes: every committed-visible value at exactly its acknowledged offset.
  for (const Send& s : h.sends) {
    if (!lost.held) break;
    if (!ix.committed_visible(s)) continue;
    const std::string acked_at = tp_text(s.tp) + " offset " + std::to_string(s.offset);
    auto log = h.final_log.find(s.tp);
    if (log == h.final_log.end()) {
      violate(lost, "partition " + tp_text(s.tp) + " could not be read after the faults healed, so " + send_text(s) +
                        " acknowledged at " + acked_at + " cannot be shown durable");
      continue;
    }
    auto rec = log->second.find(s.offset);
    if (rec != log->second.end() && rec->second == s.value) continue;
    auto found = final_pos.find(s.value);
    if (found != final_pos.end()) {
      violate(lost, send_text(s) + " is at " + where(found->second.front()) + ", acknowledged at " + acked_at);
    } else {
      violate(lost, send_text(s) + " acknowledged at " + acked_at + " is missing from the final log (" +
                        (rec == log->second.end() ? std::string("no record at that offset")
                                                  : "that offset holds " + quoted(rec->second)) +
                        ")");
    }
  }

  // Polls in observation order; equal seqs keep the order of the history.
  std::vector<size_t> order(h.polls.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return h.polls[a].seq < h.polls[b].seq; });

  // Group commits in seq order, merged into `committed` as the polls advance
  // past them.
  std::vector<const scenarios::Commit*> commits;
  for (const auto& c : h.commits) commits.push_back(&c);
  std::stable_sort(commits.begin(), commits.end(), [](const auto* a, const auto* b) { return a->seq < b->seq; });
  size_t next_commit = 0;
  std::map<TopicPartition, int64_t> committed;  // highest offset asked to commit so far

  std::map<std::pair<uint32_t, std::string_view>, size_t> seen_by;  // (consumer, value) -> first poll
  std::map<std::pair<uint32_t, TopicPartition>, size_t> last_poll;  // (consumer, partition) -> previous poll
  for (size_t i : order) {
    const Poll& p = h.polls[i];
    const std::string who = consumer_text(h, p.consumer) + " on " + tp_text(p.tp);
    for (; next_commit < commits.size() && commits[next_commit]->seq < p.seq; ++next_commit) {
      int64_t& high = committed[commits[next_commit]->tp];
      high = std::max(high, commits[next_commit]->offset);
    }

    // no_duplicates: one consumer saw one value at two positions.
    auto [first, fresh] = seen_by.emplace(std::make_pair(p.consumer, std::string_view(p.value)), i);
    if (!fresh) {
      const Poll& q = h.polls[first->second];
      if (q.tp != p.tp || q.offset != p.offset) {
        violate(dups, "consumer " + std::to_string(p.consumer) + " polled value " + quoted(p.value) + " at " +
                          tp_text(q.tp) + " offset " + std::to_string(q.offset) + " (seq " + std::to_string(q.seq) +
                          ") and at " + tp_text(p.tp) + " offset " + std::to_string(p.offset) + " (seq " +
                          std::to_string(p.seq) + ")");
      }
    }

    // no_aborted_reads: aborted or never-committed data (G1a), and data of a
    // transaction that did commit, read before its producer even asked to
    // commit it (a dirty read: no marker could exist yet).
    if (h.read_committed && aborted.held) {
      std::string why = ix.unreadable_reason(p.value);
      const Send* s = ix.send(p.value);
      if (why.empty() && s != nullptr && ix.commit_seq(*s) >= 0 && static_cast<int64_t>(p.seq) < ix.commit_seq(*s)) {
        why = send_text(*s) + ", before its producer asked to commit the transaction (at seq " +
              std::to_string(ix.commit_seq(*s)) + ")";
      }
      if (!why.empty()) violate(aborted, who + " polled, at offset " + std::to_string(p.offset) + " (seq " +
                                             std::to_string(p.seq) + "), " + why);
    }

    auto [prev_it, first_on_tp] = last_poll.try_emplace(std::make_pair(p.consumer, p.tp), i);
    const Poll* prev = first_on_tp ? nullptr : &h.polls[prev_it->second];
    prev_it->second = i;
    const bool new_assignment = prev == nullptr || p.generation != prev->generation;
    if (new_assignment && p.generation >= 0 && !p.after_seek && h.commits_complete) {
      // no_poll_skips across a group handoff: a member that got the partition
      // starts at the committed offset, which is an offset some member asked
      // to commit before this poll (0, the log start, if none: the workload's
      // auto.offset.reset is earliest). Every such offset is a position its
      // member had read up to, so committed-visible data below the highest of
      // them was delivered to the group, and starting anywhere at or below it
      // is a legitimate re-read (commits need not rise: a late one may lower
      // the committed offset). Starting above it, over committed-visible data,
      // skips that data for the whole group.
      int64_t start = 0;
      if (auto c = committed.find(p.tp); c != committed.end()) start = c->second;
      const int64_t from = std::min(start, p.offset);
      SS_ASSERT(from >= 0 && from <= p.offset, "check_kafka: the handoff range is empty or negative");
      auto vis = visible_offsets.find(p.tp);
      if (vis != visible_offsets.end()) {
        auto skipped = std::lower_bound(vis->second.begin(), vis->second.end(), from);
        if (skipped != vis->second.end() && *skipped < p.offset) {
          violate(skips, who + " started " + generation_text(p.generation) + (p.member_id.empty() ? "" : " as member " + p.member_id) +
                             " at " + poll_text(p) + ", past the committed offset " + std::to_string(start) +
                             " (the highest any member asked to commit before then), skipping offset " +
                             std::to_string(*skipped) + " (value " + quoted(h.final_log.at(p.tp).at(*skipped)) + ")");
        }
      }
    }
    if (prev == nullptr) continue;
    const Poll& q = *prev;
    if (p.after_seek || p.generation != q.generation) continue;

    // monotonic_polls: without a reposition, offsets strictly increase.
    if (p.offset <= q.offset) {
      violate(mpolls, who + " polled " + poll_text(q) + " then " + poll_text(p) + " " +
                          generation_text(p.generation) + " without repositioning");
      continue;
    }
    // no_poll_skips: nothing committed-visible strictly between the two offsets.
    auto vis = visible_offsets.find(p.tp);
    if (vis == visible_offsets.end()) continue;
    auto between = std::upper_bound(vis->second.begin(), vis->second.end(), q.offset);
    if (between != vis->second.end() && *between < p.offset) {
      violate(skips, who + " polled " + poll_text(q) + " then " + poll_text(p) + " " + generation_text(p.generation) +
                         " without repositioning, skipping offset " + std::to_string(*between) + " (value " +
                         quoted(h.final_log.at(p.tp).at(*between)) + ")");
    }
  }

  // no_aborted_reads in the final log too: it was read with read_committed.
  for (const auto& [tp, log] : h.final_log) {
    if (!aborted.held) break;
    for (const auto& [offset, value] : log) {
      std::string why = ix.unreadable_reason(value);
      if (!why.empty()) {
        violate(aborted, "the final read_committed log holds, at " + tp_text(tp) + " offset " +
                             std::to_string(offset) + ", " + why);
        break;
      }
    }
  }

  // monotonic_sends: per producer and partition, acked offsets rise with send_index.
  if (sends_must_be_ordered) {
    std::vector<const Send*> acked;
    for (const Send& s : h.sends) {
      if (s.outcome == SendOutcome::acked) acked.push_back(&s);
    }
    std::sort(acked.begin(), acked.end(), [](const Send* a, const Send* b) {
      return std::tie(a->producer, a->tp, a->send_index) < std::tie(b->producer, b->tp, b->send_index);
    });
    for (size_t i = 1; i < acked.size() && msends.held; ++i) {
      const Send& a = *acked[i - 1];
      const Send& b = *acked[i];
      if (a.producer != b.producer || a.tp != b.tp) continue;
      SS_ASSERT(a.send_index != b.send_index, "check_kafka: one producer has two sends with one send_index");
      if (b.offset <= a.offset) {
        violate(msends, "producer " + std::to_string(a.producer) + " on " + tp_text(a.tp) + ": send " +
                            std::to_string(a.send_index) + " (value " + quoted(a.value) + ") acked at offset " +
                            std::to_string(a.offset) + ", then send " + std::to_string(b.send_index) + " (value " +
                            quoted(b.value) + ") acked at offset " + std::to_string(b.offset));
      }
    }
  }

  // one_owner_per_generation, from the assigned events only (a revoke or loss
  // gives nothing); negative generations are manual assign(), no group.
  std::map<std::pair<TopicPartition, int32_t>, const Assignment*> owner;
  for (const auto& a : h.assignments) {
    if (a.generation < 0 || a.kind != Assignment::Kind::assigned) continue;
    for (const auto& tp : a.partitions) {
      auto [it, fresh] = owner.emplace(std::make_pair(tp, a.generation), &a);
      const Assignment& first = *it->second;
      if (!fresh && first.consumer != a.consumer) {
        auto member = [](const Assignment& x) {
          return x.member_id.empty() ? std::string() : " (member " + x.member_id + ", seq " + std::to_string(x.seq) + ")";
        };
        violate(owners, tp_text(tp) + " was assigned to consumer " + std::to_string(first.consumer) + member(first) +
                            " and consumer " + std::to_string(a.consumer) + member(a) + " in generation " +
                            std::to_string(a.generation));
      }
    }
  }

  return {lost, dups, skips, msends, mpolls, aborted, owners};
}

}  // namespace streamsim::harness
