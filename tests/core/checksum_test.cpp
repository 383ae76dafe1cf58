// CRC-32C and record framing: known values, round trips, torn tails, bit flips.
#include <streamsim/core/checksum.h>

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <string>
#include <vector>

using namespace streamsim;

namespace {

std::string frame_all(const std::vector<std::string>& payloads, std::vector<uint64_t>* ends = nullptr) {
  std::string out;
  for (const auto& p : payloads) {
    frame_record(out, p);
    if (ends) ends->push_back(out.size());
  }
  return out;
}

// Payload lists small enough to keep the per-bit property fast but with records
// of length zero, a few bytes and a few hundred bytes.
rc::Gen<std::vector<std::string>> payload_lists() {
  return rc::gen::resize(40, rc::gen::container<std::vector<std::string>>(rc::gen::string<std::string>()));
}

}  // namespace

TEST_CASE("crc32c matches the standard check value", "[checksum]") {
  CHECK(crc32c("123456789") == 0xE3069283u);
  CHECK(crc32c("") == 0u);
  // RFC 3720 (iSCSI) B.4 test vector: 32 bytes of zeros.
  CHECK(crc32c(std::string(32, '\0')) == 0x8A9136AAu);
}

TEST_CASE("crc32c_extend continues a finished checksum", "[checksum]") {
  CHECK(crc32c_extend(crc32c("1234"), "56789") == 0xE3069283u);
  CHECK(crc32c_extend(0, "123456789") == 0xE3069283u);
  rc::prop("extend(crc(a), b) == crc(a + b)", [](const std::string& a, const std::string& b) {
    RC_ASSERT(crc32c_extend(crc32c(a), b) == crc32c(a + b));
  });
}

TEST_CASE("frame_record writes the documented layout", "[checksum]") {
  std::string out = "prefix";
  frame_record(out, "abc");
  REQUIRE(out.size() == 6 + 8 + 3);
  const std::string rec = out.substr(6);
  CHECK(rec.substr(0, 4) == std::string("\x03\x00\x00\x00", 4));
  const uint32_t crc = crc32c(std::string("\x03\x00\x00\x00", 4) + "abc");
  const std::string crc_le{static_cast<char>(crc & 0xFF), static_cast<char>((crc >> 8) & 0xFF),
                           static_cast<char>((crc >> 16) & 0xFF), static_cast<char>((crc >> 24) & 0xFF)};
  CHECK(rec.substr(4, 4) == crc_le);
  CHECK(rec.substr(8) == "abc");
}

TEST_CASE("scan_records of an empty buffer is clean", "[checksum]") {
  FramedScan s = scan_records("");
  CHECK(s.records.empty());
  CHECK(s.valid_bytes == 0);
  CHECK_FALSE(s.corrupt_tail);
}

TEST_CASE("frame then scan round-trips any payload list", "[checksum]") {
  rc::prop("round trip", [] {
    const auto payloads = *payload_lists();
    const std::string framed = frame_all(payloads);
    FramedScan s = scan_records(framed);
    RC_ASSERT(s.records == payloads);
    RC_ASSERT(s.valid_bytes == framed.size());
    RC_ASSERT(!s.corrupt_tail);
  });
}

TEST_CASE("a cut anywhere keeps exactly the records before it", "[checksum]") {
  rc::prop("truncation", [] {
    const auto payloads = *payload_lists();
    std::vector<uint64_t> ends;
    const std::string framed = frame_all(payloads, &ends);
    const uint64_t cut = *rc::gen::inRange<uint64_t>(0, framed.size() + 1);
    FramedScan s = scan_records(std::string_view(framed).substr(0, cut));

    size_t whole = 0;
    while (whole < ends.size() && ends[whole] <= cut) ++whole;
    const uint64_t boundary = whole == 0 ? 0 : ends[whole - 1];
    RC_ASSERT(s.records == std::vector<std::string>(payloads.begin(), payloads.begin() + whole));
    RC_ASSERT(s.valid_bytes == boundary);
    RC_ASSERT(s.corrupt_tail == (cut != boundary));
    if (s.corrupt_tail) RC_ASSERT(s.corrupt_offset == boundary);
  });
}

TEST_CASE("a length claiming more than remains is a torn record", "[checksum]") {
  std::string framed;
  frame_record(framed, "ok");
  const uint64_t first = framed.size();
  // A header whose length is absurd (4 GiB - 1) followed by a few bytes: the scan
  // must report a torn tail at its offset without reading or allocating past the end.
  framed += std::string("\xFF\xFF\xFF\xFF", 4) + std::string("\x00\x00\x00\x00", 4) + "xyz";
  FramedScan s = scan_records(framed);
  CHECK(s.records == std::vector<std::string>{"ok"});
  CHECK(s.valid_bytes == first);
  CHECK(s.corrupt_tail);
  CHECK(s.corrupt_offset == first);
}

TEST_CASE("a single flipped bit anywhere is detected", "[checksum]") {
  rc::prop("bit flip", [] {
    const auto payloads = *rc::gen::nonEmpty(payload_lists());
    std::vector<uint64_t> ends;
    std::string framed = frame_all(payloads, &ends);
    const uint64_t bit = *rc::gen::inRange<uint64_t>(0, framed.size() * 8);
    framed[bit / 8] = static_cast<char>(static_cast<unsigned char>(framed[bit / 8]) ^ (1u << (bit % 8)));

    // The record holding the flipped byte and everything after it are dropped;
    // everything before it is returned unchanged.
    size_t hit = 0;
    while (ends[hit] <= bit / 8) ++hit;
    const uint64_t start = hit == 0 ? 0 : ends[hit - 1];
    FramedScan s = scan_records(framed);
    RC_ASSERT(s.records == std::vector<std::string>(payloads.begin(), payloads.begin() + hit));
    RC_ASSERT(s.corrupt_tail);
    RC_ASSERT(s.corrupt_offset == start);
    RC_ASSERT(s.valid_bytes == start);
  });
}
