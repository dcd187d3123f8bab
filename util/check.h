#pragma once
// KILN_CHECK: internal invariants only. A failed check is a bug in kiln, not bad user
// input (that gets a kiln::Error), so it prints the condition, file and line and aborts.
//
//   KILN_CHECK(index < operands.size()) << "operand " << index << " of " << name;
#include <sstream>

namespace kiln::internal {

// Collects the streamed message and aborts in its destructor.
class CheckFailure {
 public:
  CheckFailure(const char* condition, const char* file, int line);
  [[noreturn]] ~CheckFailure();
  std::ostream& stream() { return stream_; }

 private:
  std::ostringstream stream_;
};

// Lets `KILN_CHECK(c) << ...` be one expression of type void.
struct Voidify {
  void operator&(std::ostream&) {}
};

}  // namespace kiln::internal

#define KILN_CHECK(condition)                 \
  (condition) ? (void)0                       \
              : ::kiln::internal::Voidify() & \
                    ::kiln::internal::CheckFailure(#condition, __FILE__, __LINE__).stream()
