// Checksums and self-checking record framing for anything written to Storage.
//
// CRC-32C comes from the SSE4.2 instruction where available, else Boost.CRC. A framed record is
//   [u32 little-endian payload length][u32 crc32c(length bytes + payload)][payload]
// so a torn length, a torn payload and a flipped bit anywhere are all detected.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace streamsim {

// On x86-64 CPUs with SSE4.2 (checked at run time) these use the CRC32
// instruction; elsewhere Boost.CRC. Both give identical values.
uint32_t crc32c(std::string_view data);
uint32_t crc32c_extend(uint32_t crc, std::string_view data);
// The Boost.CRC computation alone, so tests can compare the two paths.
uint32_t TEST_crc32c_portable(uint32_t crc, std::string_view data);

// Appends one framed record to out.
void frame_record(std::string& out, std::string_view payload);
// The checksum frame_record would store for payload, and frame_record with that
// checksum already known: a payload framed identically in several places (one
// Kafka batch on three replicas) is checksummed once. Precondition: crc ==
// frame_crc(payload); a wrong one is caught on read as corruption, never trusted.
uint32_t frame_crc(std::string_view payload);
void frame_record(std::string& out, std::string_view payload, uint32_t crc);
// Writes the 8-byte frame header ([u32 length][u32 crc]) at out, for a caller
// that builds the payload in place right behind it (no copy of the payload).
// The same precondition on crc as above.
void write_frame_header(char* out, uint64_t payload_size, uint32_t crc);

struct FramedScan {
  std::vector<std::string> records;  // every intact record, in order
  uint64_t valid_bytes = 0;          // length of the intact prefix
  bool corrupt_tail = false;         // bytes after valid_bytes failed the check
  uint64_t corrupt_offset = 0;       // first offset that failed (if corrupt_tail)
};
// Scans framed records from the start of data and stops at the first record that
// is incomplete or fails its checksum. Recovery truncates the file to valid_bytes.
FramedScan scan_records(std::string_view data);

}  // namespace streamsim
