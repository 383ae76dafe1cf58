#include <streamsim/live/txn_ledger.h>

#include <streamsim/core/assert.h>

#include <algorithm>

namespace streamsim::live {

void TxnLedger::fence(const std::string& txn_id) {
  auto it = open_by_txn_.find(txn_id);
  if (it == open_by_txn_.end()) return;
  Attempt& a = attempts_.at(it->second);
  if (a.state == State::open) {
    a.state = State::aborted;
    ++aborts_;
    ++fenced_;
  }
  open_by_txn_.erase(it);
}

uint64_t TxnLedger::begin(const std::string& txn_id) {
  // A producer begins only after its previous transaction ended; one left
  // open by a destroyed handle of the same id is a zombie's.
  fence(txn_id);
  const uint64_t n = next_++;
  attempts_[n].txn_id = txn_id;
  open_by_txn_[txn_id] = n;
  return n;
}

void TxnLedger::add_offsets(uint64_t attempt, const std::string& group,
                            const std::vector<kafka::TopicPartitionOffset>& offsets) {
  auto it = attempts_.find(attempt);
  SS_ASSERT(it != attempts_.end(), "offsets for an unknown attempt");
  for (const auto& o : offsets) it->second.offsets.push_back({group, o});
}

void TxnLedger::commit(uint64_t attempt) {
  auto it = attempts_.find(attempt);
  SS_ASSERT(it != attempts_.end(), "commit of an unknown attempt");
  Attempt& a = it->second;
  if (a.state != State::open) return;
  a.state = State::committed;
  ++commits_;
  for (const auto& [group, o] : a.offsets) {
    if (o.offset.is_logical()) continue;
    auto& slot = group_offsets_[{group, o.tp}];
    slot = std::max(slot, o.offset.value);
  }
  if (auto o = open_by_txn_.find(a.txn_id); o != open_by_txn_.end() && o->second == attempt) open_by_txn_.erase(o);
}

void TxnLedger::abort(uint64_t attempt) {
  auto it = attempts_.find(attempt);
  SS_ASSERT(it != attempts_.end(), "abort of an unknown attempt");
  Attempt& a = it->second;
  if (a.state != State::open) return;
  a.state = State::aborted;
  ++aborts_;
  if (auto o = open_by_txn_.find(a.txn_id); o != open_by_txn_.end() && o->second == attempt) open_by_txn_.erase(o);
}

TxnLedger::State TxnLedger::state(uint64_t attempt) const {
  auto it = attempts_.find(attempt);
  return it == attempts_.end() ? State::committed : it->second.state;
}

void TxnLedger::delivered(uint64_t attempt, const kafka::TopicPartition& tp, int64_t offset) {
  auto it = attempts_.find(attempt);
  if (it == attempts_.end() || offset < 0) return;
  auto [slot, fresh] = it->second.first_offset.emplace(tp, offset);
  if (!fresh) slot->second = std::min(slot->second, offset);
}

std::optional<int64_t> TxnLedger::first_open_offset(const kafka::TopicPartition& tp) const {
  std::optional<int64_t> first;
  for (const auto& [txn, n] : open_by_txn_) {
    const Attempt& a = attempts_.at(n);
    if (a.state != State::open) continue;
    if (auto f = a.first_offset.find(tp); f != a.first_offset.end())
      first = first ? std::min(*first, f->second) : f->second;
  }
  return first;
}

std::optional<int64_t> TxnLedger::committed_offset(const std::string& group, const kafka::TopicPartition& tp) const {
  auto it = group_offsets_.find({group, tp});
  if (it == group_offsets_.end()) return std::nullopt;
  return it->second;
}

size_t TxnLedger::open_attempts() const {
  size_t n = 0;
  for (const auto& [txn, a] : open_by_txn_) n += attempts_.at(a).state == State::open;
  return n;
}

}  // namespace streamsim::live
