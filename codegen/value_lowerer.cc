#include "codegen/value_lowerer.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "util/status_macros.h"

namespace kiln::codegen {

codegen::Check NewCheck(Check::Kind kind, OpKind op, int order) {
  codegen::Check c;
  c.kind = kind;
  c.op = op;
  c.order = order;
  return c;
}

ValueLowerer::ValueLowerer(const Graph& graph, const Kernel& kernel, int index)
    : graph_(graph), kernel_(kernel), syms_(graph, kernel) {
  ir_.name = absl::StrCat("kiln_k", index);
  ir_.kind = kernel_.kind;
  const auto& order = graph.post_order();
  for (int i = 0; i < static_cast<int>(order.size()); ++i) pos_[order[i]] = i;
  for (int n : kernel_.nodes) members_.insert(n);
  ir_.size_values = syms_.values();
}

int ValueLowerer::NewVar(const Node* n, int64_t dim) {
  LoopVar v;
  v.size = n->shape().size(dim);
  v.size_expr = Size(n, dim);
  const int id = static_cast<int>(ir_.vars.size());
  ir_.vars.push_back(v);
  Expr e = NewExpr(ExprKind::kVar, DType::kI64);
  e.arg = id;
  int64_t bound;
  const int64_t upper = IsConst(v.size_expr, &bound) ? std::max<int64_t>(bound, 1) : -1;
  vars_expr_.push_back(Add(std::move(e), upper, true, v.size_expr));
  return id;
}

int ValueLowerer::Size(const Node* n, int64_t dim) {
  int size = IConst(1);
  for (int symbol : syms_.Dim(n, dim)) {
    Expr e = NewExpr(ExprKind::kSizeArg, DType::kI64);
    e.arg = symbol;
    size = IMul(size, Add(std::move(e), -1, true));
  }
  return size;
}

bool ValueLowerer::SameSizes(const Node* a, const Node* b) const {
  return syms_.Dims(a) == syms_.Dims(b);
}

int ValueLowerer::Linearize(const Idx& idx, const Node* n) {
  int off = IConst(0);
  for (size_t d = 0; d < idx.size();) {
    const auto is_run = [&](const Digits& run) {
      if (d + run.ids.size() > idx.size()) return false;
      for (size_t j = 0; j < run.ids.size(); ++j) {
        if (idx[d + j] != run.ids[j] || syms_.Dim(n, d + j) != run.dims[j]) return false;
      }
      return true;
    };
    const auto run = std::find_if(digits_.begin(), digits_.end(), is_run);
    if (run == digits_.end()) {
      off = IAdd(IMul(off, Size(n, d)), idx[d]);
      ++d;
      continue;
    }
    for (size_t j = 0; j < run->ids.size(); ++j) off = IMul(off, Size(n, d + j));
    off = IAdd(off, run->flat);
    d += run->ids.size();
  }
  return off;
}

int ValueLowerer::Check(codegen::Check check, int value, int guard, int position, int bound) {
  const int id = static_cast<int>(ir_.checks.size());
  ir_.checks.push_back(std::move(check));
  Expr e = NewExpr(ExprKind::kCheck, exprs()[value].dtype);
  e.args = {value, guard, position, bound < 0 ? IConst(0) : bound};
  e.arg = id;
  return Add(std::move(e));
}

Idx ValueLowerer::Broadcast(const Shape& operand, const Shape& out, const Idx& idx) {
  const int64_t lead = out.rank() - operand.rank();
  Idx result(operand.rank());
  for (int64_t d = 0; d < operand.rank(); ++d) {
    result[d] = operand.size(d) == 1 ? IConst(0) : idx[d + lead];
  }
  return result;
}

int ValueLowerer::InputBuffer(const Node* n) {
  const int pos = Pos(n);
  auto [it, inserted] = input_of_.try_emplace(pos, static_cast<int>(ir_.buffers.size()));
  if (inserted) {
    ir_.buffers.push_back({n->shape().dtype(), BufferRole::kInput, pos, n->shape().sizes()});
  }
  return it->second;
}

int ValueLowerer::OutputBuffer(const Node* n) {
  const int pos = Pos(n);
  auto [it, inserted] = output_of_.try_emplace(pos, static_cast<int>(ir_.buffers.size()));
  if (inserted) {
    ir_.buffers.push_back({n->shape().dtype(), BufferRole::kOutput, pos, n->shape().sizes()});
  }
  return it->second;
}

absl::StatusOr<int> ValueLowerer::LoadValue(const Node* n, const Idx& idx, int guard) {
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
  e.args = {Linearize(idx, n)};
  if (guard != True()) e.args.push_back(guard);
  return Add(std::move(e));
}

absl::StatusOr<int> ValueLowerer::Lower(const Node* n, const Idx& idx, int guard) {
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

absl::StatusOr<int> ValueLowerer::LowerOp(const Node* n, const Idx& idx, int guard) {
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
    case OpKind::kRandUniform: {
      // A function of the element's position in the node's own shape, however it is read.
      ASSIGN_OR_RETURN(const int key, Lower(n->operand(0).node.get(), {}, guard));
      return Op(op, dtype, {key, Linearize(idx, n)});
    }
    case OpKind::kSum:
    case OpKind::kMean:
    case OpKind::kProd:
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
      v = Check(std::move(check), v, guard, Linearize(operand_idx, operand));
    }
    args.push_back(v);
  }
  if (op == OpKind::kCast && exprs()[args[0]].dtype == dtype) return args[0];
  return Op(op, dtype, std::move(args));
}

absl::StatusOr<int> ValueLowerer::LowerReduce(const Node* n, const Idx& idx, int guard) {
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
  const bool shared =
      shared_row_ != nullptr && reduced == shared_reduced_ && SameSizes(x, shared_row_);
  Expr r = NewExpr(ExprKind::kReduce, n->shape().dtype());
  r.op = n->op();
  Idx in_idx(rank);
  size_t k = 0;
  int count = IConst(1);
  for (int64_t d = 0; d < rank; ++d) {
    if (reduced[d]) {
      const int v = shared ? shared_vars_[d] : NewVar(x, d);
      r.vars.push_back(v);
      in_idx[d] = VarExpr(v);
      count = IMul(count, Size(x, d));
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

absl::StatusOr<int> ValueLowerer::LowerMatmul(const Node* n, const Idx& idx, int guard) {
  const Node* a = n->operand(0).node.get();
  const Node* b = n->operand(1).node.get();
  const Shape& as = a->shape();
  const Shape& bs = b->shape();
  const int64_t rank = n->shape().rank();
  const int p = NewVar(a, as.rank() - 1);
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

absl::StatusOr<int> ValueLowerer::LowerView(const Node* n, const Idx& idx, int guard) {
  const Node* x = n->operand(0).node.get();
  const Shape& in = x->shape();
  const Shape& out = n->shape();
  const Attributes& attrs = n->attrs();
  switch (n->op()) {
    case OpKind::kReshape: {
      // Groups of dimensions with equal products map onto each other: linearise the
      // output indices of a group, delinearise into the input's.
      Idx in_idx(in.rank());
      for (const ReshapeGroup& g : ReshapeGroups(in.sizes(), out.sizes())) {
        int lin = IConst(0);
        for (int64_t d = g.out_begin; d < g.out_end; ++d) {
          lin = IAdd(IMul(lin, Size(n, d)), idx[d]);
        }
        int inner = IConst(1);
        for (int64_t d = g.in_end - 1; d >= g.in_begin; --d) {
          int v = IDiv(lin, inner);
          if (d > g.in_begin) v = IMod(v, Size(x, d));
          in_idx[d] = in.size(d) == 1 ? IConst(0) : v;
          inner = IMul(inner, Size(x, d));
        }
        if (g.in_end - g.in_begin > 1) {
          Digits run{{in_idx.begin() + g.in_begin, in_idx.begin() + g.in_end}, {}, lin};
          for (int64_t d = g.in_begin; d < g.in_end; ++d) run.dims.push_back(syms_.Dim(x, d));
          digits_.push_back(std::move(run));
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
      int inside = True();
      for (int64_t d = 0; d < in.rank(); ++d) {
        const int64_t lo = pads[2 * d];
        const int64_t hi = pads[2 * d + 1];
        if (lo > 0) inside = And(inside, Op(OpKind::kGe, DType::kBool, {idx[d], IConst(lo)}));
        if (hi > 0) {
          inside =
              And(inside, Op(OpKind::kLt, DType::kBool, {idx[d], IAdd(Size(x, d), IConst(lo))}));
        }
        in_idx[d] = IAdd(idx[d], IConst(-lo));
      }
      const int fill = Constant(out.dtype(), attrs.GetDouble("value"));
      if (inside == True()) return Lower(x, in_idx, guard);
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
        offset = IAdd(offset, Size(n->operand(k).node.get(), dim));
      }
      int result = -1;
      for (int k = n->num_operands() - 1; k >= 0; --k) {
        const Node* part = n->operand(k).node.get();
        if (part->shape().size(dim) == 0) continue;
        Idx part_idx = idx;
        part_idx[dim] = IAdd(idx[dim], IMul(start[k], IConst(-1)));
        int in_range = True();
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

absl::StatusOr<int> ValueLowerer::LowerIndexing(const Node* n, const Idx& idx, int guard) {
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
      const int i = Check(range_check(in.size(dim), index->shape().sizes()), Cast(raw, DType::kI64),
                          guard, Linearize(idx, index), Size(x, dim));
      Idx in_idx = idx;
      in_idx[dim] = i;
      return Lower(x, in_idx, guard);
    }
    case OpKind::kIndexSelect: {
      ASSIGN_OR_RETURN(int raw, Lower(index, {idx[dim]}, guard));
      const int i = Check(range_check(in.size(dim), index->shape().sizes()), Cast(raw, DType::kI64),
                          guard, idx[dim], Size(x, dim));
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
      int cover = True();
      for (int64_t d = 0; d < is.rank(); ++d) {
        if (d != dim && is.size(d) < in.size(d)) {
          cover = And(cover, Op(OpKind::kLt, DType::kBool, {idx[d], Size(index, d)}));
        }
      }
      const int j = NewVar(index, dim);
      Idx p = idx;
      p[dim] = VarExpr(j);
      const int g = And(guard, cover);
      ASSIGN_OR_RETURN(int raw, Lower(index, p, g));
      const int i = Check(range_check(in.size(dim), is.sizes()), Cast(raw, DType::kI64), g,
                          Linearize(p, index), Size(x, dim));
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

}  // namespace kiln::codegen
