// libFuzzer target for the IR text parser (ir/ir_text.h); the property it checks is in
// ir_text_round_trip.h. Built by fuzz/CMakeLists.txt with clang, AddressSanitizer and
// UndefinedBehaviorSanitizer; run with `bash scripts/kiln.sh fuzz [seconds]`.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz/ir_text_round_trip.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string failure =
      kiln::fuzz::CheckIrTextRoundTrip(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!failure.empty()) {
    std::fprintf(stderr, "ir_text_fuzzer: %s\n", failure.c_str());
    std::abort();
  }
  return 0;
}
