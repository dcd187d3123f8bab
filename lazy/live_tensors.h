#pragma once
// The registry of live tensors: every TensorImpl links itself in on construction and out
// on destruction (an intrusive list, O(1) and allocation-free on the tracing path).
// Creation order is kept so mark_step lists its outputs in a stable order and the same
// training step hashes the same way every time.
#include <memory>
#include <vector>

namespace kiln {

class TensorImpl;

namespace live_tensors {

void Add(TensorImpl* impl);
void Remove(TensorImpl* impl);
// Live tensors with pending IR, oldest first. Tensors being destroyed are skipped.
std::vector<std::shared_ptr<TensorImpl>> Pending();
// Every live tensor, oldest first (likewise).
std::vector<std::shared_ptr<TensorImpl>> All();
// Number of live tensors (for tests and the metrics report).
size_t Count();

}  // namespace live_tensors
}  // namespace kiln
