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
  EXPECT_EQ(c.device, "cpu");
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
  EXPECT_EQ(c.device, "cpu");
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

TEST(ConfigTest, BackendDefaults) {
  std::vector<std::string> warnings;
  const Config c = ParseConfig({"PATH=/bin"}, &warnings);
  EXPECT_EQ(c.cxx, "c++");
  EXPECT_EQ(c.cxxflags, "-O3 -march=native -fopenmp -fno-math-errno -fPIC -shared");
  EXPECT_EQ(c.cache_dir, "");  // neither XDG_CACHE_HOME nor HOME: memory only
  EXPECT_TRUE(c.disk_cache);
  EXPECT_EQ(c.num_threads, 0);
  EXPECT_FALSE(c.profile);
  EXPECT_TRUE(c.batch_slicing);
  EXPECT_TRUE(c.avx2_sgemm);
  EXPECT_EQ(c.trace, "");
  EXPECT_FALSE(c.check_nan);
  EXPECT_THAT(warnings, IsEmpty());
}

TEST(ConfigTest, ParsesBackendValues) {
  std::vector<std::string> warnings;
  const Config c =
      ParseConfig({"KILN_CXX=/usr/bin/clang++-15", "KILN_CXXFLAGS=-O1 -g  -fPIC -shared",
                   "KILN_CACHE_DIR=/tmp/kiln cache", "KILN_DISK_CACHE=0", "KILN_NUM_THREADS=3",
                   "KILN_PROFILE=1", "KILN_BATCH_SLICING=0", "KILN_TRACE=/tmp/trace=1.json",
                   "KILN_CHECK_NAN=1", "KILN_AVX2_SGEMM=0"},
                  &warnings);
  EXPECT_EQ(c.cxx, "/usr/bin/clang++-15");
  // Kept verbatim; the host compiler splits it on whitespace.
  EXPECT_EQ(c.cxxflags, "-O1 -g  -fPIC -shared");
  EXPECT_EQ(c.cache_dir, "/tmp/kiln cache");
  EXPECT_FALSE(c.disk_cache);
  EXPECT_EQ(c.num_threads, 3);
  EXPECT_TRUE(c.profile);
  EXPECT_FALSE(c.batch_slicing);
  EXPECT_TRUE(c.check_nan);
  EXPECT_FALSE(c.avx2_sgemm);
  // Only the first '=' separates the name.
  EXPECT_EQ(c.trace, "/tmp/trace=1.json");
  EXPECT_THAT(warnings, IsEmpty());
}

TEST(ConfigTest, CacheDirDefaultPrefersAbsoluteXdgCacheHome) {
  std::vector<std::string> warnings;
  EXPECT_EQ(ParseConfig({"HOME=/home/u", "XDG_CACHE_HOME=/xdg"}, &warnings).cache_dir, "/xdg/kiln");
  // Order in the environment does not matter.
  EXPECT_EQ(ParseConfig({"XDG_CACHE_HOME=/xdg", "HOME=/home/u"}, &warnings).cache_dir, "/xdg/kiln");
  EXPECT_EQ(ParseConfig({"HOME=/home/u"}, &warnings).cache_dir, "/home/u/.cache/kiln");
  // A relative or empty XDG_CACHE_HOME is ignored (XDG Base Directory specification).
  EXPECT_EQ(ParseConfig({"HOME=/home/u", "XDG_CACHE_HOME=rel/cache"}, &warnings).cache_dir,
            "/home/u/.cache/kiln");
  EXPECT_EQ(ParseConfig({"HOME=/home/u", "XDG_CACHE_HOME="}, &warnings).cache_dir,
            "/home/u/.cache/kiln");
  EXPECT_EQ(ParseConfig({"XDG_CACHE_HOME=rel"}, &warnings).cache_dir, "");
  // An empty HOME counts as unset.
  EXPECT_EQ(ParseConfig({"HOME="}, &warnings).cache_dir, "");
  // KILN_CACHE_DIR wins over both, wherever it appears.
  EXPECT_EQ(ParseConfig({"KILN_CACHE_DIR=/k", "HOME=/home/u", "XDG_CACHE_HOME=/xdg"}, &warnings)
                .cache_dir,
            "/k");
  EXPECT_THAT(warnings, IsEmpty());
}

TEST(ConfigTest, BadBackendValuesWarnAndKeepTheDefault) {
  std::vector<std::string> warnings;
  const Config c = ParseConfig(
      {"HOME=/home/u", "KILN_CXX=", "KILN_CXXFLAGS= \t ", "KILN_CACHE_DIR=", "KILN_DISK_CACHE=2",
       "KILN_NUM_THREADS=-1", "KILN_PROFILE=verbose", "KILN_BATCH_SLICING=2",
       "KILN_CHECK_NAN=maybe", "KILN_AVX2_SGEMM=x"},
      &warnings);
  EXPECT_EQ(c.cxx, "c++");
  EXPECT_EQ(c.cxxflags, "-O3 -march=native -fopenmp -fno-math-errno -fPIC -shared");
  EXPECT_EQ(c.cache_dir, "/home/u/.cache/kiln");  // the default rule still applies
  EXPECT_TRUE(c.disk_cache);
  EXPECT_EQ(c.num_threads, 0);
  EXPECT_FALSE(c.profile);
  EXPECT_TRUE(c.batch_slicing);
  EXPECT_FALSE(c.check_nan);
  EXPECT_TRUE(c.avx2_sgemm);
  ASSERT_EQ(warnings.size(), 9u);
  EXPECT_THAT(warnings[0], HasSubstr("KILN_CXX= is not a compiler"));
  EXPECT_THAT(warnings[1], HasSubstr("KILN_CXXFLAGS="));
  EXPECT_THAT(warnings[1], HasSubstr("compiler flags"));
  EXPECT_THAT(warnings[2], HasSubstr("KILN_CACHE_DIR= is not a directory"));
  EXPECT_THAT(warnings[3], HasSubstr("KILN_DISK_CACHE=2"));
  EXPECT_THAT(warnings[4], HasSubstr("KILN_NUM_THREADS=-1"));
  EXPECT_THAT(warnings[4], HasSubstr("non-negative integer"));
  EXPECT_THAT(warnings[5], HasSubstr("KILN_PROFILE=verbose"));
  EXPECT_THAT(warnings[6], HasSubstr("KILN_BATCH_SLICING=2"));
  EXPECT_THAT(warnings[7], HasSubstr("KILN_CHECK_NAN=maybe"));
  EXPECT_THAT(warnings[8], HasSubstr("KILN_AVX2_SGEMM=x"));
}

TEST(ConfigTest, NumThreadsAndBooleans) {
  std::vector<std::string> warnings;
  EXPECT_EQ(ParseConfig({"KILN_NUM_THREADS=0"}, &warnings).num_threads, 0);
  EXPECT_EQ(ParseConfig({"KILN_NUM_THREADS=64"}, &warnings).num_threads, 64);
  EXPECT_TRUE(ParseConfig({"KILN_DISK_CACHE=yes"}, &warnings).disk_cache);
  EXPECT_FALSE(ParseConfig({"KILN_DISK_CACHE=off"}, &warnings).disk_cache);
  // An empty boolean means off.
  EXPECT_FALSE(ParseConfig({"KILN_DISK_CACHE="}, &warnings).disk_cache);
  EXPECT_TRUE(ParseConfig({"KILN_PROFILE=true"}, &warnings).profile);
  EXPECT_FALSE(ParseConfig({"KILN_PROFILE=0"}, &warnings).profile);
  EXPECT_THAT(warnings, IsEmpty());
  EXPECT_EQ(ParseConfig({"KILN_NUM_THREADS=two"}, &warnings).num_threads, 0);
  EXPECT_EQ(ParseConfig({"KILN_NUM_THREADS=4x"}, &warnings).num_threads, 0);
  EXPECT_EQ(ParseConfig({"KILN_NUM_THREADS="}, &warnings).num_threads, 0);
  EXPECT_EQ(ParseConfig({"KILN_NUM_THREADS=99999999999"}, &warnings).num_threads, 0);
  EXPECT_EQ(warnings.size(), 4u);
}

TEST(ConfigTest, TraceTakesAnyPathAndEmptyMeansOff) {
  std::vector<std::string> warnings;
  EXPECT_EQ(ParseConfig({"KILN_TRACE=trace.json"}, &warnings).trace, "trace.json");
  EXPECT_EQ(ParseConfig({"KILN_TRACE=/tmp/a b/t.json"}, &warnings).trace, "/tmp/a b/t.json");
  EXPECT_EQ(ParseConfig({"KILN_TRACE=x.json", "KILN_TRACE="}, &warnings).trace, "");
  EXPECT_EQ(ParseConfig({"KILN_TRACE"}, &warnings).trace, "");  // no '=' at all
  EXPECT_THAT(warnings, IsEmpty());
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
