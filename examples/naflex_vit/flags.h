#pragma once
// Command-line flags of the naflex_vit example. `--name value` and `--name=value` both
// work; every error names the flag and says what was expected.
//
//   naflex_vit --steps 200 --buckets 64,128,256 --data fashion-mnist --out-dir run1
#include <cstdint>
#include <string>
#include <vector>

#include "examples/naflex_vit/trainer.h"

namespace naflex {

struct CliOptions {
  TrainOptions train;
  std::string device;       // empty: KILN_DEVICE (default cpu)
  int threads = 0;          // 0: KILN_NUM_THREADS (default all cores)
  std::string save_path;    // checkpoint written after training (empty: none)
  std::string out_dir = "naflex_vit_out";
  bool bench = false;       // print one JSON line of figures
  bool help = false;
};

// Parses argv[1..argc). Throws kiln::Error on an unknown flag, a missing value or a
// value that does not parse ("--steps: expected a positive integer, got 'ten'").
CliOptions ParseFlags(int argc, const char* const* argv);
CliOptions ParseFlags(const std::vector<std::string>& args);

// The --help text.
std::string Usage();

}  // namespace naflex
