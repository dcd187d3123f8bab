#include "codegen/batch_slicing.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "ir/shape.h"

namespace kiln::codegen {
namespace {

int64_t Numel(const Sizes& sizes) {
  int64_t n = 1;
  for (int64_t d : sizes) n *= d;
  return n;
}

// What the analysis knows of one index expression.
struct IndexInfo {
  bool batched = false;  // depends on a batch variable, as batch * coef + (the rest)
  int64_t coef = 0;
  bool number = false;  // only constants and sizes: its value is `value`
  int64_t value = 0;
};

class Analysis {
 public:
  explicit Analysis(const KernelIR& ir)
      : ir_(ir), info_(ir.exprs.size()), strides_(ir.buffers.size(), -1) {}

  std::optional<BatchSlicing> Run() {
    if (!ir_.checks.empty()) return std::nullopt;
    for (const BufferArg& b : ir_.buffers) {
      if (b.role == BufferRole::kScratch) return std::nullopt;
    }
    if (!ir_.nests.empty() && !FindBatchSymbol()) return std::nullopt;
    if (!AnalyseNests()) return std::nullopt;
    for (const MatmulCall& call : ir_.matmuls) {
      if (!AnalyseMatmul(call)) return std::nullopt;
    }
    if (slices_ < 2) return std::nullopt;
    BatchSlicing result;
    result.slices = slices_;
    result.size_symbol = symbol_;
    for (size_t b = 0; b < ir_.buffers.size(); ++b) {
      const BufferArg& buffer = ir_.buffers[b];
      int64_t stride = strides_[b];
      if (stride < 0) stride = 0;  // never accessed by a sliced loop or matmul
      // A slice of a buffer must be a contiguous 1/B of it; an output every slice writes
      // whole would be written B times over.
      if (stride > 0 ? stride * slices_ != Numel(buffer.shape)
                     : buffer.role != BufferRole::kInput) {
        return std::nullopt;
      }
      result.strides.push_back(stride);
    }
    return result;
  }

 private:
  // The size symbol of the first nest's outermost loop, which every nest must run over.
  bool FindBatchSymbol() {
    for (const LoopNest& nest : ir_.nests) {
      if (nest.kind != NestKind::kLoops || nest.num_parallel < 1 || nest.vars.empty()) return false;
      const Expr& bound = ir_.exprs[ir_.vars[nest.vars[0]].size_expr];
      if (bound.kind != ExprKind::kSizeArg) return false;
      if (symbol_ < 0) symbol_ = bound.arg;
      if (bound.arg != symbol_) return false;
      batch_vars_.insert(nest.vars[0]);
    }
    slices_ = ir_.size_values[symbol_];
    // No other loop may run over an extent that mentions the batch.
    for (int v = 0; v < static_cast<int>(ir_.vars.size()); ++v) {
      if (batch_vars_.contains(v)) continue;
      const std::vector<bool> used = ReachableExprs(ir_, {ir_.vars[v].size_expr});
      for (size_t e = 0; e < used.size(); ++e) {
        if (used[e] && IsBatchSymbol(static_cast<int>(e))) return false;
      }
    }
    return true;
  }

  bool IsBatchSymbol(int e) const {
    return ir_.exprs[e].kind == ExprKind::kSizeArg && ir_.exprs[e].arg == symbol_;
  }

  bool AnalyseNests() {
    std::vector<int> roots;
    for (const LoopNest& nest : ir_.nests) {
      for (const Store& s : nest.stores) {
        roots.push_back(s.offset);
        roots.push_back(s.value);
      }
    }
    const std::vector<bool> used = ReachableExprs(ir_, roots);
    for (int e = 0; e < static_cast<int>(ir_.exprs.size()); ++e) {
      if (used[e] && !Visit(e)) return false;
    }
    for (const LoopNest& nest : ir_.nests) {
      for (const Store& s : nest.stores) {
        if (info_[s.value].batched || !Access(s.buffer, s.offset)) return false;
      }
    }
    return true;
  }

  // Fills info_[e] from its operands; false when the batch is used other than as an offset
  // term with a number for a stride.
  bool Visit(int e) {
    const Expr& x = ir_.exprs[e];
    IndexInfo& out = info_[e];
    const auto arg = [&](int i) -> const IndexInfo& { return info_[x.args[i]]; };
    switch (x.kind) {
      case ExprKind::kConstant:
        out.number = x.dtype == DType::kI64;
        out.value = x.inumber;
        return true;
      case ExprKind::kSizeArg:
        out.number = true;
        out.value = ir_.size_values[x.arg];
        return !IsBatchSymbol(e);
      case ExprKind::kVar:
        out.batched = batch_vars_.contains(x.arg);
        out.coef = out.batched ? 1 : 0;
        return true;
      case ExprKind::kIdxAdd:
        out.batched = arg(0).batched || arg(1).batched;
        out.coef = arg(0).coef + arg(1).coef;
        out.number = arg(0).number && arg(1).number;
        out.value = arg(0).value + arg(1).value;
        return true;
      case ExprKind::kIdxMul: {
        out.number = arg(0).number && arg(1).number;
        out.value = arg(0).value * arg(1).value;
        if (!arg(0).batched && !arg(1).batched) return true;
        const IndexInfo& var = arg(0).batched ? arg(0) : arg(1);
        const IndexInfo& scale = arg(0).batched ? arg(1) : arg(0);
        if (!scale.number) return false;
        out.batched = true;
        out.coef = var.coef * scale.value;
        return true;
      }
      case ExprKind::kLoad:
        // The offset is checked per buffer (Access); the loaded value is data.
        if (x.args.size() > 1 && arg(1).batched) return false;
        return Access(x.arg, x.args[0]);
      case ExprKind::kReduce:
        for (int v : x.vars) {
          if (batch_vars_.contains(v)) return false;
        }
        break;
      default:
        break;
    }
    // Division, comparison, arithmetic on values: the batch index must not reach them.
    for (size_t i = 0; i < x.args.size(); ++i) {
      if (arg(static_cast<int>(i)).batched) return false;
    }
    if (x.kind == ExprKind::kIdxDiv || x.kind == ExprKind::kIdxMod) {
      out.number = arg(0).number && arg(1).number && arg(1).value != 0;
      if (out.number) {
        out.value =
            x.kind == ExprKind::kIdxDiv ? arg(0).value / arg(1).value : arg(0).value % arg(1).value;
      }
    }
    return true;
  }

  // Records an access of `buffer` at `offset`: every access of a buffer has one stride.
  bool Access(int buffer, int offset) {
    return SetStride(buffer, info_[offset].batched ? info_[offset].coef : 0);
  }

  bool SetStride(int buffer, int64_t stride) {
    if (strides_[buffer] >= 0 && strides_[buffer] != stride) return false;
    strides_[buffer] = stride;
    return stride >= 0;
  }

  bool AnalyseMatmul(const MatmulCall& call) {
    if (call.dtype != DType::kF32 && call.dtype != DType::kF64) return false;
    const size_t rank = call.out_shape.size();
    if (rank < 3) return false;
    if (slices_ == 0) slices_ = call.out_shape[0];
    if (call.out_shape[0] != slices_ || slices_ < 2) return false;
    if (!SetStride(call.out, Numel(call.out_shape) / slices_)) return false;
    for (const auto& [buffer, shape] :
         {std::pair{call.a, &call.a_shape}, {call.b, &call.b_shape}}) {
      const bool sliced = shape->size() == rank && (*shape)[0] == slices_;
      if (!SetStride(buffer, sliced ? Numel(*shape) / slices_ : 0)) return false;
    }
    return true;
  }

  const KernelIR& ir_;
  std::vector<IndexInfo> info_;
  std::vector<int64_t> strides_;  // -1: not accessed yet
  int symbol_ = -1;
  int64_t slices_ = 0;
  absl::flat_hash_set<int> batch_vars_;
};

}  // namespace

std::optional<BatchSlicing> SliceByBatch(const KernelIR& ir) { return Analysis(ir).Run(); }

MatmulCall SliceMatmul(const MatmulCall& call, int64_t slices) {
  MatmulCall slice = call;
  const size_t rank = call.out_shape.size();
  for (Sizes* shape : {&slice.a_shape, &slice.b_shape}) {
    if (shape->size() == rank && (*shape)[0] == slices) (*shape)[0] = 1;
  }
  slice.out_shape[0] = 1;
  return slice;
}

}  // namespace kiln::codegen
