// The Nexmark generator, payload encoding, queries and batch reference
// (nexmark.h). The generator follows Beam's Java generator field by field,
// with a java.util.Random-compatible stream seeded with the event id.
#include "nexmark.h"

#include <streamsim/core/assert.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <tuple>

namespace streamsim::nexmark {

namespace {

constexpr int64_t kFirstAuctionId = 1000;
constexpr int64_t kFirstPersonId = 1000;
constexpr int64_t kFirstCategoryId = 10;
constexpr int64_t kPersonProportion = 1;
constexpr int64_t kAuctionProportion = 3;
constexpr int64_t kBidProportion = 46;
constexpr int64_t kProportionDenominator = kPersonProportion + kAuctionProportion + kBidProportion;
constexpr int64_t kHotAuctionRatio = 100;  // BidGenerator.HOT_AUCTION_RATIO
constexpr int64_t kHotBidderRatio = 100;   // BidGenerator.HOT_BIDDER_RATIO
constexpr int64_t kHotSellerRatio = 100;   // AuctionGenerator.HOT_SELLER_RATIO
constexpr int64_t kPersonIdLead = 10;
constexpr int64_t kAuctionIdLead = 10;
constexpr int32_t kNumCategories = 5;
constexpr int kMinStringLength = 3;

const char* const kStates[] = {"AZ", "CA", "ID", "OR", "WA", "WY"};
const char* const kCities[] = {"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland",
                               "Bend",    "Redmond",     "Seattle",       "Kent",  "Cheyenne"};
const char* const kFirstNames[] = {"Peter", "Paul", "Luke", "John", "Saul", "Vicky",
                                   "Kate",  "Julie", "Sarah", "Deiter", "Walter"};
const char* const kLastNames[] = {"Shultz", "Abrams", "Spencer", "White", "Bartels",
                                  "Walton", "Smith",  "Jones",   "Noris"};

// java.util.Random: the 48-bit linear congruential generator, so a seed gives
// the same stream as Beam's generator.
class JavaRandom {
 public:
  explicit JavaRandom(int64_t seed) : seed_((static_cast<uint64_t>(seed) ^ 0x5DEECE66DULL) & kMask) {}
  int32_t next_int() { return next(32); }
  int32_t next_int(int32_t bound) {
    SS_ASSERT(bound > 0, "nextInt needs a positive bound");
    if ((bound & -bound) == bound) return static_cast<int32_t>((static_cast<int64_t>(bound) * next(31)) >> 31);
    int32_t bits, val;
    do {
      bits = next(31);
      val = bits % bound;
    } while (static_cast<int64_t>(bits) - val + (bound - 1) > INT32_MAX);  // Java's int overflow test
    return val;
  }
  int64_t next_long() {
    const int64_t hi = next(32);
    return static_cast<int64_t>(static_cast<uint64_t>(hi) << 32) + next(32);
  }
  double next_double() {
    return static_cast<double>((static_cast<int64_t>(next(26)) << 27) + next(27)) * 0x1.0p-53;
  }

 private:
  static constexpr uint64_t kMask = (uint64_t{1} << 48) - 1;
  int32_t next(int bits) {
    seed_ = (seed_ * 0x5DEECE66DULL + 0xBULL) & kMask;
    return static_cast<int32_t>(static_cast<int64_t>(seed_ >> (48 - bits)));
  }
  uint64_t seed_;
};

// LongGenerator.nextLong.
int64_t next_long(JavaRandom& r, int64_t n) {
  if (n < INT32_MAX) return r.next_int(static_cast<int32_t>(n));
  return std::llabs(r.next_long() % n);
}

int64_t next_price(JavaRandom& r) { return std::llround(std::pow(10.0, r.next_double() * 6.0) * 100.0); }

std::string next_string(JavaRandom& r, int max_length) {
  int len = kMinStringLength + r.next_int(max_length - kMinStringLength);
  std::string s;
  s.reserve(static_cast<size_t>(len));
  while (len-- > 0) s.push_back(r.next_int(13) == 0 ? ' ' : static_cast<char>('a' + r.next_int(26)));
  // Java's String.trim(): drop leading and trailing spaces.
  const size_t b = s.find_first_not_of(' ');
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(' ') - b + 1);
}

std::string next_exact_string(JavaRandom& r, int length) {
  std::string s;
  s.reserve(static_cast<size_t>(std::max(length, 0)));
  int32_t rnd = 0;
  int n = 0;
  while (length-- > 0) {
    if (n == 0) {
      rnd = r.next_int();
      n = 6;
    }
    // Java's % keeps the sign of the dividend, so a negative rnd gives chars
    // below 'a', exactly as Beam's generator does.
    s.push_back(static_cast<char>('a' + rnd % 26));
    rnd /= 26;
    --n;
  }
  return s;
}

std::string next_extra(JavaRandom& r, int current_size, int desired_average_size) {
  if (current_size > desired_average_size) return {};
  desired_average_size -= current_size;
  const int delta = static_cast<int>(std::lround(desired_average_size * 0.2));
  const int min_size = desired_average_size - delta;
  const int desired = min_size + (delta == 0 ? 0 : r.next_int(2 * delta));
  return next_exact_string(r, desired);
}

int64_t last_base0_person_id(int64_t event_id) {
  int64_t epoch = event_id / kProportionDenominator;
  int64_t offset = event_id % kProportionDenominator;
  if (offset >= kPersonProportion) offset = kPersonProportion - 1;
  return epoch * kPersonProportion + offset;
}

int64_t last_base0_auction_id(int64_t event_id) {
  int64_t epoch = event_id / kProportionDenominator;
  int64_t offset = event_id % kProportionDenominator;
  if (offset < kPersonProportion) {
    --epoch;
    offset = kAuctionProportion - 1;
  } else if (offset >= kPersonProportion + kAuctionProportion) {
    offset = kAuctionProportion - 1;
  } else {
    offset -= kPersonProportion;
  }
  return epoch * kAuctionProportion + offset;
}

int64_t next_base0_person_id(int64_t event_id, JavaRandom& r, const GeneratorConfig& c) {
  const int64_t num_people = last_base0_person_id(event_id) + 1;
  const int64_t active = std::min<int64_t>(num_people, c.num_active_people);
  const int64_t n = next_long(r, active + kPersonIdLead);
  return num_people - active + n;
}

int64_t next_base0_auction_id(int64_t event_id, JavaRandom& r, const GeneratorConfig& c) {
  const int64_t min_auction = std::max<int64_t>(last_base0_auction_id(event_id) - c.num_in_flight_auctions, 0);
  const int64_t max_auction = last_base0_auction_id(event_id);
  return min_auction + next_long(r, max_auction - min_auction + 1 + kAuctionIdLead);
}

// --- payload encoding: fixed-width little-endian integers, u32-length strings ---

void put_i64(std::string& out, int64_t v) {
  const auto u = static_cast<uint64_t>(v);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((u >> (8 * i)) & 0xff));
}
void put_str(std::string& out, const std::string& s) {
  const auto n = static_cast<uint32_t>(s.size());
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out += s;
}
int64_t get_i64(std::string_view in, size_t at) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(in[at + static_cast<size_t>(i)]);
  return static_cast<int64_t>(v);
}

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool i64(int64_t& v) {
    if (in_.size() - at_ < 8) return false;
    v = get_i64(in_, at_);
    at_ += 8;
    return true;
  }
  bool str(std::string& s) {
    if (in_.size() - at_ < 4) return false;
    uint32_t n = 0;
    for (int i = 3; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(in_[at_ + static_cast<size_t>(i)]);
    at_ += 4;
    if (in_.size() - at_ < n) return false;
    s.assign(in_.substr(at_, n));
    at_ += n;
    return true;
  }
  bool done() const { return at_ == in_.size(); }

 private:
  std::string_view in_;
  size_t at_ = 1;  // after the kind byte
};

// Bid layout: kind, auction @1, bidder @9, price @17, date_time @25, extra.
constexpr size_t kBidAuctionAt = 1, kBidPriceAt = 17, kBidFixedSize = 33;

}  // namespace

int64_t Event::timestamp_ms() const {
  switch (kind) {
    case Kind::person: return person.date_time;
    case Kind::auction: return auction.date_time;
    case Kind::bid: return bid.date_time;
  }
  return 0;
}

Generator::Generator(GeneratorConfig config) : config_(config) {
  SS_ASSERT(config_.first_event_rate > 0, "the event rate is positive");
  // RateUnit.PER_SECOND.rateToPeriodUs: rounded microseconds between events.
  inter_event_delay_us_ = (1'000'000 + config_.first_event_rate / 2) / config_.first_event_rate;
}

int64_t Generator::timestamp_ms(int64_t n) const { return config_.base_time_ms + n * inter_event_delay_us_ / 1000; }

Event Generator::event(int64_t n) const {
  SS_ASSERT(n >= 0, "event ids start at 0");
  const GeneratorConfig& c = config_;
  JavaRandom r(n);
  const int64_t ts = timestamp_ms(n);
  const int64_t rem = n % kProportionDenominator;
  Event e;
  if (rem < kPersonProportion) {
    e.kind = Event::Kind::person;
    Person& p = e.person;
    p.id = last_base0_person_id(n) + kFirstPersonId;
    p.name = std::string(kFirstNames[r.next_int(11)]) + " " + kLastNames[r.next_int(9)];
    p.email = next_string(r, 7) + "@" + next_string(r, 5) + ".com";
    for (int i = 0; i < 4; ++i) {
      if (i > 0) p.credit_card.push_back(' ');
      char buf[8];
      std::snprintf(buf, sizeof buf, "%04d", r.next_int(10'000));
      p.credit_card += buf;
    }
    p.city = kCities[r.next_int(10)];
    p.state = kStates[r.next_int(6)];
    p.date_time = ts;
    const int size = 8 + static_cast<int>(p.name.size() + p.email.size() + p.credit_card.size() + p.city.size() +
                                          p.state.size());
    p.extra = next_extra(r, size, c.avg_person_byte_size);
  } else if (rem < kPersonProportion + kAuctionProportion) {
    e.kind = Event::Kind::auction;
    Auction& a = e.auction;
    a.id = last_base0_auction_id(n) + kFirstAuctionId;
    int64_t seller;
    if (r.next_int(c.hot_sellers_ratio) > 0) seller = (last_base0_person_id(n) / kHotSellerRatio) * kHotSellerRatio;
    else seller = next_base0_person_id(n, r, c);
    a.seller = seller + kFirstPersonId;
    a.category = kFirstCategoryId + r.next_int(kNumCategories);
    a.initial_bid = next_price(r);
    // nextAuctionLengthMs: on average as long as it takes to generate the
    // next num_in_flight_auctions auctions.
    const int64_t events_for_auctions = (int64_t{c.num_in_flight_auctions} * kProportionDenominator) / kAuctionProportion;
    const int64_t horizon_ms = timestamp_ms(n + events_for_auctions) - ts;
    a.expires = ts + 1 + next_long(r, std::max<int64_t>(horizon_ms * 2, 1));
    a.item_name = next_string(r, 20);
    a.description = next_string(r, 100);
    a.reserve = a.initial_bid + next_price(r);
    a.date_time = ts;
    const int size = 8 + static_cast<int>(a.item_name.size() + a.description.size()) + 8 + 8 + 8 + 8 + 8;
    a.extra = next_extra(r, size, c.avg_auction_byte_size);
  } else {
    e.kind = Event::Kind::bid;
    Bid& b = e.bid;
    int64_t auction;
    if (r.next_int(c.hot_auction_ratio) > 0) auction = (last_base0_auction_id(n) / kHotAuctionRatio) * kHotAuctionRatio;
    else auction = next_base0_auction_id(n, r, c);
    b.auction = auction + kFirstAuctionId;
    int64_t bidder;
    if (r.next_int(c.hot_bidders_ratio) > 0) bidder = (last_base0_person_id(n) / kHotBidderRatio) * kHotBidderRatio + 1;
    else bidder = next_base0_person_id(n, r, c);
    b.bidder = bidder + kFirstPersonId;
    b.price = next_price(r);
    b.date_time = ts;
    b.extra = next_extra(r, 8 + 8 + 8 + 8, c.avg_bid_byte_size);
  }
  return e;
}

std::string encode(const Event& e) {
  std::string out;
  out.push_back(static_cast<char>(e.kind));
  switch (e.kind) {
    case Event::Kind::person: {
      const Person& p = e.person;
      out.reserve(1 + 16 + 24 + p.name.size() + p.email.size() + p.credit_card.size() + p.city.size() +
                  p.state.size() + p.extra.size());
      put_i64(out, p.id);
      put_i64(out, p.date_time);
      for (const std::string* s : {&p.name, &p.email, &p.credit_card, &p.city, &p.state, &p.extra}) put_str(out, *s);
      break;
    }
    case Event::Kind::auction: {
      const Auction& a = e.auction;
      out.reserve(1 + 7 * 8 + 12 + a.item_name.size() + a.description.size() + a.extra.size());
      for (int64_t v : {a.id, a.initial_bid, a.reserve, a.date_time, a.expires, a.seller, a.category}) put_i64(out, v);
      for (const std::string* s : {&a.item_name, &a.description, &a.extra}) put_str(out, *s);
      break;
    }
    case Event::Kind::bid: {
      const Bid& b = e.bid;
      out.reserve(kBidFixedSize + 4 + b.extra.size());
      for (int64_t v : {b.auction, b.bidder, b.price, b.date_time}) put_i64(out, v);
      put_str(out, b.extra);
      break;
    }
  }
  return out;
}

std::optional<Event> decode(std::string_view payload) {
  if (payload.empty()) return std::nullopt;
  Reader rd(payload);
  Event e;
  bool ok = false;
  switch (payload[0]) {
    case 'P': {
      e.kind = Event::Kind::person;
      Person& p = e.person;
      ok = rd.i64(p.id) && rd.i64(p.date_time) && rd.str(p.name) && rd.str(p.email) && rd.str(p.credit_card) &&
           rd.str(p.city) && rd.str(p.state) && rd.str(p.extra);
      break;
    }
    case 'A': {
      e.kind = Event::Kind::auction;
      Auction& a = e.auction;
      ok = rd.i64(a.id) && rd.i64(a.initial_bid) && rd.i64(a.reserve) && rd.i64(a.date_time) && rd.i64(a.expires) &&
           rd.i64(a.seller) && rd.i64(a.category) && rd.str(a.item_name) && rd.str(a.description) && rd.str(a.extra);
      break;
    }
    case 'B': {
      e.kind = Event::Kind::bid;
      Bid& b = e.bid;
      ok = rd.i64(b.auction) && rd.i64(b.bidder) && rd.i64(b.price) && rd.i64(b.date_time) && rd.str(b.extra);
      break;
    }
    default: return std::nullopt;
  }
  if (!ok || !rd.done()) return std::nullopt;
  return e;
}

Event::Kind kind(std::string_view payload) {
  SS_ASSERT(!payload.empty(), "a Nexmark payload starts with its kind");
  return static_cast<Event::Kind>(payload[0]);
}
int64_t bid_auction(std::string_view payload) {
  SS_ASSERT(payload.size() >= kBidFixedSize && payload[0] == 'B', "bid_auction reads a bid payload");
  return get_i64(payload, kBidAuctionAt);
}
int64_t bid_price(std::string_view payload) {
  SS_ASSERT(payload.size() >= kBidFixedSize && payload[0] == 'B', "bid_price reads a bid payload");
  return get_i64(payload, kBidPriceAt);
}
void set_bid_price(std::string& payload, int64_t price) {
  SS_ASSERT(payload.size() >= kBidFixedSize && payload[0] == 'B', "set_bid_price writes a bid payload");
  const auto u = static_cast<uint64_t>(price);
  for (size_t i = 0; i < 8; ++i) payload[kBidPriceAt + i] = static_cast<char>((u >> (8 * i)) & 0xff);
}

engine::InputRecord record(const Generator& g, int64_t n, const std::string& topic, int32_t partition,
                           int64_t offset) {
  const Event e = g.event(n);
  engine::InputRecord r;
  r.source = engine::Provenance{topic, partition, offset};
  // The typed encoding of a string: tag 3, then the bytes (row.h).
  std::string value = encode(e);
  value.insert(value.begin(), '\3');
  r.value = std::move(value);
  r.timestamp_ms = e.timestamp_ms();
  return r;
}

// --- queries -------------------------------------------------------------

const char* to_string(QueryId q) {
  switch (q) {
    case QueryId::q0: return "q0";
    case QueryId::q1: return "q1";
    case QueryId::q2: return "q2";
    case QueryId::q5: return "q5";
    case QueryId::q7: return "q7";
  }
  return "?";
}

std::optional<QueryId> parse_query(std::string_view name) {
  for (QueryId q : kAllQueries)
    if (name == to_string(q)) return q;
  return std::nullopt;
}

namespace {

bool is_bid(const engine::Row& r) { return r.value.is_string() && kind(r.value.as_string()) == Event::Kind::bid; }

// Beam's Query1: dollars to euros, in integer arithmetic.
int64_t to_euros(int64_t price) { return price * 89 / 100; }

}  // namespace

Result<engine::Pipeline, engine::EngineError> pipeline(QueryId q, const QueryConfig& c) {
  using namespace engine;
  auto b = source(c.source).with_watermark(Duration::millis(c.watermark_delay_ms));
  switch (q) {
    case QueryId::q0:
      // A map that copies the row: the cost of one operator on every event.
      b.map([](const Row& r) { return r; });
      break;
    case QueryId::q1:
      b.filter(is_bid).map([](const Row& r) {
        Row out = r;
        std::string payload = r.value.as_string();
        set_bid_price(payload, to_euros(bid_price(payload)));
        out.value = Value(std::move(payload));
        return out;
      });
      break;
    case QueryId::q2: {
      const int64_t skip = c.auction_skip;
      b.filter([skip](const Row& r) { return is_bid(r) && bid_auction(r.value.as_string()) % skip == 0; })
          .map([](const Row& r) {
            const std::string& p = r.value.as_string();
            return Row{Value(bid_auction(p)), Value(bid_price(p)), r.event_time, r.source};
          });
      break;
    }
    case QueryId::q5:
      b.filter(is_bid)
          .key_by([](const Row& r) { return Value(bid_auction(r.value.as_string())); })
          .window(WindowSpec::sliding(Duration::millis(c.window_size_ms), Duration::millis(c.window_slide_ms)))
          .aggregate(Aggregate::count())
          .select_max_per_window();
      break;
    case QueryId::q7:
      // Every bid is its own key, aggregated to its price: selecting each
      // window's maximum joins the window's max price back to its bids.
      b.filter(is_bid)
          .map([](const Row& r) { return Row{r.value, Value(bid_price(r.value.as_string())), r.event_time, r.source}; })
          .window(WindowSpec::tumbling(Duration::millis(c.window_size_ms)))
          .aggregate(Aggregate::max())
          .select_max_per_window();
      break;
  }
  return b.output(OutputMode::append).sink(c.sink).build();
}

std::vector<engine::OutputRow> reference(QueryId q, const std::vector<RefInput>& input, const QueryConfig& c) {
  using namespace engine;
  std::vector<OutputRow> out;
  auto stateless = [&](Value key, Value value, const RefInput& in) {
    out.push_back(OutputRow{0, std::move(key), std::move(value), std::nullopt,
                            EventTime::from_ms(in.event.timestamp_ms()), in.source});
  };
  auto floor_to = [](int64_t t, int64_t step) { return (t >= 0 ? t / step : (t - step + 1) / step) * step; };
  switch (q) {
    case QueryId::q0:
      for (const RefInput& in : input) stateless(Value(), Value(encode(in.event)), in);
      break;
    case QueryId::q1:
      for (const RefInput& in : input) {
        if (in.event.kind != Event::Kind::bid) continue;
        Event e = in.event;
        e.bid.price = to_euros(e.bid.price);
        stateless(Value(), Value(encode(e)), in);
      }
      break;
    case QueryId::q2:
      for (const RefInput& in : input)
        if (in.event.kind == Event::Kind::bid && in.event.bid.auction % c.auction_skip == 0)
          stateless(Value(in.event.bid.auction), Value(in.event.bid.price), in);
      break;
    case QueryId::q5: {
      // (end, start) -> auction -> bids.
      std::map<std::pair<int64_t, int64_t>, std::map<int64_t, int64_t>> counts;
      for (const RefInput& in : input) {
        if (in.event.kind != Event::Kind::bid) continue;
        const int64_t t = in.event.bid.date_time;
        for (int64_t s = floor_to(t, c.window_slide_ms); s > t - c.window_size_ms; s -= c.window_slide_ms)
          ++counts[{s + c.window_size_ms, s}][in.event.bid.auction];
      }
      for (const auto& [w, per_auction] : counts) {
        int64_t best = 0;
        for (const auto& [a, n] : per_auction) best = std::max(best, n);
        for (const auto& [a, n] : per_auction)
          if (n == best)
            out.push_back(OutputRow{0, Value(a), Value(n), WindowBounds{EventTime::from_ms(w.second), EventTime::from_ms(w.first)},
                                    EventTime::from_ms(w.first - 1), std::nullopt});
      }
      break;
    }
    case QueryId::q7: {
      // Window start -> its bids (as payloads, a set: the bid is the key).
      std::map<int64_t, std::map<std::string, int64_t>> bids;
      for (const RefInput& in : input)
        if (in.event.kind == Event::Kind::bid)
          bids[floor_to(in.event.bid.date_time, c.window_size_ms)][encode(in.event)] = in.event.bid.price;
      for (const auto& [start, per_bid] : bids) {
        int64_t max_price = INT64_MIN;
        for (const auto& [p, price] : per_bid) max_price = std::max(max_price, price);
        const int64_t end = start + c.window_size_ms;
        for (const auto& [p, price] : per_bid)
          if (price == max_price)
            out.push_back(OutputRow{0, Value(p), Value(price), WindowBounds{EventTime::from_ms(start), EventTime::from_ms(end)},
                                    EventTime::from_ms(end - 1), std::nullopt});
      }
      break;
    }
  }
  return out;
}

}  // namespace streamsim::nexmark
