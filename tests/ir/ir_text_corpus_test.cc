// Replays the IR text fuzzer's corpus (fuzz/corpus/ir_text) through the property the
// fuzzer checks, so that every input it ever crashed on stays a regression test here,
// built with the ordinary compiler and run by ctest.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz/ir_text_round_trip.h"
#include "gtest/gtest.h"
#include "ir/ir_text.h"

namespace kiln {
namespace {

std::vector<std::filesystem::path> CorpusFiles() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(KILN_IR_TEXT_CORPUS_DIR)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(IrTextCorpusTest, EveryFileKeepsTheRoundTripProperty) {
  const std::vector<std::filesystem::path> files = CorpusFiles();
  ASSERT_GE(files.size(), 6u) << KILN_IR_TEXT_CORPUS_DIR;
  for (const auto& path : files) {
    EXPECT_EQ(fuzz::CheckIrTextRoundTrip(ReadFile(path)), "") << path;
  }
}

// The hand-written seeds (every name not starting "crash-", the fuzzer's reproducers) are
// valid graphs: a seed that stopped parsing would quietly start the fuzzer from nothing.
TEST(IrTextCorpusTest, SeedsParse) {
  for (const auto& path : CorpusFiles()) {
    if (path.filename().string().starts_with("crash-")) continue;
    const absl::StatusOr<Graph> graph = ParseGraph(ReadFile(path));
    EXPECT_TRUE(graph.ok()) << path << ": " << graph.status();
  }
}

// Text that fails to parse with an error is fine; only a graph that does not survive
// printing, or a crash, breaks the property.
TEST(IrTextCorpusTest, ParseErrorsKeepTheProperty) {
  EXPECT_EQ(fuzz::CheckIrTextRoundTrip("graph {\n  return ()\n}\n"), "");
  EXPECT_EQ(fuzz::CheckIrTextRoundTrip("graph {\n  %0 = f32[2] nope()\n"), "");
  EXPECT_EQ(fuzz::CheckIrTextRoundTrip(std::string("\0\xff{", 3)), "");
}

}  // namespace
}  // namespace kiln
