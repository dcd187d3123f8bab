#include "codegen/kernel_ir.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "util/check.h"
#include "util/status_macros.h"

namespace kiln::codegen {
namespace {

using Idx = std::vector<int>;  // one index expression per dimension

Expr NewExpr(ExprKind kind, DType dtype) {
  Expr e;
  e.kind = kind;
  e.dtype = dtype;
  return e;
}

codegen::Check NewCheck(Check::Kind kind, OpKind op, int order) {
  codegen::Check c;
  c.kind = kind;
  c.op = op;
  c.order = order;
  return c;
}

bool IsReduction(OpKind op) {
  return op == OpKind::kSum || op == OpKind::kMean || op == OpKind::kMax || op == OpKind::kMin ||
         op == OpKind::kArgmax;
}

// `v` as an i64 the way a cast to an integer converts it: truncation toward zero,
// saturation, NaN -> 0.
int64_t SaturateToI64(double v, DType dtype) {
  if (std::isnan(v)) return 0;
  const double limit = dtype == DType::kI32 ? 2147483648.0 : 9223372036854775808.0;
  if (v >= limit) {
    return dtype == DType::kI32 ? std::numeric_limits<int32_t>::max()
                                : std::numeric_limits<int64_t>::max();
  }
  if (v < -limit) {
    return dtype == DType::kI32 ? std::numeric_limits<int32_t>::min()
                                : std::numeric_limits<int64_t>::min();
  }
  return static_cast<int64_t>(v);
}

class Lowerer {
 public:
  Lowerer(const Graph& graph, const FusionPlan& plan, int index)
      : graph_(graph), kernel_(plan.kernels[index]) {
    ir_.name = absl::StrCat("kiln_k", index);
    ir_.kind = kernel_.kind;
    const auto& order = graph.post_order();
    for (int i = 0; i < static_cast<int>(order.size()); ++i) pos_[order[i]] = i;
    for (int n : kernel_.nodes) members_.insert(n);
    true_ = Constant(DType::kBool, 1);
  }

  absl::StatusOr<KernelIR> Run();

 private:
  // ---- Expressions (hash-consed, so equal expressions get one id) ----
  int Add(Expr e, int64_t upper = -1, bool nonneg = false);
  int Constant(DType dtype, double value);
  int IConst(int64_t value);
  int VarExpr(int var) { return vars_expr_[var]; }
  int NewVar(const Shape& shape, int dim);
  int Size(const Shape& shape, int dim);
  int IAdd(int a, int b);
  int IMul(int a, int b);
  int IDiv(int a, int64_t c);
  int IMod(int a, int64_t c);
  int Op(OpKind op, DType dtype, std::vector<int> args);
  int Cast(int e, DType dtype) {
    return exprs()[e].dtype == dtype ? e : Op(OpKind::kCast, dtype, {e});
  }
  int And(int a, int b) {
    if (a == true_) return b;
    if (b == true_) return a;
    return Op(OpKind::kLogicalAnd, DType::kBool, {a, b});
  }
  int Linearize(const Idx& idx, absl::Span<const int64_t> sizes);
  int Check(Check check, int value, int guard, int position, int bound = -1);
  const std::vector<Expr>& exprs() const { return ir_.exprs; }
  bool IsConst(int e, int64_t* v) const {
    const Expr& x = exprs()[e];
    if (x.kind != ExprKind::kConstant || x.dtype != DType::kI64) return false;
    *v = x.inumber;
    return true;
  }
  // True when `e` is a multiple of `c` (as index arithmetic).
  bool Divisible(int e, int64_t c) const;

  // ---- Values ----
  absl::StatusOr<int> Lower(const Node* n, const Idx& idx, int guard);
  absl::StatusOr<int> LowerOp(const Node* n, const Idx& idx, int guard);
  absl::StatusOr<int> LowerView(const Node* n, const Idx& idx, int guard);
  absl::StatusOr<int> LowerReduce(const Node* n, const Idx& idx, int guard);
  absl::StatusOr<int> LowerIndexing(const Node* n, const Idx& idx, int guard);
  absl::StatusOr<int> LowerMatmul(const Node* n, const Idx& idx, int guard);
  absl::StatusOr<int> LoadValue(const Node* n, const Idx& idx, int guard);
  Idx Broadcast(const Shape& operand, const Shape& out, const Idx& idx);
  int InputBuffer(const Node* n);
  int OutputBuffer(const Node* n);

  // ---- Kernels ----
  absl::Status BuildLoops();
  absl::Status BuildMatmul();
  absl::Status BuildScatter();
  // A nest over `n`'s own shape storing it into `buffer`.
  absl::Status AddElementwiseNest(const Node* n, int buffer);
  absl::Status AddStore(LoopNest& nest, const Node* n, const Idx& idx, int buffer);
  int Pos(const Node* n) const { return pos_.at(n); }
  bool Member(const Node* n) const { return members_.contains(Pos(n)); }

  const Graph& graph_;
  const Kernel& kernel_;
  KernelIR ir_;
  absl::flat_hash_map<const Node*, int> pos_;
  absl::flat_hash_set<int> members_;
  absl::flat_hash_set<int> materialized_;  // members read back from their buffer
  absl::flat_hash_map<std::string, int> interned_;
  absl::flat_hash_map<std::string, int> memo_;
  absl::flat_hash_map<int, int> input_of_;   // node position -> buffer
  absl::flat_hash_map<int, int> output_of_;  // node position -> buffer
  absl::flat_hash_map<int, int> scalar_of_;  // node position -> scalar argument
  std::vector<int64_t> upper_;               // exclusive upper bound of index exprs, -1 unknown
  std::vector<bool> nonneg_;
  std::vector<int> vars_expr_;
  int true_ = -1;
};

int Lowerer::Add(Expr e, int64_t upper, bool nonneg) {
  if (e.kind != ExprKind::kReduce && e.kind != ExprKind::kVar && e.kind != ExprKind::kCheck) {
    uint64_t bits;
    std::memcpy(&bits, &e.number, sizeof(bits));
    std::string key = absl::StrCat(static_cast<int>(e.kind), ":", static_cast<int>(e.dtype), ":",
                                   static_cast<int>(e.op), ":", absl::StrJoin(e.args, ","), ":",
                                   bits, ":", e.inumber, ":", e.arg);
    auto [it, inserted] = interned_.try_emplace(std::move(key), static_cast<int>(exprs().size()));
    if (!inserted) return it->second;
  }
  ir_.exprs.push_back(std::move(e));
  upper_.push_back(upper);
  nonneg_.push_back(nonneg);
  return static_cast<int>(exprs().size()) - 1;
}

int Lowerer::Constant(DType dtype, double value) {
  Expr e = NewExpr(ExprKind::kConstant, dtype);
  if (dtype == DType::kBool) {
    e.inumber = value != 0 ? 1 : 0;
  } else if (IsIntegral(dtype)) {
    e.inumber = SaturateToI64(value, dtype);
  } else if (dtype == DType::kF32) {
    e.number = static_cast<float>(value);
  } else {
    e.number = value;
  }
  e.number = IsFloating(dtype) ? e.number : static_cast<double>(e.inumber);
  const bool nonneg = !IsFloating(dtype) && e.inumber >= 0;
  return Add(std::move(e), nonneg ? e.inumber + 1 : -1, nonneg);
}

int Lowerer::IConst(int64_t value) {
  Expr e = NewExpr(ExprKind::kConstant, DType::kI64);
  e.inumber = value;
  e.number = static_cast<double>(value);
  const bool nonneg = value >= 0;
  return Add(std::move(e), nonneg && value < std::numeric_limits<int64_t>::max() ? value + 1 : -1,
             nonneg);
}

int Lowerer::NewVar(const Shape& shape, int dim) {
  LoopVar v;
  v.size = shape.size(dim);
  if (dim == 0 && shape.rank() >= 2) {
    v.size_arg = static_cast<int>(ir_.size_values.size());
    ir_.size_values.push_back(v.size);
  }
  const int id = static_cast<int>(ir_.vars.size());
  ir_.vars.push_back(v);
  Expr e = NewExpr(ExprKind::kVar, DType::kI64);
  e.arg = id;
  vars_expr_.push_back(
      Add(std::move(e), v.size_arg >= 0 ? -1 : std::max<int64_t>(v.size, 1), true));
  return id;
}

int Lowerer::Size(const Shape& shape, int dim) {
  if (dim == 0 && shape.rank() >= 2) {
    Expr e = NewExpr(ExprKind::kSizeArg, DType::kI64);
    e.arg = static_cast<int>(ir_.size_values.size());
    ir_.size_values.push_back(shape.size(0));
    return Add(std::move(e), -1, true);
  }
  return IConst(shape.size(dim));
}

bool Lowerer::Divisible(int e, int64_t c) const {
  int64_t v;
  if (IsConst(e, &v)) return v % c == 0;
  const Expr& x = exprs()[e];
  if (x.kind == ExprKind::kIdxMul) return Divisible(x.args[0], c) || Divisible(x.args[1], c);
  if (x.kind == ExprKind::kIdxAdd) return Divisible(x.args[0], c) && Divisible(x.args[1], c);
  return false;
}

int Lowerer::IAdd(int a, int b) {
  int64_t va, vb;
  const bool ca = IsConst(a, &va), cb = IsConst(b, &vb);
  if (ca && cb) return IConst(va + vb);
  if (ca && va == 0) return b;
  if (cb && vb == 0) return a;
  // (x / c) * c + x % c == x
  const Expr& ea = exprs()[a];
  const Expr& eb = exprs()[b];
  if (ea.kind == ExprKind::kIdxMul && eb.kind == ExprKind::kIdxMod) {
    const Expr& div = exprs()[ea.args[0]];
    if (div.kind == ExprKind::kIdxDiv && div.args[0] == eb.args[0] && div.args[1] == eb.args[1] &&
        ea.args[1] == eb.args[1]) {
      return eb.args[0];
    }
  }
  const bool nonneg = nonneg_[a] && nonneg_[b];
  const int64_t upper = nonneg && upper_[a] > 0 && upper_[b] > 0 ? upper_[a] + upper_[b] - 1 : -1;
  Expr e = NewExpr(ExprKind::kIdxAdd, DType::kI64);
  e.args = {a, b};
  return Add(std::move(e), upper, nonneg);
}

int Lowerer::IMul(int a, int b) {
  int64_t va, vb;
  if (IsConst(a, &va)) std::swap(a, b);  // constants on the right
  const bool ca = IsConst(a, &va), cb = IsConst(b, &vb);
  if (ca && cb) return IConst(va * vb);
  if (cb && vb == 0) return IConst(0);
  if (cb && vb == 1) return a;
  const Expr& ea = exprs()[a];
  int64_t inner;
  if (cb && ea.kind == ExprKind::kIdxMul && IsConst(ea.args[1], &inner)) {
    return IMul(ea.args[0], IConst(inner * vb));
  }
  const bool nonneg = nonneg_[a] && nonneg_[b];
  const int64_t upper =
      nonneg && upper_[a] > 0 && upper_[b] > 0 ? (upper_[a] - 1) * (upper_[b] - 1) + 1 : -1;
  Expr e = NewExpr(ExprKind::kIdxMul, DType::kI64);
  e.args = {a, b};
  return Add(std::move(e), upper, nonneg);
}

int Lowerer::IDiv(int a, int64_t c) {
  KILN_CHECK(c > 0) << "index division by " << c;
  int64_t va;
  if (c == 1) return a;
  if (IsConst(a, &va) && va >= 0) return IConst(va / c);
  if (nonneg_[a] && upper_[a] >= 0 && upper_[a] <= c) return IConst(0);
  const Expr& ea = exprs()[a];
  int64_t k;
  if (ea.kind == ExprKind::kIdxMul && IsConst(ea.args[1], &k) && k % c == 0) {
    return IMul(ea.args[0], IConst(k / c));
  }
  if (ea.kind == ExprKind::kIdxDiv && IsConst(ea.args[1], &k)) return IDiv(ea.args[0], k * c);
  if (ea.kind == ExprKind::kIdxAdd && nonneg_[ea.args[0]] && nonneg_[ea.args[1]]) {
    const int p = ea.args[0], q = ea.args[1];
    if (Divisible(p, c)) return IAdd(IDiv(p, c), IDiv(q, c));
    if (Divisible(q, c)) return IAdd(IDiv(p, c), IDiv(q, c));
  }
  Expr e = NewExpr(ExprKind::kIdxDiv, DType::kI64);
  e.args = {a, IConst(c)};
  return Add(std::move(e), upper_[a] > 0 ? (upper_[a] - 1) / c + 1 : -1, true);
}

int Lowerer::IMod(int a, int64_t c) {
  KILN_CHECK(c > 0) << "index modulo by " << c;
  int64_t va;
  if (c == 1) return IConst(0);
  if (IsConst(a, &va) && va >= 0) return IConst(va % c);
  if (nonneg_[a] && upper_[a] >= 0 && upper_[a] <= c) return a;
  if (Divisible(a, c)) return IConst(0);
  const Expr& ea = exprs()[a];
  if (ea.kind == ExprKind::kIdxAdd && nonneg_[ea.args[0]] && nonneg_[ea.args[1]]) {
    if (Divisible(ea.args[0], c)) return IMod(ea.args[1], c);
    if (Divisible(ea.args[1], c)) return IMod(ea.args[0], c);
  }
  Expr e = NewExpr(ExprKind::kIdxMod, DType::kI64);
  e.args = {a, IConst(c)};
  return Add(std::move(e), c, true);
}

int Lowerer::Op(OpKind op, DType dtype, std::vector<int> args) {
  Expr e = NewExpr(ExprKind::kOp, dtype);
  e.op = op;
  e.args = std::move(args);
  return Add(std::move(e));
}

int Lowerer::Linearize(const Idx& idx, absl::Span<const int64_t> sizes) {
  if (idx.empty()) return IConst(0);
  int off = idx[0];
  for (size_t d = 1; d < idx.size(); ++d) off = IAdd(IMul(off, IConst(sizes[d])), idx[d]);
  return off;
}

int Lowerer::Check(codegen::Check check, int value, int guard, int position, int bound) {
  const int id = static_cast<int>(ir_.checks.size());
  ir_.checks.push_back(std::move(check));
  Expr e = NewExpr(ExprKind::kCheck, exprs()[value].dtype);
  e.args = {value, guard, position, bound < 0 ? IConst(0) : bound};
  e.arg = id;
  return Add(std::move(e));
}

Idx Lowerer::Broadcast(const Shape& operand, const Shape& out, const Idx& idx) {
  const int64_t lead = out.rank() - operand.rank();
  Idx result(operand.rank());
  for (int64_t d = 0; d < operand.rank(); ++d) {
    result[d] = operand.size(d) == 1 ? IConst(0) : idx[d + lead];
  }
  return result;
}

int Lowerer::InputBuffer(const Node* n) {
  const int pos = Pos(n);
  auto [it, inserted] = input_of_.try_emplace(pos, static_cast<int>(ir_.buffers.size()));
  if (inserted) {
    ir_.buffers.push_back({n->shape().dtype(), BufferRole::kInput, pos, n->shape().sizes()});
  }
  return it->second;
}

int Lowerer::OutputBuffer(const Node* n) {
  const int pos = Pos(n);
  auto [it, inserted] = output_of_.try_emplace(pos, static_cast<int>(ir_.buffers.size()));
  if (inserted) {
    ir_.buffers.push_back({n->shape().dtype(), BufferRole::kOutput, pos, n->shape().sizes()});
  }
  return it->second;
}

absl::StatusOr<int> Lowerer::LoadValue(const Node* n, const Idx& idx, int guard) {
  if (n->op() == OpKind::kScalar) {
    auto [it, inserted] = scalar_of_.try_emplace(Pos(n), static_cast<int>(ir_.scalar_nodes.size()));
    if (inserted) {
      ir_.scalar_nodes.push_back(Pos(n));
      ir_.scalar_dtypes.push_back(n->shape().dtype());
    }
    Expr e = NewExpr(ExprKind::kScalarArg, n->shape().dtype());
    e.arg = it->second;
    return Add(std::move(e));
  }
  // A member read back from this kernel's own output (after a BLAS call or a scatter).
  const int buffer = materialized_.contains(Pos(n)) ? output_of_.at(Pos(n)) : InputBuffer(n);
  Expr e = NewExpr(ExprKind::kLoad, n->shape().dtype());
  e.arg = buffer;
  e.args = {Linearize(idx, n->shape().sizes())};
  if (guard != true_) e.args.push_back(guard);
  return Add(std::move(e));
}

absl::StatusOr<int> Lowerer::Lower(const Node* n, const Idx& idx, int guard) {
  if (n->num_outputs() != 1) {
    return absl::UnimplementedError(absl::StrCat("cpu: multi-output node ", n->ShortString()));
  }
  if (IsReserved(n->shape().dtype())) {
    return absl::UnimplementedError(absl::StrCat("cpu: ", n->ShortString(), ": dtype ",
                                                 DTypeName(n->shape().dtype()),
                                                 " is reserved and not supported yet"));
  }
  // An empty value is never read: every loop that would read it is empty or masked.
  if (n->shape().numel() == 0) return Constant(n->shape().dtype(), 0);
  const std::string key = absl::StrCat(Pos(n), "|", absl::StrJoin(idx, ","), "|", guard);
  if (auto it = memo_.find(key); it != memo_.end()) return it->second;
  int result;
  if (!Member(n) || materialized_.contains(Pos(n))) {
    ASSIGN_OR_RETURN(result, LoadValue(n, idx, guard));
  } else {
    ASSIGN_OR_RETURN(result, LowerOp(n, idx, guard));
  }
  memo_[key] = result;
  return result;
}

absl::StatusOr<int> Lowerer::LowerOp(const Node* n, const Idx& idx, int guard) {
  const OpKind op = n->op();
  const DType dtype = n->shape().dtype();
  switch (op) {
    case OpKind::kDeviceData:
    case OpKind::kScalar:
      return LoadValue(n, idx, guard);
    case OpKind::kConstant:
      return Constant(dtype, n->attrs().GetDouble("value"));
    case OpKind::kArange: {
      const int i = Op(OpKind::kCast, DType::kF64, {idx[0]});
      const int v = Op(OpKind::kAdd, DType::kF64,
                       {Constant(DType::kF64, n->attrs().GetDouble("start")),
                        Op(OpKind::kMul, DType::kF64,
                           {i, Constant(DType::kF64, n->attrs().GetDouble("step"))})});
      return Cast(v, dtype);
    }
    case OpKind::kSum:
    case OpKind::kMean:
    case OpKind::kMax:
    case OpKind::kMin:
    case OpKind::kArgmax:
      return LowerReduce(n, idx, guard);
    case OpKind::kMatmul:
      return LowerMatmul(n, idx, guard);
    case OpKind::kReshape:
    case OpKind::kPermute:
    case OpKind::kExpand:
    case OpKind::kSlice:
    case OpKind::kConcat:
    case OpKind::kPad:
      return LowerView(n, idx, guard);
    case OpKind::kGather:
    case OpKind::kIndexSelect:
    case OpKind::kScatterAdd:
      return LowerIndexing(n, idx, guard);
    default:
      break;
  }
  // Elementwise: operands broadcast to the output.
  std::vector<int> args;
  for (int k = 0; k < n->num_operands(); ++k) {
    const Node* operand = n->operand(k).node.get();
    const Idx operand_idx = Broadcast(operand->shape(), n->shape(), idx);
    ASSIGN_OR_RETURN(int v, Lower(operand, operand_idx, guard));
    const DType odt = operand->shape().dtype();
    if (k == 1 && IsIntegral(odt) && (op == OpKind::kDiv || op == OpKind::kPow)) {
      codegen::Check check =
          NewCheck(op == OpKind::kDiv ? Check::kDivByZero : Check::kNegativeExponent, op, Pos(n));
      check.shape = operand->shape().sizes();
      v = Check(std::move(check), v, guard, Linearize(operand_idx, operand->shape().sizes()));
    }
    args.push_back(v);
  }
  if (op == OpKind::kCast && exprs()[args[0]].dtype == dtype) return args[0];
  return Op(op, dtype, std::move(args));
}

absl::StatusOr<int> Lowerer::LowerReduce(const Node* n, const Idx& idx, int guard) {
  const Node* x = n->operand(0).node.get();
  const Shape& in = x->shape();
  const int64_t rank = in.rank();
  std::vector<bool> reduced(rank, false);
  bool keepdim = n->attrs().GetBool("keepdim");
  if (n->op() == OpKind::kArgmax) {
    reduced[n->attrs().GetInt("dim")] = true;
  } else {
    for (int64_t d : n->attrs().GetInts("dims")) reduced[d] = true;
  }
  Expr r = NewExpr(ExprKind::kReduce, n->shape().dtype());
  r.op = n->op();
  Idx in_idx(rank);
  size_t k = 0;
  int count = IConst(1);
  for (int64_t d = 0; d < rank; ++d) {
    if (reduced[d]) {
      const int v = NewVar(in, static_cast<int>(d));
      r.vars.push_back(v);
      in_idx[d] = VarExpr(v);
      count = IMul(count, Size(in, static_cast<int>(d)));
      if (keepdim) ++k;
    } else {
      in_idx[d] = idx[k++];
    }
  }
  ASSIGN_OR_RETURN(int body, Lower(x, in_idx, guard));
  // Reducing no dimensions (dims=[] or a rank-0 input) leaves each element as it is.
  if (r.vars.empty()) return Cast(body, n->shape().dtype());
  r.args = {body};
  r.acc_dtype = IsFloating(in.dtype()) ? in.dtype() : DType::kI64;
  if (n->op() == OpKind::kMean) r.args.push_back(count);
  if (n->op() == OpKind::kArgmax) r.args.push_back(VarExpr(r.vars[0]));
  return Add(std::move(r));
}

absl::StatusOr<int> Lowerer::LowerMatmul(const Node* n, const Idx& idx, int guard) {
  const Node* a = n->operand(0).node.get();
  const Node* b = n->operand(1).node.get();
  const Shape& as = a->shape();
  const Shape& bs = b->shape();
  const int64_t rank = n->shape().rank();
  const int p = NewVar(as, static_cast<int>(as.rank() - 1));
  const Idx batch(idx.begin(), idx.end() - 2);
  Sizes out_batch(n->shape().sizes().begin(), n->shape().sizes().end() - 2);
  const Shape out_batch_shape(n->shape().dtype(), out_batch);
  auto operand_idx = [&](const Shape& s, int row, int col) {
    Sizes batch_sizes(s.sizes().begin(), s.sizes().end() - 2);
    Idx result = Broadcast(Shape(s.dtype(), batch_sizes), out_batch_shape, batch);
    result.push_back(row);
    result.push_back(col);
    return result;
  };
  ASSIGN_OR_RETURN(int av, Lower(a, operand_idx(as, idx[rank - 2], VarExpr(p)), guard));
  ASSIGN_OR_RETURN(int bv, Lower(b, operand_idx(bs, VarExpr(p), idx[rank - 1]), guard));
  const DType dtype = n->shape().dtype();
  const DType acc = IsFloating(dtype) ? dtype : DType::kI64;
  Expr r = NewExpr(ExprKind::kReduce, dtype);
  r.op = OpKind::kSum;
  r.acc_dtype = acc;
  r.vars = {p};
  r.args = {Op(OpKind::kMul, acc, {Cast(av, acc), Cast(bv, acc)})};
  return Add(std::move(r));
}

absl::StatusOr<int> Lowerer::LowerView(const Node* n, const Idx& idx, int guard) {
  const Node* x = n->operand(0).node.get();
  const Shape& in = x->shape();
  const Shape& out = n->shape();
  const Attributes& attrs = n->attrs();
  switch (n->op()) {
    case OpKind::kReshape: {
      // Groups of dimensions with equal products map onto each other: linearise the
      // output indices of a group, delinearise into the input's.
      Idx in_idx(in.rank());
      int64_t i = 0, j = 0;
      const int64_t ri = in.rank(), ro = out.rank();
      while (i < ri || j < ro) {
        const int64_t gi = i, gj = j;
        int64_t pi = 1, po = 1;
        if (i < ri) pi *= in.size(i++);
        if (j < ro) po *= out.size(j++);
        while (pi != po) {
          if ((pi < po && i < ri) || j >= ro) {
            pi *= in.size(i++);
          } else {
            po *= out.size(j++);
          }
        }
        // Size-1 dimensions that follow belong to this group too (they change nothing).
        while (i < ri && in.size(i) == 1 && (j >= ro || out.size(j) != 1)) ++i;
        while (j < ro && out.size(j) == 1 && (i >= ri || in.size(i) != 1)) ++j;
        int lin = IConst(0);
        for (int64_t d = gj; d < j; ++d) lin = IAdd(IMul(lin, IConst(out.size(d))), idx[d]);
        int64_t inner = 1;
        for (int64_t d = i - 1; d >= gi; --d) {
          int v = IDiv(lin, inner);
          if (d > gi) v = IMod(v, in.size(d));
          in_idx[d] = in.size(d) == 1 ? IConst(0) : v;
          inner *= in.size(d);
        }
      }
      return Lower(x, in_idx, guard);
    }
    case OpKind::kPermute: {
      const std::vector<int64_t>& perm = attrs.GetInts("perm");
      Idx in_idx(in.rank());
      for (size_t d = 0; d < perm.size(); ++d) in_idx[perm[d]] = idx[d];
      return Lower(x, in_idx, guard);
    }
    case OpKind::kExpand:
      return Lower(x, Broadcast(in, out, idx), guard);
    case OpKind::kSlice: {
      const int64_t dim = attrs.GetInt("dim");
      Idx in_idx = idx;
      in_idx[dim] =
          IAdd(IConst(attrs.GetInt("start")), IMul(idx[dim], IConst(attrs.GetInt("step"))));
      return Lower(x, in_idx, guard);
    }
    case OpKind::kPad: {
      const std::vector<int64_t>& pads = attrs.GetInts("pads");
      Idx in_idx(in.rank());
      int inside = true_;
      for (int64_t d = 0; d < in.rank(); ++d) {
        const int64_t lo = pads[2 * d];
        const int64_t hi = pads[2 * d + 1];
        if (lo > 0) inside = And(inside, Op(OpKind::kGe, DType::kBool, {idx[d], IConst(lo)}));
        if (hi > 0) {
          inside = And(inside, Op(OpKind::kLt, DType::kBool,
                                  {idx[d], IAdd(Size(in, static_cast<int>(d)), IConst(lo))}));
        }
        in_idx[d] = IAdd(idx[d], IConst(-lo));
      }
      const int fill = Constant(out.dtype(), attrs.GetDouble("value"));
      if (inside == true_) return Lower(x, in_idx, guard);
      ASSIGN_OR_RETURN(int v, Lower(x, in_idx, And(guard, inside)));
      return Op(OpKind::kWhere, out.dtype(), {inside, v, fill});
    }
    case OpKind::kConcat: {
      const int64_t dim = attrs.GetInt("dim");
      // Offsets along `dim` where each part starts.
      std::vector<int> start;
      int offset = IConst(0);
      for (int k = 0; k < n->num_operands(); ++k) {
        start.push_back(offset);
        offset = IAdd(offset, Size(n->operand(k).node->shape(), static_cast<int>(dim)));
      }
      int result = -1;
      for (int k = n->num_operands() - 1; k >= 0; --k) {
        const Node* part = n->operand(k).node.get();
        if (part->shape().size(dim) == 0) continue;
        Idx part_idx = idx;
        part_idx[dim] = IAdd(idx[dim], IMul(start[k], IConst(-1)));
        int in_range = true_;
        if (k > 0) in_range = Op(OpKind::kGe, DType::kBool, {idx[dim], start[k]});
        if (result >= 0) {
          in_range = And(in_range, Op(OpKind::kLt, DType::kBool, {idx[dim], start[k + 1]}));
        }
        ASSIGN_OR_RETURN(int v, Lower(part, part_idx, And(guard, in_range)));
        result = result < 0 ? v : Op(OpKind::kWhere, out.dtype(), {in_range, v, result});
      }
      return result;
    }
    default:
      return absl::InternalError(absl::StrCat("cpu: ", n->ShortString(), " is not a view"));
  }
}

absl::StatusOr<int> Lowerer::LowerIndexing(const Node* n, const Idx& idx, int guard) {
  const Node* x = n->operand(0).node.get();
  const Node* index = n->operand(1).node.get();
  const int64_t dim = n->attrs().GetInt("dim");
  const Shape& in = x->shape();
  auto range_check = [&](int64_t size, const Sizes& index_shape) {
    codegen::Check check = NewCheck(Check::kIndexRange, n->op(), Pos(n));
    check.dim = dim;
    check.size = size;
    check.shape = index_shape;
    return check;
  };
  switch (n->op()) {
    case OpKind::kGather: {
      ASSIGN_OR_RETURN(int raw, Lower(index, idx, guard));
      const int i =
          Check(range_check(in.size(dim), index->shape().sizes()), Cast(raw, DType::kI64), guard,
                Linearize(idx, index->shape().sizes()), Size(in, static_cast<int>(dim)));
      Idx in_idx = idx;
      in_idx[dim] = i;
      return Lower(x, in_idx, guard);
    }
    case OpKind::kIndexSelect: {
      ASSIGN_OR_RETURN(int raw, Lower(index, {idx[dim]}, guard));
      const int i = Check(range_check(in.size(dim), index->shape().sizes()), Cast(raw, DType::kI64),
                          guard, idx[dim], Size(in, static_cast<int>(dim)));
      Idx in_idx = idx;
      in_idx[dim] = i;
      return Lower(x, in_idx, guard);
    }
    case OpKind::kScatterAdd: {
      // As a pure function of the output element q: self[q] plus, in order along `dim`,
      // src[p] for every index position p that agrees with q off `dim` and points at q.
      // Used only where a scatter_add is not its kernel's own (the scatter kernel
      // accumulates directly).
      const Node* src = n->operand(2).node.get();
      const Shape& is = index->shape();
      ASSIGN_OR_RETURN(int self, Lower(x, idx, guard));
      if (is.numel() == 0) return self;
      int cover = true_;
      for (int64_t d = 0; d < is.rank(); ++d) {
        if (d != dim && is.size(d) < in.size(d)) {
          cover = And(cover, Op(OpKind::kLt, DType::kBool, {idx[d], IConst(is.size(d))}));
        }
      }
      const int j = NewVar(is, static_cast<int>(dim));
      Idx p = idx;
      p[dim] = VarExpr(j);
      const int g = And(guard, cover);
      ASSIGN_OR_RETURN(int raw, Lower(index, p, g));
      const int i = Check(range_check(in.size(dim), is.sizes()), Cast(raw, DType::kI64), g,
                          Linearize(p, is.sizes()), Size(in, static_cast<int>(dim)));
      const int hit = And(g, Op(OpKind::kEq, DType::kBool, {i, idx[dim]}));
      ASSIGN_OR_RETURN(int s, Lower(src, p, g));
      const DType dtype = n->shape().dtype();
      Expr r = NewExpr(ExprKind::kReduce, dtype);
      r.op = OpKind::kSum;
      r.acc_dtype = IsFloating(dtype) ? dtype : DType::kI64;
      r.vars = {j};
      r.args = {Op(OpKind::kWhere, dtype, {hit, s, Constant(dtype, 0)})};
      return Op(OpKind::kAdd, dtype, {self, Add(std::move(r))});
    }
    default:
      return absl::InternalError(absl::StrCat("cpu: ", n->ShortString(), " is not indexing"));
  }
}

absl::Status Lowerer::AddStore(LoopNest& nest, const Node* n, const Idx& idx, int buffer) {
  ASSIGN_OR_RETURN(int value, Lower(n, idx, true_));
  nest.stores.push_back({buffer, Linearize(idx, n->shape().sizes()), value, false});
  return absl::OkStatus();
}

absl::Status Lowerer::AddElementwiseNest(const Node* n, int buffer) {
  if (n->shape().numel() == 0) return absl::OkStatus();
  const Shape& s = n->shape();
  LoopNest nest;
  Idx idx;
  for (int64_t d = 0; d < s.rank(); ++d) {
    nest.vars.push_back(NewVar(s, static_cast<int>(d)));
    idx.push_back(VarExpr(nest.vars.back()));
  }
  nest.num_parallel = s.rank() >= 2 ? static_cast<int>(s.rank()) - 1 : static_cast<int>(s.rank());
  RETURN_IF_ERROR(AddStore(nest, n, idx, buffer));
  ir_.nests.push_back(std::move(nest));
  return absl::OkStatus();
}

absl::Status Lowerer::BuildLoops() {
  const auto& order = graph_.post_order();
  const Node* reduction = nullptr;
  if (kernel_.kind == KernelKind::kRow) {
    for (int p : kernel_.nodes) {
      if (IsReduction(order[p]->op())) {
        reduction = order[p];
        break;
      }
    }
  }
  if (reduction == nullptr || reduction->operand(0).shape().numel() == 0) {
    // One nest over the stores' common shape; a store of another shape gets its own.
    std::vector<const Node*> rest;
    const Node* first = kernel_.stores.empty() ? nullptr : order[kernel_.stores[0]];
    LoopNest nest;
    Idx idx;
    if (first != nullptr && first->shape().numel() > 0) {
      const Shape& s = first->shape();
      for (int64_t d = 0; d < s.rank(); ++d) {
        nest.vars.push_back(NewVar(s, static_cast<int>(d)));
        idx.push_back(VarExpr(nest.vars.back()));
      }
      nest.num_parallel =
          s.rank() >= 2 ? static_cast<int>(s.rank()) - 1 : static_cast<int>(s.rank());
    }
    for (int p : kernel_.stores) {
      const Node* n = order[p];
      if (first != nullptr && n->shape().sizes() == first->shape().sizes() &&
          first->shape().numel() > 0) {
        RETURN_IF_ERROR(AddStore(nest, n, idx, OutputBuffer(n)));
      } else {
        rest.push_back(n);
      }
    }
    if (!nest.stores.empty()) ir_.nests.push_back(std::move(nest));
    for (const Node* n : rest) RETURN_IF_ERROR(AddElementwiseNest(n, OutputBuffer(n)));
    return absl::OkStatus();
  }
  // Rows: the reduction input's kept dimensions, parallel; then its reduced ones.
  const Shape& r = reduction->operand(0).shape();
  std::vector<bool> reduced(r.rank(), false);
  if (reduction->op() == OpKind::kArgmax) {
    reduced[reduction->attrs().GetInt("dim")] = true;
  } else {
    for (int64_t d : reduction->attrs().GetInts("dims")) reduced[d] = true;
  }
  std::vector<int> var_of(r.rank());
  LoopNest nest;
  for (int pass = 0; pass < 2; ++pass) {
    for (int64_t d = 0; d < r.rank(); ++d) {
      if (reduced[d] != (pass == 1)) continue;
      var_of[d] = NewVar(r, static_cast<int>(d));
      nest.vars.push_back(var_of[d]);
      if (pass == 0) ++nest.num_parallel;
    }
  }
  Sizes keep_form, drop_form;
  Idx full, keep_idx, drop_idx;
  for (int64_t d = 0; d < r.rank(); ++d) {
    full.push_back(VarExpr(var_of[d]));
    keep_form.push_back(reduced[d] ? 1 : r.size(d));
    keep_idx.push_back(reduced[d] ? IConst(0) : VarExpr(var_of[d]));
    if (!reduced[d]) {
      drop_form.push_back(r.size(d));
      drop_idx.push_back(VarExpr(var_of[d]));
    }
  }
  std::vector<const Node*> rest;
  for (int p : kernel_.stores) {
    const Node* n = order[p];
    const Sizes& s = n->shape().sizes();
    if (s == r.sizes()) {
      RETURN_IF_ERROR(AddStore(nest, n, full, OutputBuffer(n)));
    } else if (s == keep_form) {
      RETURN_IF_ERROR(AddStore(nest, n, keep_idx, OutputBuffer(n)));
    } else if (s == drop_form) {
      RETURN_IF_ERROR(AddStore(nest, n, drop_idx, OutputBuffer(n)));
    } else {
      rest.push_back(n);
    }
  }
  if (!nest.stores.empty()) ir_.nests.push_back(std::move(nest));
  for (const Node* n : rest) RETURN_IF_ERROR(AddElementwiseNest(n, OutputBuffer(n)));
  return absl::OkStatus();
}

absl::Status Lowerer::BuildMatmul() {
  const auto& order = graph_.post_order();
  const Node* mm = nullptr;
  for (int p : kernel_.nodes) {
    if (order[p]->op() == OpKind::kMatmul) mm = order[p];
  }
  if (mm == nullptr || !IsFloating(mm->shape().dtype())) return BuildLoops();
  MatmulCall call;
  call.dtype = mm->shape().dtype();
  for (int k = 0; k < 2; ++k) {
    const Node* v = mm->operand(k).node.get();
    int buffer = -1;
    bool transpose = false;
    Sizes shape = v->shape().sizes();
    if (v->shape().numel() == 0) {
      // Nothing to read: the scratch buffer below stays empty.
    } else if (!Member(v)) {
      buffer = InputBuffer(v);
    } else if (v->op() == OpKind::kPermute && !Member(v->operand(0).node.get())) {
      const std::vector<int64_t>& perm = v->attrs().GetInts("perm");
      const int64_t rank = static_cast<int64_t>(perm.size());
      bool swap = rank >= 2 && perm[rank - 2] == rank - 1 && perm[rank - 1] == rank - 2;
      for (int64_t d = 0; d + 2 < rank && swap; ++d) swap = perm[d] == d;
      if (swap) {
        buffer = InputBuffer(v->operand(0).node.get());
        transpose = true;
        shape = v->operand(0).shape().sizes();
      }
    }
    if (buffer < 0) {
      // Materialise the operand into scratch memory with a generated loop.
      buffer = static_cast<int>(ir_.buffers.size());
      ir_.buffers.push_back({v->shape().dtype(), BufferRole::kScratch, -1, v->shape().sizes()});
      RETURN_IF_ERROR(AddElementwiseNest(v, buffer));
    }
    (k == 0 ? call.a : call.b) = buffer;
    (k == 0 ? call.transpose_a : call.transpose_b) = transpose;
    (k == 0 ? call.a_shape : call.b_shape) = shape;
  }
  call.out = OutputBuffer(mm);
  call.out_shape = mm->shape().sizes();
  ir_.matmuls.push_back(call);
  ir_.num_pre_nests = static_cast<int>(ir_.nests.size());
  // Other stores run after the BLAS call and read the product back.
  materialized_.insert(Pos(mm));
  for (int p : kernel_.stores) {
    if (order[p] != mm) RETURN_IF_ERROR(AddElementwiseNest(order[p], OutputBuffer(order[p])));
  }
  return absl::OkStatus();
}

absl::Status Lowerer::BuildScatter() {
  const auto& order = graph_.post_order();
  const Node* sa = nullptr;
  for (int p : kernel_.nodes) {
    if (order[p]->op() == OpKind::kScatterAdd) sa = order[p];
  }
  if (sa == nullptr) return BuildLoops();
  const int out = OutputBuffer(sa);
  // out = self, then out[p with `dim` replaced by index[p]] += src[p] in row-major order
  // of p. With dim != 0, positions with different p[0] never collide, so the rows run in
  // parallel and each element still accumulates in order.
  RETURN_IF_ERROR(AddElementwiseNest(sa->operand(0).node.get(), out));
  const Node* index = sa->operand(1).node.get();
  const Node* src = sa->operand(2).node.get();
  const Shape& is = index->shape();
  const int64_t dim = sa->attrs().GetInt("dim");
  if (is.numel() > 0 && sa->shape().numel() > 0) {
    LoopNest nest;
    Idx idx;
    for (int64_t d = 0; d < is.rank(); ++d) {
      nest.vars.push_back(NewVar(is, static_cast<int>(d)));
      idx.push_back(VarExpr(nest.vars.back()));
    }
    nest.num_parallel = dim != 0 ? 1 : 0;
    ASSIGN_OR_RETURN(int raw, Lower(index, idx, true_));
    codegen::Check check = NewCheck(Check::kIndexRange, OpKind::kScatterAdd, Pos(sa));
    check.dim = dim;
    check.size = sa->shape().size(dim);
    check.shape = is.sizes();
    const int i = Check(std::move(check), Cast(raw, DType::kI64), true_, Linearize(idx, is.sizes()),
                        Size(sa->shape(), static_cast<int>(dim)));
    Idx target = idx;
    target[dim] = i;
    ASSIGN_OR_RETURN(int value, Lower(src, idx, true_));
    nest.stores.push_back({out, Linearize(target, sa->shape().sizes()), value, true});
    ir_.nests.push_back(std::move(nest));
  }
  materialized_.insert(Pos(sa));
  for (int p : kernel_.stores) {
    if (order[p] != sa) RETURN_IF_ERROR(AddElementwiseNest(order[p], OutputBuffer(order[p])));
  }
  return absl::OkStatus();
}

absl::StatusOr<KernelIR> Lowerer::Run() {
  switch (kernel_.kind) {
    case KernelKind::kElementwise:
    case KernelKind::kRow:
      RETURN_IF_ERROR(BuildLoops());
      break;
    case KernelKind::kMatmul:
      RETURN_IF_ERROR(BuildMatmul());
      break;
    case KernelKind::kScatterAdd:
      RETURN_IF_ERROR(BuildScatter());
      break;
  }
  if (ir_.matmuls.empty()) ir_.num_pre_nests = static_cast<int>(ir_.nests.size());
  // Every store of the plan has a buffer, even when it is empty and no loop writes it.
  const auto& order = graph_.post_order();
  for (int p : kernel_.stores) OutputBuffer(order[p]);
  return std::move(ir_);
}

}  // namespace

absl::StatusOr<KernelIR> LowerKernel(const Graph& graph, const FusionPlan& plan, int index) {
  if (index < 0 || index >= static_cast<int>(plan.kernels.size())) {
    return absl::InvalidArgumentError(absl::StrCat("no kernel ", index));
  }
  Lowerer lowerer(graph, plan, index);
  return lowerer.Run();
}

}  // namespace kiln::codegen
