#include "util/dump_file.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <system_error>

namespace kiln {

void DumpFile(const std::string& dir, const std::string& name, const std::string& text) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  const fs::path path = fs::path(dir) / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (ec || !out) std::fprintf(stderr, "kiln: warning: cannot write %s\n", path.c_str());
}

}  // namespace kiln
