#include "tests/differential/differential_run.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "backends/backend.h"
#include "tests/differential/value_ranges.h"

namespace kiln::differential {
namespace {

// The DeviceData leaf `value` comes from through ops that keep its elements (casts and
// views), or null.
const Node* SourceLeaf(const Value& value) {
  const Node* node = value.node.get();
  while (true) {
    switch (node->op()) {
      case OpKind::kDeviceData:
        return node;
      case OpKind::kCast:
      case OpKind::kReshape:
      case OpKind::kPermute:
      case OpKind::kExpand:
      case OpKind::kSlice:
        node = node->operand(0).node.get();
        break;
      default:
        return nullptr;
    }
  }
}

// For every parameter used as an index: the smallest size among the dimensions it indexes.
absl::flat_hash_map<const Node*, int64_t> IndexBounds(const Graph& graph) {
  absl::flat_hash_map<const Node*, int64_t> bounds;
  for (const Node* node : graph.post_order()) {
    if (node->op() != OpKind::kGather && node->op() != OpKind::kIndexSelect &&
        node->op() != OpKind::kScatterAdd) {
      continue;
    }
    const Node* leaf = SourceLeaf(node->operand(1));
    if (leaf == nullptr) continue;
    const Shape& indexed = node->operand(0).shape();
    const int64_t size = indexed.rank() == 0 ? 1 : indexed.size(node->attrs().GetInt("dim"));
    auto [it, inserted] = bounds.emplace(leaf, size);
    if (!inserted) it->second = std::min(it->second, size);
  }
  return bounds;
}

void ToHost(DType dtype, const std::vector<double>& values, void* out) {
  for (size_t i = 0; i < values.size(); ++i) {
    const double v = values[i];
    switch (dtype) {
      case DType::kF32:
        static_cast<float*>(out)[i] = static_cast<float>(v);
        break;
      case DType::kF64:
        static_cast<double*>(out)[i] = v;
        break;
      case DType::kI32:
        static_cast<int32_t*>(out)[i] = static_cast<int32_t>(v);
        break;
      case DType::kI64:
        static_cast<int64_t*>(out)[i] = static_cast<int64_t>(v);
        break;
      default:
        static_cast<bool*>(out)[i] = v != 0;
        break;
    }
  }
}

std::vector<double> FromHost(const Shape& shape, const void* data) {
  std::vector<double> values(shape.numel());
  for (size_t i = 0; i < values.size(); ++i) {
    switch (shape.dtype()) {
      case DType::kF32:
        values[i] = static_cast<const float*>(data)[i];
        break;
      case DType::kF64:
        values[i] = static_cast<const double*>(data)[i];
        break;
      case DType::kI32:
        values[i] = static_cast<const int32_t*>(data)[i];
        break;
      case DType::kI64:
        values[i] = static_cast<double>(static_cast<const int64_t*>(data)[i]);
        break;
      default:
        values[i] = static_cast<const bool*>(data)[i] ? 1 : 0;
        break;
    }
  }
  return values;
}

bool ComputesInF32(const Graph& graph) {
  return std::any_of(graph.post_order().begin(), graph.post_order().end(),
                     [](const Node* node) { return node->shape().dtype() == DType::kF32; });
}

bool Agrees(double want, double got, double tolerance) {
  if (std::isnan(want) || std::isnan(got)) return std::isnan(want) && std::isnan(got);
  if (std::isinf(want) || std::isinf(got)) return want == got;
  return std::fabs(want - got) <= tolerance;
}

}  // namespace

Inputs RandomInputs(const Graph& graph, uint64_t seed) {
  const absl::flat_hash_map<const Node*, int64_t> index_bounds = IndexBounds(graph);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> floats(-kFloatInputBound, kFloatInputBound);
  std::uniform_int_distribution<int> ints(-kIntInputBound, kIntInputBound);
  std::uniform_int_distribution<int> bools(0, 1);
  Inputs inputs;
  for (const Node* param : graph.parameters()) {
    if (param->op() == OpKind::kScalar) {
      inputs.push_back({param->scalar_value()});
      continue;
    }
    const DType dtype = param->shape().dtype();
    std::vector<double>& values = inputs.emplace_back(param->shape().numel());
    if (auto it = index_bounds.find(param); it != index_bounds.end()) {
      std::uniform_int_distribution<int64_t> index(0, std::max<int64_t>(it->second - 1, 0));
      for (double& v : values) v = static_cast<double>(index(rng));
    } else if (IsFloating(dtype)) {
      for (double& v : values) v = floats(rng);
    } else if (dtype == DType::kBool) {
      for (double& v : values) v = bools(rng);
    } else {
      for (double& v : values) v = ints(rng);
    }
  }
  return inputs;
}

RunResult RunGraph(Backend& backend, const Graph& graph, const Inputs& inputs) {
  RunResult result;
  std::vector<BufferPtr> buffers;
  std::vector<Argument> args(graph.parameters().size());
  for (size_t i = 0; i < args.size(); ++i) {
    const Node* param = graph.parameters()[i];
    if (param->op() == OpKind::kScalar) {
      args[i].scalar = inputs[i][0];
      continue;
    }
    std::vector<char> host(param->shape().byte_size());
    ToHost(param->shape().dtype(), inputs[i], host.data());
    absl::StatusOr<BufferPtr> buffer = backend.CopyIn(param->shape(), host.data());
    if (!buffer.ok()) {
      result.status = buffer.status();
      return result;
    }
    args[i].buffer = buffer->get();
    buffers.push_back(*std::move(buffer));
  }
  absl::StatusOr<std::unique_ptr<Executable>> executable = backend.Compile(graph);
  if (!executable.ok()) {
    result.status = executable.status();
    return result;
  }
  absl::StatusOr<std::vector<BufferPtr>> outputs = (*executable)->Run(args);
  if (!outputs.ok()) {
    result.status = outputs.status();
    return result;
  }
  for (const BufferPtr& out : *outputs) {
    std::vector<char> host(out->shape().byte_size());
    if (absl::Status s = backend.CopyOut(*out, host.data()); !s.ok()) {
      result.status = s;
      result.outputs.clear();
      return result;
    }
    result.outputs.push_back(FromHost(out->shape(), host.data()));
  }
  return result;
}

Reference RunReference(const Graph& graph, const Inputs& inputs) {
  Backend& interp = *GetBackend("interp").value();
  // Every node as an output, so that the magnitudes inside the graph are seen too.
  // Each node appears as an operand of a later node or as an output (post-order either way).
  std::vector<Value> every_node;
  absl::flat_hash_set<const Node*> listed;
  auto list = [&](const Value& v) {
    if (listed.insert(v.node.get()).second) every_node.push_back(v);
  };
  for (const Node* node : graph.post_order()) {
    for (const Value& operand : node->operands()) list(operand);
  }
  for (const Value& out : graph.outputs()) list(out);
  const Graph full = Graph::Build(every_node);
  absl::flat_hash_map<const Node*, size_t> parameter_index;
  for (size_t i = 0; i < graph.parameters().size(); ++i) {
    parameter_index[graph.parameters()[i]] = i;
  }
  Inputs full_inputs;
  for (const Node* param : full.parameters()) {
    full_inputs.push_back(inputs[parameter_index.at(param)]);
  }
  const RunResult all = RunGraph(interp, full, full_inputs);

  Reference reference;
  if (!all.status.ok()) {
    reference.result.status = all.status;
    return reference;
  }
  // The largest magnitude in each node's value and everything it is computed from.
  absl::flat_hash_map<const Node*, double> largest;
  absl::flat_hash_map<const Node*, size_t> position;
  for (size_t i = 0; i < every_node.size(); ++i) {
    double m = 0;
    for (double v : all.outputs[i]) {
      if (std::isfinite(v)) m = std::max(m, std::fabs(v));
    }
    const Node* node = every_node[i].node.get();
    for (const Value& operand : node->operands()) m = std::max(m, largest.at(operand.node.get()));
    largest[node] = m;
    position[node] = i;
  }
  for (const Value& out : graph.outputs()) {
    reference.result.outputs.push_back(all.outputs[position.at(out.node.get())]);
    reference.scales.push_back(largest.at(out.node.get()));
  }
  return reference;
}

std::vector<Mismatch> CompareRuns(const Graph& graph, const Reference& reference,
                                  const RunResult& got) {
  const RunResult& want = reference.result;
  if (!want.status.ok() || !got.status.ok()) {
    if (!want.status.ok() && !got.status.ok()) return {};
    return {{-1, want.status.ok()
                     ? absl::StrCat("only it failed: ", got.status.ToString())
                     : absl::StrCat("only the reference failed: ", want.status.ToString())}};
  }
  const bool f32 = ComputesInF32(graph);
  const double rtol = f32 ? 1e-3 : 1e-9;
  const double atol = f32 ? 1e-4 : 1e-10;
  std::vector<Mismatch> mismatches;
  for (size_t o = 0; o < graph.outputs().size(); ++o) {
    const Shape& shape = graph.outputs()[o].shape();
    const std::vector<double>& w = want.outputs[o];
    const std::vector<double>& g = got.outputs[o];
    if (w.size() != g.size()) {
      mismatches.push_back(
          {static_cast<int>(o), absl::StrCat(g.size(), " elements, expected ", w.size())});
      continue;
    }
    const double scale = std::max(1.0, reference.scales[o]);
    for (size_t i = 0; i < w.size(); ++i) {
      const double tolerance =
          IsFloating(shape.dtype()) ? rtol * std::fabs(w[i]) + atol * scale : 0;
      if (!Agrees(w[i], g[i], tolerance)) {
        mismatches.push_back(
            {static_cast<int>(o),
             absl::StrCat("output ", o, " ", shape.ToString(), " element ", i, ": ", g[i],
                          ", expected ", w[i], " (tolerance ", tolerance, ")")});
        break;
      }
    }
  }
  return mismatches;
}

}  // namespace kiln::differential
