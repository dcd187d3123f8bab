#include "codegen/cuda_emitter.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "codegen/kernel_printer.h"

namespace kiln::codegen {
namespace internal {
namespace {

// Elements per partial sum of a floating sum a thread walks alone (as in the C++ emitter).
constexpr int64_t kCudaSumBlock = 1024;

// Prints one kernel's nests as __global__ functions. One per kernel.
class CudaKernelEmitter : public KernelPrinter {
 public:
  explicit CudaKernelEmitter(const KernelIR& ir) : KernelPrinter(ir, Dialect::kCuda) {}

  CudaKernelSource Emit();

 private:
  void EmitReduce(int e, const std::vector<bool>& bound) override;
  // The reduction's loops in this thread alone, or (block_scope_) shared by the block.
  void EmitThreadReduce(int e, const std::vector<bool>& bound);
  void EmitBlockReduce(int e, const std::vector<bool>& bound);
  CudaLaunch PlanNest(const LoopNest& nest, int index) const;
  void EmitNest(const LoopNest& nest, const CudaLaunch& launch);
  // A guard that holds for one thread among those that differ only in the variables of
  // `vars` the store does not use ("" when it uses them all).
  std::string StoreGuard(const Store& s, const std::vector<int>& vars) const;
  std::vector<std::string> ParamDecls() const;
  void EmitEmulationLauncher(const std::string& function);

  bool block_scope_ = false;  // reductions emitted now are shared by a block's threads
};

std::string ReduceInit(const Expr& x, DType body) {
  const bool sum = x.op == OpKind::kSum || x.op == OpKind::kMean;
  if (sum) return absl::StrCat(CType(x.acc_dtype), "(0)");
  return absl::StrCat("kn::", x.op == OpKind::kMin ? "Highest" : "Lowest", "<", CType(body), ">()");
}

}  // namespace

std::vector<std::string> CudaKernelEmitter::ParamDecls() const {
  std::vector<std::string> params;
  for (size_t b = 0; b < ir_.buffers.size(); ++b) {
    const BufferArg& arg = ir_.buffers[b];
    const bool in = arg.role == BufferRole::kInput;
    params.push_back(absl::StrCat(in ? "const " : "", StorageType(arg.dtype),
                                  arg.may_alias ? "* b" : "* __restrict__ b", b));
  }
  for (size_t k = 0; k < ir_.size_values.size(); ++k) {
    params.push_back(absl::StrCat("const int64_t n", k));
  }
  for (size_t a = 0; a < ir_.scalar_dtypes.size(); ++a) {
    params.push_back(absl::StrCat("const double s", a));
  }
  params.push_back("KilnError* err");
  return params;
}

CudaLaunch CudaKernelEmitter::PlanNest(const LoopNest& nest, int index) const {
  CudaLaunch launch;
  launch.function = absl::StrCat(ir_.name, "_n", index);
  launch.after_matmuls = !ir_.matmuls.empty() && index >= ir_.num_pre_nests;
  const int n = static_cast<int>(nest.vars.size());
  if (nest.kind == NestKind::kColumnReduce) {
    // A thread per kept element; the reduced rows are walked inside (EmitNest).
    const int p = nest.num_parallel;
    launch.thread_vars.assign(nest.vars.begin(), nest.vars.begin() + p);
    launch.thread_vars.insert(launch.thread_vars.end(),
                              nest.vars.begin() + p + nest.num_reduced, nest.vars.end());
    return launch;
  }
  // The rows: the leading variables every reduction the stores read depends on. When
  // variables are left over for the elements, a block takes each row.
  int split = -1;
  std::vector<int> roots;
  for (const Store& s : nest.stores) roots.insert(roots.end(), {s.offset, s.value});
  const std::vector<bool> used = ReachableExprs(ir_, roots);
  for (size_t e = 0; e < ir_.exprs.size(); ++e) {
    if (!used[e] || ir_.exprs[e].kind != ExprKind::kReduce) continue;
    int deepest = -1;
    bool in_nest = true;
    for (int v : deps_[e]) {
      const auto it = std::find(nest.vars.begin(), nest.vars.end(), v);
      in_nest = in_nest && it != nest.vars.end();
      deepest = std::max(deepest, static_cast<int>(it - nest.vars.begin()));
    }
    if (in_nest) split = std::max(split, deepest + 1);
  }
  if (split >= 0 && split < n) {
    launch.kind = CudaLaunch::Kind::kRows;
    launch.block_vars.assign(nest.vars.begin(), nest.vars.begin() + split);
    launch.thread_vars.assign(nest.vars.begin() + split, nest.vars.end());
  } else {
    launch.thread_vars = nest.vars;
  }
  return launch;
}

std::string CudaKernelEmitter::StoreGuard(const Store& s, const std::vector<int>& vars) const {
  std::vector<std::string> zero;
  for (int v : vars) {
    const bool uses = std::binary_search(deps_[s.offset].begin(), deps_[s.offset].end(), v) ||
                      std::binary_search(deps_[s.value].begin(), deps_[s.value].end(), v);
    if (!uses) zero.push_back(absl::StrCat("i", v, " == 0"));
  }
  return absl::StrJoin(zero, " && ");
}

void CudaKernelEmitter::EmitNest(const LoopNest& nest, const CudaLaunch& launch) {
  std::fill(emitted_.begin(), emitted_.end(), false);
  scope_emitted_.clear();
  const std::vector<std::string> params = ParamDecls();
  Line(absl::StrCat("extern \"C\" __global__ void ",
                    launch.function, "("));
  for (size_t k = 0; k < params.size(); ++k) {
    Line(absl::StrCat("    ", params[k], k + 1 < params.size() ? "," : ") {"));
  }
  ++indent_;
  EmitSizes();
  for (size_t a = 0; a < ir_.scalar_dtypes.size(); ++a) {
    const char* t = CType(ir_.scalar_dtypes[a]);
    Line(absl::StrCat("const ", t, " a", a, " = kn::CastTo<", t, ">(s", a, ");"));
  }
  // The reduced rows of a column nest, walked by each thread in order.
  std::vector<int> seq;
  if (nest.kind == NestKind::kColumnReduce) {
    seq.assign(nest.vars.begin() + nest.num_parallel,
               nest.vars.begin() + nest.num_parallel + nest.num_reduced);
  }
  std::vector<bool> bound(ir_.vars.size(), false);
  auto uses_any = [&](const Store& s, const std::vector<int>& vars) {
    for (int v : vars) {
      if (std::binary_search(deps_[s.offset].begin(), deps_[s.offset].end(), v) ||
          std::binary_search(deps_[s.value].begin(), deps_[s.value].end(), v)) {
        return true;
      }
    }
    return false;
  };
  auto roots_of = [&](auto&& pick) {
    std::vector<int> roots;
    for (const Store& s : nest.stores) {
      if (pick(s)) roots.insert(roots.end(), {s.offset, s.value});
    }
    return roots;
  };
  // Each store right after its value, so that a kernel with many outputs keeps few values
  // live at once (registers; a spill is a failure of the NVRTC check).
  auto emit_stores = [&](auto&& pick, const std::vector<int>& guard_vars, bool first_thread) {
    for (const Store& s : nest.stores) {
      if (!pick(s)) continue;
      EmitScope(bound, {s.offset, s.value});
      std::string guard = StoreGuard(s, guard_vars);
      if (first_thread) guard = guard.empty() ? "threadIdx.x == 0" : "threadIdx.x == 0 && " + guard;
      if (!guard.empty()) Line(absl::StrCat("if (", guard, ")"));
      if (!guard.empty()) ++indent_;
      EmitStore(s);
      if (!guard.empty()) --indent_;
    }
  };
  const auto all = [](const Store&) { return true; };
  const std::vector<int>& tv = launch.thread_vars;
  if (launch.kind == CudaLaunch::Kind::kRows) {
    const std::vector<int>& bv = launch.block_vars;
    Line(absl::StrCat("const int64_t rows = ", SizeProduct(bv), ";"));
    Line(absl::StrCat("const int64_t inner = ", SizeProduct(tv), ";"));
    Line("for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {");
    ++indent_;
    Delinearize(bv, "row", "rrem");
    for (int v : bv) bound[v] = true;
    block_scope_ = true;
    EmitScope(bound, roots_of(all));
    block_scope_ = false;
    const auto per_row = [&](const Store& s) { return !uses_any(s, tv); };
    const auto per_element = [&](const Store& s) { return uses_any(s, tv); };
    emit_stores(per_row, {}, true);
    Line("for (int64_t t = threadIdx.x; t < inner; t += blockDim.x) {");
    ++indent_;
    Delinearize(tv, "t", "trem");
    for (int v : tv) bound[v] = true;
    emit_stores(per_element, tv, false);
    --indent_;
    Line("}");
    --indent_;
    Line("}");
  } else {
    Line(absl::StrCat("const int64_t total = ", SizeProduct(tv), ";"));
    Line("for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < total;");
    Line("     t += int64_t(gridDim.x) * blockDim.x) {");
    ++indent_;
    Delinearize(tv, "t", "trem");
    for (int v : tv) bound[v] = true;
    const auto outside = [&](const Store& s) { return !uses_any(s, seq); };
    const auto inside = [&](const Store& s) { return uses_any(s, seq); };
    emit_stores(outside, tv, false);
    if (!roots_of(inside).empty()) {
      EmitScope(bound, roots_of(inside));  // what the rows share: reductions over them
      for (int v : seq) {
        Line(absl::StrCat("for (int64_t i", v, " = 0; i", v, " < ", VarSize(v), "; ++i", v, ") {"));
        ++indent_;
        bound[v] = true;
      }
      emit_stores(inside, tv, false);
      for (size_t k = 0; k < seq.size(); ++k) {
        --indent_;
        Line("}");
      }
    }
    --indent_;
    Line("}");
  }
  Line("(void)err;");
  --indent_;
  Line("}");
  EmitEmulationLauncher(launch.function);
}

void CudaKernelEmitter::EmitEmulationLauncher(const std::string& function) {
  std::vector<std::string> args;
  int k = 0;
  for (const BufferArg& b : ir_.buffers) {
    args.push_back(absl::StrCat("static_cast<", b.role == BufferRole::kInput ? "const " : "",
                                StorageType(b.dtype), "*>(*static_cast<void* const*>(args[", k++,
                                "]))"));
  }
  for (size_t s = 0; s < ir_.size_values.size(); ++s) {
    args.push_back(absl::StrCat("*static_cast<const int64_t*>(args[", k++, "])"));
  }
  for (size_t a = 0; a < ir_.scalar_dtypes.size(); ++a) {
    args.push_back(absl::StrCat("*static_cast<const double*>(args[", k++, "])"));
  }
  args.push_back(absl::StrCat("*static_cast<KilnError* const*>(args[", k, "])"));
  Line("#ifdef KILN_CUDA_EMULATION");
  Line(absl::StrCat("extern \"C\" const char* ", function,
                    "_emulate(unsigned grid, unsigned block, void** args, uint64_t seed) {"));
  Line("  kiln_emu::SetScheduleSeed(seed);");
  Line(absl::StrCat("  return kiln_emu::Launch(dim3(grid), dim3(block), [&] { ", function, "("));
  Line(absl::StrCat("      ", absl::StrJoin(args, ",\n        "), "); });"));
  Line("}");
  Line("#endif");
}

void CudaKernelEmitter::EmitReduce(int e, const std::vector<bool>& bound) {
  const Expr& x = ir_.exprs[e];
  std::vector<std::string> names;
  for (int v : x.vars) names.push_back(absl::StrCat("i", v, " < ", VarSize(v)));
  Line(absl::StrCat("// ", OpName(x.op), " over ", absl::StrJoin(names, ", "),
                    block_scope_ ? " (shared by the block)" : ""));
  if (block_scope_) {
    EmitBlockReduce(e, bound);
  } else {
    EmitThreadReduce(e, bound);
  }
  emitted_[e] = true;
  scope_emitted_.push_back(e);
  const std::string acc = absl::StrCat("acc", e);
  const char* t = CType(x.dtype);
  std::string result = acc;
  if (x.op == OpKind::kMean) {
    result = absl::StrCat(t, "(double(", acc, ") / double(", Ref(x.args[1]), "))");
  } else if (x.op == OpKind::kSum) {
    result = absl::StrCat("kn::CastTo<", t, ">(", acc, ")");
  } else if (x.op == OpKind::kArgmax) {
    result = absl::StrCat(acc, "_at");
  }
  Line(absl::StrCat("const ", t, " v", e, " = ", result, ";"));
}

void CudaKernelEmitter::EmitThreadReduce(int e, const std::vector<bool>& bound) {
  const Expr& x = ir_.exprs[e];
  const DType body = ir_.exprs[x.args[0]].dtype;
  const bool sum = x.op == OpKind::kSum || x.op == OpKind::kMean;
  const std::string acc = absl::StrCat("acc", e);
  const char* at = CType(sum ? x.acc_dtype : body);
  Line(absl::StrCat(at, " ", acc, " = ", ReduceInit(x, body), ";"));
  if (x.op == OpKind::kArgmax) Line(absl::StrCat("int64_t ", acc, "_at = 0;"));
  std::vector<bool> inner = bound;
  for (int v : x.vars) inner[v] = true;
  const size_t scope_mark = scope_emitted_.size();
  // A floating sum adds blocks of kCudaSumBlock elements, each into its own partial sum,
  // which keeps a long sum's error near that of a pairwise sum.
  const bool blocked = sum && IsFloating(body);
  const int innermost = x.vars.back();
  for (int v : x.vars) {
    const std::string i = absl::StrCat("i", v);
    if (blocked && v == innermost) {
      Line(absl::StrCat("for (int64_t ", i, "_lo = 0; ", i, "_lo < ", VarSize(v), "; ", i,
                        "_lo += ", kCudaSumBlock, ") {"));
      Line(absl::StrCat("  const int64_t ", i, "_hi = ", i, "_lo + ", kCudaSumBlock, " < ",
                        VarSize(v), " ? ", i, "_lo + ", kCudaSumBlock, " : ", VarSize(v), ";"));
      Line(absl::StrCat("  ", at, " part", e, " = 0;"));
      Line(absl::StrCat("  for (int64_t ", i, " = ", i, "_lo; ", i, " < ", i, "_hi; ++", i, ") {"));
      indent_ += 2;
    } else {
      Line(absl::StrCat("for (int64_t ", i, " = 0; ", i, " < ", VarSize(v), "; ++", i, ") {"));
      ++indent_;
    }
  }
  EmitScope(inner, std::vector<int>(x.args.begin(), x.args.end()));
  const std::string v = Ref(x.args[0]);
  if (blocked) {
    Line(absl::StrCat("part", e, " += ", v, ";"));
  } else if (sum) {
    Line(absl::StrCat(acc, " = kn::WrapAdd(", acc, ", ", at, "(", v, "));"));
  } else if (x.op == OpKind::kArgmax) {
    EmitArgmaxStep(acc, v, Ref(x.args[1]));
  } else {
    Line(absl::StrCat(acc, " = kn::Reduce", x.op == OpKind::kMax ? "Max" : "Min", "Step(", acc,
                      ", ", v, ");"));
  }
  for (auto it = x.vars.rbegin(); it != x.vars.rend(); ++it) {
    if (blocked && *it == innermost) {
      indent_ -= 2;
      Line("  }");
      Line(absl::StrCat("  ", acc, " += part", e, ";"));
      Line("}");
    } else {
      --indent_;
      Line("}");
    }
  }
  LeaveScope(scope_mark);
}

void CudaKernelEmitter::EmitBlockReduce(int e, const std::vector<bool>& bound) {
  // Each thread reduces a strided share of the elements in order, then the block combines
  // the threads' results (kc::BlockReduce): every thread gets the row's value.
  const Expr& x = ir_.exprs[e];
  const DType body = ir_.exprs[x.args[0]].dtype;
  const bool sum = x.op == OpKind::kSum || x.op == OpKind::kMean;
  const bool argmax = x.op == OpKind::kArgmax;
  const std::string acc = absl::StrCat("acc", e);
  const char* at = CType(sum ? x.acc_dtype : body);
  if (argmax) {
    // An empty share is the lowest value at no position, which any element beats or ties
    // at a smaller position.
    Line(absl::StrCat("kc::ArgmaxPair<", at, "> ", acc, "_p{", ReduceInit(x, body),
                      ", kc::kNoPosition};"));
  } else {
    Line(absl::StrCat(at, " ", acc, " = ", ReduceInit(x, body), ";"));
  }
  const std::string r = absl::StrCat("r", e);
  Line(absl::StrCat("for (int64_t ", r, " = threadIdx.x; ", r, " < ", SizeProduct(x.vars), "; ",
                    r, " += blockDim.x) {"));
  ++indent_;
  const size_t scope_mark = scope_emitted_.size();
  Delinearize(x.vars, r, absl::StrCat("rr", e));
  std::vector<bool> inner = bound;
  for (int v : x.vars) inner[v] = true;
  block_scope_ = false;  // a reduction inside the body belongs to this thread
  EmitScope(inner, std::vector<int>(x.args.begin(), x.args.end()));
  block_scope_ = true;
  const std::string v = Ref(x.args[0]);
  if (sum) {
    Line(absl::StrCat(acc, " = kn::WrapAdd(", acc, ", ", at, "(", v, "));"));
  } else if (argmax) {
    Line(absl::StrCat(acc, "_p = kc::ArgmaxOp<", at, ">()(", acc, "_p, {", v, ", ",
                      Ref(x.args[1]), "});"));
  } else {
    Line(absl::StrCat(acc, " = kn::Reduce", x.op == OpKind::kMax ? "Max" : "Min", "Step(", acc,
                      ", ", v, ");"));
  }
  LeaveScope(scope_mark);
  --indent_;
  Line("}");
  if (argmax) {
    Line(absl::StrCat(acc, "_p = kc::BlockReduce(", acc, "_p, kc::ArgmaxOp<", at, ">());"));
    Line(absl::StrCat("const int64_t ", acc, "_at = ", acc, "_p.at == kc::kNoPosition ? 0 : ", acc,
                      "_p.at;"));
  } else {
    const char* op = sum ? "Sum" : x.op == OpKind::kMax ? "Max" : "Min";
    Line(absl::StrCat(acc, " = kc::BlockReduce(", acc, ", kc::", op, "Op<", at, ">());"));
  }
}

CudaKernelSource CudaKernelEmitter::Emit() {
  CudaKernelSource result;
  Line(absl::StrCat("// kernel ", ir_.name, " (", KernelKindName(ir_.kind), ")"));
  for (int k = 0; k < static_cast<int>(ir_.nests.size()); ++k) {
    CudaLaunch launch = PlanNest(ir_.nests[k], k);
    EmitNest(ir_.nests[k], launch);
    result.launches.push_back(std::move(launch));
  }
  result.source = std::move(out_);
  return result;
}

}  // namespace internal

std::string CudaPreamble() {
  // Compiled by NVRTC with -default-device, so the pasted numerics header (written for
  // the host) is device code too. NVRTC has no GCC builtins: the four the numerics header
  // and the literals use are spelled with CUDA's bit casts.
  return absl::StrCat(R"(// Generated by kiln's CUDA emitter.
#ifndef KILN_CUDA_EMULATION
typedef unsigned char uint8_t;
typedef int int32_t;
typedef long long int64_t;
#define __builtin_inf() __longlong_as_double(0x7ff0000000000000LL)
#define __builtin_nan(s) __longlong_as_double(0x7ff8000000000000LL)
#define __builtin_inff() __int_as_float(0x7f800000)
#define __builtin_nanf(s) __int_as_float(0x7fc00000)
#endif

namespace {

)",
                      internal::KernelNumericsText(), R"(
namespace kn = kiln::numerics;

struct KilnError {
  int32_t check;
  int32_t order;
  int64_t value;
  int64_t position;
  int32_t lock;
};

// Keeps the failure of the earliest node (post-order), at its first position. A spin
// lock: a failing thread is rare, and sm_70 and later schedule a warp's threads
// independently, so the holder always gets to release it.
void kiln_fail(KilnError* err, int check, int order, int64_t value, int64_t position) {
  while (atomicCAS(&err->lock, 0, 1) != 0) {
  }
  __threadfence();
  volatile KilnError* e = err;
  if (e->check < 0 || order < e->order || (order == e->order && position < e->position)) {
    e->check = check;
    e->order = order;
    e->value = value;
    e->position = position;
  }
  __threadfence();
  atomicExch(&err->lock, 0);
}

namespace kc {

template <typename T>
T ShflXor(T v, int lane_mask) {
  return __shfl_xor_sync(0xffffffffu, v, lane_mask);
}
inline bool ShflXor(bool v, int lane_mask) {
  return __shfl_xor_sync(0xffffffffu, int(v), lane_mask) != 0;
}

template <typename T>
struct SumOp {
  T operator()(T a, T b) const { return kn::WrapAdd(a, b); }
};
template <typename T>
struct MaxOp {
  T operator()(T a, T b) const { return kn::ReduceMaxStep(a, b); }
};
template <typename T>
struct MinOp {
  T operator()(T a, T b) const { return kn::ReduceMinStep(a, b); }
};

constexpr int64_t kNoPosition = 0x7fffffffffffffffLL;
template <typename T>
struct ArgmaxPair {
  T value;
  int64_t at;
};
// The first maximum: NaN beats every number, and ties go to the smaller position, so
// combining shares in any order gives the element-order result.
template <typename T>
struct ArgmaxOp {
  ArgmaxPair<T> operator()(ArgmaxPair<T> a, ArgmaxPair<T> b) const {
    const bool a_nan = kn::IsNan(a.value), b_nan = kn::IsNan(b.value);
    if (a_nan != b_nan) return a_nan ? a : b;
    if (!a_nan && a.value != b.value) return a.value > b.value ? a : b;
    return a.at <= b.at ? a : b;
  }
};
template <typename T>
ArgmaxPair<T> ShflXor(ArgmaxPair<T> p, int lane_mask) {
  return {ShflXor(p.value, lane_mask), ShflXor(p.at, lane_mask)};
}

// The block's threads' values combined by `op`, returned to every thread. Warps combine
// by shuffles; warp results are combined in warp order, so the result depends only on
// the block size. Every thread of the block must call it (blockDim.x a multiple of 32).
template <typename T, typename Op>
T BlockReduce(T v, Op op) {
  __shared__ T warp_results[32];
  for (int m = 16; m > 0; m >>= 1) v = op(v, ShflXor(v, m));
  __syncthreads();  // the previous reduction's readers are done with warp_results
  if ((threadIdx.x & 31) == 0) warp_results[threadIdx.x >> 5] = v;
  __syncthreads();
  T r = warp_results[0];
  for (unsigned w = 1; w < (blockDim.x >> 5); ++w) r = op(r, warp_results[w]);
  return r;
}

// scatter_add: threads may add to one element at once.
inline void AtomicAccumulate(float* p, float v) { atomicAdd(p, v); }
inline void AtomicAccumulate(double* p, double v) { atomicAdd(p, v); }
inline void AtomicAccumulate(int32_t* p, int32_t v) { atomicAdd(p, v); }
inline void AtomicAccumulate(int64_t* p, int64_t v) {
  atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));
}
// bool: the sum of 0/1 values converted back is their OR, set in the aligned 32-bit word
// holding the byte (buffers are allocated in multiples of 4 bytes).
inline void AtomicAccumulate(uint8_t* p, bool v) {
  if (!v) return;
  const unsigned long long address = reinterpret_cast<unsigned long long>(p);
  atomicOr(reinterpret_cast<unsigned*>(address & ~3ULL), 1u << ((address & 3ULL) * 8));
}

}  // namespace kc
}  // namespace

)");
}

CudaKernelSource EmitCudaKernel(const KernelIR& kernel) {
  return internal::CudaKernelEmitter(kernel).Emit();
}

int64_t VarsProduct(const KernelIR& kernel, const std::vector<int>& vars) {
  int64_t product = 1;
  for (int v : vars) product *= kernel.vars[v].size;
  return product;
}

}  // namespace kiln::codegen
