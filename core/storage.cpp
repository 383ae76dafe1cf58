// Names for storage error codes (for logs, reports and test failure messages).
#include <streamsim/core/storage.h>

namespace streamsim {

const char* to_string(IoErrc e) {
  switch (e) {
    case IoErrc::not_found: return "not_found";
    case IoErrc::exists: return "exists";
    case IoErrc::invalid_argument: return "invalid_argument";
    case IoErrc::io_error: return "io_error";
  }
  // An out-of-range value can only come from a cast; name it instead of crashing
  // because this is mostly called while reporting some other failure.
  return "unknown IoErrc";
}

}  // namespace streamsim
