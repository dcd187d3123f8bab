#pragma once
// The property the IR text fuzzer checks (ir_text_fuzzer.cc), shared with the test that
// replays its corpus (tests/ir/ir_text_corpus_test.cc): any text either fails to parse
// with an error or parses to a graph that prints to text which parses back to an equal
// graph printing the same text. A crash, hang or sanitizer report is a failure too.
#include <string>
#include <string_view>

namespace kiln::fuzz {

// Empty when `text` has the property; otherwise what broke it.
std::string CheckIrTextRoundTrip(std::string_view text);

}  // namespace kiln::fuzz
