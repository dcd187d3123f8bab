#include "util/config.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

extern char** environ;

namespace kiln {
namespace {

bool ParseBool(const std::string& value, bool* out) {
  if (value == "1" || value == "true" || value == "yes" || value == "on") return *out = true, true;
  if (value == "0" || value == "false" || value == "no" || value == "off" || value.empty()) {
    return *out = false, true;
  }
  return false;
}

Config& MutableConfig() {
  static Config* config = [] {
    std::vector<std::string> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) env.emplace_back(*e);
    std::vector<std::string> warnings;
    auto* parsed = new Config(ParseConfig(env, &warnings));
    for (const std::string& w : warnings) std::fprintf(stderr, "kiln: warning: %s\n", w.c_str());
    return parsed;
  }();
  return *config;
}

}  // namespace

Config ParseConfig(const std::vector<std::string>& env, std::vector<std::string>* warnings) {
  Config config;
  // XDG_CACHE_HOME must be absolute to count (XDG Base Directory specification).
  std::string xdg_cache_home, home;
  for (const std::string& entry : env) {
    if (absl::StartsWith(entry, "XDG_CACHE_HOME=/")) xdg_cache_home = entry.substr(15);
    if (absl::StartsWith(entry, "HOME=") && entry.size() > 5) home = entry.substr(5);
  }
  if (!xdg_cache_home.empty()) {
    config.cache_dir = xdg_cache_home + "/kiln";
  } else if (!home.empty()) {
    config.cache_dir = home + "/.cache/kiln";
  }
  auto bad_value = [&](const std::string& name, const std::string& value, const char* expected) {
    warnings->push_back(
        absl::StrCat(name, "=", value, " is not ", expected, "; using the default"));
  };
  for (const std::string& entry : env) {
    if (!absl::StartsWith(entry, "KILN_")) continue;
    const size_t eq = entry.find('=');
    const std::string name = entry.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : entry.substr(eq + 1);
    if (name == "KILN_DEVICE") {
      if (value == "interp" || value == "cpu" || value == "cuda" ||
          value == "cuda_emulated") {
        config.device = value;
      } else {
        bad_value(name, value, "one of interp, cpu, cuda, cuda_emulated");
      }
    } else if (name == "KILN_CACHE_SIZE") {
      int64_t size;
      if (absl::SimpleAtoi(value, &size) && size > 0) {
        config.cache_size = size;
      } else {
        bad_value(name, value, "a positive integer");
      }
    } else if (name == "KILN_DEBUG") {
      int level;
      if (absl::SimpleAtoi(value, &level) && level >= 0) {
        config.debug = level;
      } else {
        bad_value(name, value, "0, 1 or 2");
      }
    } else if (name == "KILN_DUMP_DIR") {
      config.dump_dir = value;
    } else if (name == "KILN_ERROR_ON_RECOMPILE") {
      if (!ParseBool(value, &config.error_on_recompile)) bad_value(name, value, "0 or 1");
    } else if (name == "KILN_CXX") {
      if (!value.empty()) {
        config.cxx = value;
      } else {
        bad_value(name, value, "a compiler");
      }
    } else if (name == "KILN_CXXFLAGS") {
      // Empty flags could not build a shared library; an empty value is a mistake.
      if (value.find_first_not_of(" \t") != std::string::npos) {
        config.cxxflags = value;
      } else {
        bad_value(name, value, "a list of compiler flags");
      }
    } else if (name == "KILN_CACHE_DIR") {
      if (!value.empty()) {
        config.cache_dir = value;
      } else {
        bad_value(name, value, "a directory");
      }
    } else if (name == "KILN_DISK_CACHE") {
      if (!ParseBool(value, &config.disk_cache)) bad_value(name, value, "0 or 1");
    } else if (name == "KILN_NUM_THREADS") {
      int threads;
      if (absl::SimpleAtoi(value, &threads) && threads >= 0) {
        config.num_threads = threads;
      } else {
        bad_value(name, value, "a non-negative integer");
      }
    } else if (name == "KILN_CUDA_FAST_MATH") {
      if (!ParseBool(value, &config.cuda_fast_math)) bad_value(name, value, "0 or 1");
    } else if (name == "KILN_ALLOW_TF32") {
      if (!ParseBool(value, &config.allow_tf32)) bad_value(name, value, "0 or 1");
    } else if (name == "KILN_PROFILE") {
      if (!ParseBool(value, &config.profile)) bad_value(name, value, "0 or 1");
    } else if (name == "KILN_BATCH_SLICING") {
      if (!ParseBool(value, &config.batch_slicing)) bad_value(name, value, "0 or 1");
    } else if (name == "KILN_AVX2_SGEMM") {
      if (!ParseBool(value, &config.avx2_sgemm)) bad_value(name, value, "0 or 1");
    } else if (name == "KILN_CHECK_NAN") {
      if (!ParseBool(value, &config.check_nan)) bad_value(name, value, "0 or 1");
    } else if (name == "KILN_TRACE") {
      config.trace = value;
    } else {
      warnings->push_back(absl::StrCat("unknown environment variable ", name, " (ignored)"));
    }
  }
  return config;
}

const Config& config() { return MutableConfig(); }

ScopedConfigOverride::ScopedConfigOverride() : saved_(MutableConfig()) {}
ScopedConfigOverride::~ScopedConfigOverride() { MutableConfig() = saved_; }
Config* ScopedConfigOverride::operator->() { return &MutableConfig(); }
Config& ScopedConfigOverride::operator*() { return MutableConfig(); }

}  // namespace kiln
