#include "util/config.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(ConfigTest, DefaultsWithoutKilnVariables) {
  std::vector<std::string> warnings;
  const Config c = ParseConfig({"HOME=/root", "PATH=/bin"}, &warnings);
  EXPECT_EQ(c.device, "interp");
  EXPECT_EQ(c.cache_size, 1024);
  EXPECT_EQ(c.debug, 0);
  EXPECT_EQ(c.dump_dir, "");
  EXPECT_FALSE(c.error_on_recompile);
  EXPECT_THAT(warnings, IsEmpty());
}

TEST(ConfigTest, ParsesValidValues) {
  std::vector<std::string> warnings;
  const Config c = ParseConfig({"KILN_DEVICE=cpu", "KILN_CACHE_SIZE=16", "KILN_DEBUG=2",
                                "KILN_DUMP_DIR=/tmp/kiln dumps", "KILN_ERROR_ON_RECOMPILE=1"},
                               &warnings);
  EXPECT_EQ(c.device, "cpu");
  EXPECT_EQ(c.cache_size, 16);
  EXPECT_EQ(c.debug, 2);
  EXPECT_EQ(c.dump_dir, "/tmp/kiln dumps");
  EXPECT_TRUE(c.error_on_recompile);
  EXPECT_THAT(warnings, IsEmpty());
}

TEST(ConfigTest, BooleanSpellings) {
  std::vector<std::string> warnings;
  EXPECT_TRUE(ParseConfig({"KILN_ERROR_ON_RECOMPILE=true"}, &warnings).error_on_recompile);
  EXPECT_TRUE(ParseConfig({"KILN_ERROR_ON_RECOMPILE=on"}, &warnings).error_on_recompile);
  EXPECT_FALSE(ParseConfig({"KILN_ERROR_ON_RECOMPILE=0"}, &warnings).error_on_recompile);
  EXPECT_FALSE(ParseConfig({"KILN_ERROR_ON_RECOMPILE="}, &warnings).error_on_recompile);
  EXPECT_THAT(warnings, IsEmpty());
}

TEST(ConfigTest, LaterEntriesWin) {
  std::vector<std::string> warnings;
  const Config c = ParseConfig({"KILN_DEBUG=1", "KILN_DEBUG=2"}, &warnings);
  EXPECT_EQ(c.debug, 2);
}

TEST(ConfigTest, BadValuesWarnAndKeepTheDefault) {
  std::vector<std::string> warnings;
  const Config c = ParseConfig(
      {"KILN_DEVICE=tpu", "KILN_CACHE_SIZE=0", "KILN_DEBUG=loud", "KILN_ERROR_ON_RECOMPILE=maybe"},
      &warnings);
  EXPECT_EQ(c.device, "interp");
  EXPECT_EQ(c.cache_size, 1024);
  EXPECT_EQ(c.debug, 0);
  EXPECT_FALSE(c.error_on_recompile);
  ASSERT_EQ(warnings.size(), 4u);
  EXPECT_THAT(warnings[0], HasSubstr("KILN_DEVICE=tpu"));
  EXPECT_THAT(warnings[0], HasSubstr("interp, cpu, cuda"));
  EXPECT_THAT(warnings[1], HasSubstr("KILN_CACHE_SIZE=0"));
  EXPECT_THAT(warnings[1], HasSubstr("positive integer"));
  EXPECT_THAT(warnings[2], HasSubstr("KILN_DEBUG=loud"));
  EXPECT_THAT(warnings[3], HasSubstr("KILN_ERROR_ON_RECOMPILE=maybe"));
}

TEST(ConfigTest, NegativeAndNonNumericSizesAreRejected) {
  std::vector<std::string> warnings;
  EXPECT_EQ(ParseConfig({"KILN_CACHE_SIZE=-5"}, &warnings).cache_size, 1024);
  EXPECT_EQ(ParseConfig({"KILN_CACHE_SIZE=12abc"}, &warnings).cache_size, 1024);
  EXPECT_EQ(ParseConfig({"KILN_DEBUG=-1"}, &warnings).debug, 0);
  EXPECT_EQ(warnings.size(), 3u);
}

TEST(ConfigTest, UnknownKilnVariableWarns) {
  std::vector<std::string> warnings;
  const Config c = ParseConfig({"KILN_DEBGU=1", "KILNX=1", "OTHER_KILN_DEBUG=1"}, &warnings);
  EXPECT_EQ(c.debug, 0);
  // Only names starting with KILN_ are ours.
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_THAT(warnings[0], HasSubstr("unknown environment variable KILN_DEBGU"));
}

TEST(ConfigTest, ScopedOverrideRestores) {
  const Config before = config();
  {
    ScopedConfigOverride cfg;
    cfg->debug = before.debug + 2;
    cfg->cache_size = 7;
    (*cfg).dump_dir = "/tmp/kiln-config-test";
    EXPECT_EQ(config().debug, before.debug + 2);
    EXPECT_EQ(config().cache_size, 7);
    EXPECT_EQ(config().dump_dir, "/tmp/kiln-config-test");
    {
      ScopedConfigOverride inner;
      inner->cache_size = 3;
      EXPECT_EQ(config().cache_size, 3);
    }
    EXPECT_EQ(config().cache_size, 7);
  }
  EXPECT_EQ(config().debug, before.debug);
  EXPECT_EQ(config().cache_size, before.cache_size);
  EXPECT_EQ(config().dump_dir, before.dump_dir);
}

}  // namespace
}  // namespace kiln
