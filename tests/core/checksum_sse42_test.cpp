// The hardware CRC-32C path (SSE4.2, chosen at run time) must give exactly the
// values of the portable Boost.CRC path, for every length and resume point, so
// that data checksummed by one is verified by the other.
#include <streamsim/core/checksum.h>

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <string>

using namespace streamsim;

TEST_CASE("crc32c: the check value on both paths", "[checksum]") {
  CHECK(crc32c("123456789") == 0xE3069283u);
  CHECK(TEST_crc32c_portable(0, "123456789") == 0xE3069283u);
}

TEST_CASE("crc32c: every length from 0 to 100 and every split agree with Boost.CRC", "[checksum]") {
  std::string data;
  for (int i = 0; i < 100; ++i) data.push_back(static_cast<char>((i * 37 + 11) & 0xFF));
  for (size_t len = 0; len <= data.size(); ++len) {
    const std::string_view s(data.data(), len);
    REQUIRE(crc32c(s) == TEST_crc32c_portable(0, s));
    for (size_t cut = 0; cut <= len; cut += 3) {
      REQUIRE(crc32c_extend(crc32c(s.substr(0, cut)), s.substr(cut)) == TEST_crc32c_portable(0, s));
    }
  }
}

TEST_CASE("crc32c: the fast path equals Boost.CRC on arbitrary bytes and start values", "[checksum]") {
  rc::prop("fast == portable", [](uint32_t start, const std::string& data) {
    RC_ASSERT(crc32c_extend(start, data) == TEST_crc32c_portable(start, data));
  });
}
