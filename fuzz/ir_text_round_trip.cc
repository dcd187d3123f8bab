#include "fuzz/ir_text_round_trip.h"

#include "absl/strings/str_cat.h"
#include "ir/ir_text.h"

namespace kiln::fuzz {

std::string CheckIrTextRoundTrip(std::string_view text) {
  const absl::StatusOr<Graph> graph = ParseGraph(text);
  if (!graph.ok()) {
    if (graph.status().code() != absl::StatusCode::kInvalidArgument) {
      return absl::StrCat("a parse error that is not InvalidArgument: ", graph.status().ToString());
    }
    return "";
  }
  const std::string printed = PrintGraph(*graph);
  const absl::StatusOr<Graph> again = ParseGraph(printed);
  if (!again.ok()) {
    return absl::StrCat("the printed graph does not parse: ", again.status().ToString(), "\n",
                        printed);
  }
  if (!(*again == *graph)) {
    return absl::StrCat("the printed graph parses to another graph:\n", printed);
  }
  const std::string reprinted = PrintGraph(*again);
  if (reprinted != printed) {
    return absl::StrCat("printing is not stable:\n", printed, "then\n", reprinted);
  }
  return "";
}

}  // namespace kiln::fuzz
