// A kernel the host compiler rejects (forced with a flag it does not know): mark_step
// throws naming the graph, with the compiler's message and the kept source file; the
// graph's tensors stay pending, and the same graph and others compile once the flags are
// good again.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lazy/kiln.h"
#include "util/config.h"
#include "util/error.h"

namespace kiln {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The path after "source kept in " in `message`, up to the end of its line.
std::string KeptSource(const std::string& message) {
  const std::string marker = "source kept in ";
  const size_t start = message.find(marker);
  if (start == std::string::npos) return "";
  const size_t begin = start + marker.size();
  return message.substr(begin, message.find('\n', begin) - begin);
}

TEST(CpuCompileFailureTest, ABadFlagFailsTheStepAndTheProcessGoesOn) {
  set_device("cpu");
  const Tensor x = Tensor::from_vector<float>({1, 2, 3}, {3});
  const Tensor y = exp(x) * 2.0 + 0.25;
  std::string message;
  {
    ScopedConfigOverride cfg;
    cfg->cxxflags = "-O1 -fPIC -shared -fno-such-option-kiln";
    try {
      mark_step();
    } catch (const Error& e) {
      message = e.what();
    }
  }
  EXPECT_THAT(message, HasSubstr("cpu: compiling graph "));
  EXPECT_THAT(message, HasSubstr("host compiler failed"));
  EXPECT_THAT(message, HasSubstr("-fno-such-option-kiln"));  // the compiler's complaint
  const std::string source = KeptSource(message);
  ASSERT_TRUE(std::filesystem::exists(source)) << message;
  std::stringstream text;
  text << std::ifstream(source).rdbuf();
  EXPECT_THAT(text.str(), HasSubstr("extern \"C\" void kiln_k0("));
  EXPECT_TRUE(y.is_pending());

  // The flags are good again: the same graph compiles, and so does another.
  const std::vector<float> got = y.to_vector<float>();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_FLOAT_EQ(got[0], 2 * std::exp(1.0f) + 0.25f);
  EXPECT_THAT((x * 4.0).to_vector<float>(), ElementsAre(4, 8, 12));
  set_device("interp");
}

}  // namespace
}  // namespace kiln
