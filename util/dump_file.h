#pragma once
// Writing a debugging dump (KILN_DUMP_DIR: plans, generated source) to a file.
#include <string>

namespace kiln {

// Writes `text` to dir/name, creating dir. A failure only warns on stderr: dumps are a
// debugging aid and must not fail the compile.
void DumpFile(const std::string& dir, const std::string& name, const std::string& text);

}  // namespace kiln
