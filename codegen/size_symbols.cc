#include "codegen/size_symbols.h"

#include <algorithm>
#include <utility>

#include "util/check.h"

namespace kiln::codegen {
namespace {

SizeSymbols::Product Concat(SizeSymbols::Product a, const SizeSymbols::Product& b) {
  a.insert(a.end(), b.begin(), b.end());
  std::sort(a.begin(), a.end());
  return a;
}

// Removes the factors `a` and `b` have in common from both (multiset difference).
void Cancel(SizeSymbols::Product& a, SizeSymbols::Product& b) {
  SizeSymbols::Product ra, rb;
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i] < b[j])) {
      ra.push_back(a[i++]);
    } else if (i == a.size() || b[j] < a[i]) {
      rb.push_back(b[j++]);
    } else {
      ++i;
      ++j;
    }
  }
  a = std::move(ra);
  b = std::move(rb);
}

}  // namespace

std::vector<ReshapeGroup> ReshapeGroups(const Sizes& in, const Sizes& out) {
  std::vector<ReshapeGroup> groups;
  const int64_t ri = static_cast<int64_t>(in.size()), ro = static_cast<int64_t>(out.size());
  int64_t i = 0, j = 0;
  while (i < ri || j < ro) {
    ReshapeGroup g{i, i, j, j};
    int64_t pi = 1, po = 1;
    if (i < ri) pi *= in[i++];
    if (j < ro) po *= out[j++];
    while (pi != po && (i < ri || j < ro)) {
      if ((pi < po && i < ri) || j >= ro) {
        pi *= in[i++];
      } else {
        po *= out[j++];
      }
    }
    // Size-1 dimensions that follow belong to this group too (they change nothing).
    while (i < ri && in[i] == 1 && (j >= ro || out[j] != 1)) ++i;
    while (j < ro && out[j] == 1 && (i >= ri || in[i] != 1)) ++j;
    g.in_end = i;
    g.out_end = j;
    groups.push_back(g);
  }
  return groups;
}

SizeSymbols::SizeSymbols(const Graph& graph, const Kernel& kernel) {
  const auto& order = graph.post_order();
  absl::flat_hash_map<const Node*, bool> member;
  for (int p : kernel.nodes) member[order[p]] = true;
  // Post-order: a member's operands come before it, so its rule finds their sizes.
  for (int p : kernel.nodes) {
    const Node* n = order[p];
    for (int k = 0; k < n->num_operands(); ++k) {
      const Node* x = n->operand(k).node.get();
      if (!member.contains(x) && !dims_.contains(x)) Leaf(x);
    }
    Analyse(n);
  }
  for (const std::vector<int>* list : {&kernel.stores, &kernel.loads}) {
    for (int p : *list) {
      if (!dims_.contains(order[p])) Leaf(order[p]);
    }
  }
  Finish();
}

const SizeSymbols::Product& SizeSymbols::Dim(const Node* n, int64_t dim) const {
  return Dims(n)[dim];
}

const std::vector<SizeSymbols::Product>& SizeSymbols::Dims(const Node* n) const {
  auto it = dims_.find(n);
  KILN_CHECK(it != dims_.end()) << "no sizes for " << n->ShortString();
  return it->second;
}

SizeSymbols::Product SizeSymbols::Fresh(int64_t value) {
  if (value == 1) return {};
  values_.push_back(value);
  bound_.emplace_back();
  is_bound_.push_back(false);
  return {static_cast<int>(values_.size()) - 1};
}

SizeSymbols::Product SizeSymbols::Normalize(const Product& p) const {
  Product result;
  for (int s : p) {
    if (is_bound_[s]) {
      const Product sub = Normalize(bound_[s]);
      result.insert(result.end(), sub.begin(), sub.end());
    } else {
      result.push_back(s);
    }
  }
  std::sort(result.begin(), result.end());
  return result;
}

int64_t SizeSymbols::Value(const Product& p) const {
  int64_t v = 1;
  for (int s : p) v *= values_[s];
  return v;
}

void SizeSymbols::Equate(const Product& a, const Product& b) {
  Product na = Normalize(a), nb = Normalize(b);
  if (na == nb) return;
  Cancel(na, nb);
  if (Value(na) != Value(nb)) return;
  auto lone = [](const Product& p, const Product& other) {
    return p.size() == 1 && std::find(other.begin(), other.end(), p[0]) == other.end();
  };
  // Of two lone symbols the later one is bound to the earlier one.
  if (lone(na, nb) && !(lone(nb, na) && nb[0] > na[0])) {
    is_bound_[na[0]] = true;
    bound_[na[0]] = nb;
  } else if (lone(nb, na)) {
    is_bound_[nb[0]] = true;
    bound_[nb[0]] = na;
  }
}

void SizeSymbols::Set(const Node* n, std::vector<Product> dims) {
  const Shape& s = n->shape();
  if (static_cast<int64_t>(dims.size()) != s.rank()) {
    Leaf(n);
    return;
  }
  for (int64_t d = 0; d < s.rank(); ++d) {
    if (s.size(d) == 1) {
      dims[d].clear();
    } else if (Value(Normalize(dims[d])) != s.size(d)) {
      dims[d] = Fresh(s.size(d));
    }
  }
  order_.push_back(n);
  dims_[n] = std::move(dims);
}

void SizeSymbols::Leaf(const Node* n) {
  std::vector<Product> dims;
  for (int64_t d = 0; d < n->shape().rank(); ++d) dims.push_back(Fresh(n->shape().size(d)));
  order_.push_back(n);
  dims_[n] = std::move(dims);
}

void SizeSymbols::Analyse(const Node* n) {
  const Shape& out = n->shape();
  const int64_t rank = out.rank();
  if (out.numel() == 0 || n->num_operands() == 0 || n->op() == OpKind::kRandUniform) {
    // Constants, arange, random numbers (whose only operand is their key) and empty
    // values (never looped over) have sizes of their own.
    Leaf(n);
    return;
  }
  const Node* x = n->operand(0).node.get();
  const std::vector<Product>& in = dims_.at(x);
  const Attributes& attrs = n->attrs();
  std::vector<Product> dims(rank);
  switch (n->op()) {
    case OpKind::kReshape:
      AnalyseReshape(n);
      return;
    case OpKind::kPermute: {
      const std::vector<int64_t>& perm = attrs.GetInts("perm");
      for (int64_t d = 0; d < rank; ++d) dims[d] = in[perm[d]];
      break;
    }
    case OpKind::kExpand: {
      const int64_t lead = rank - x->shape().rank();
      for (int64_t d = 0; d < rank; ++d) {
        dims[d] = d >= lead && x->shape().size(d - lead) != 1 ? in[d - lead] : Fresh(out.size(d));
      }
      break;
    }
    case OpKind::kSlice:
    case OpKind::kPad:
    case OpKind::kConcat: {
      // The sliced, padded or joined dimensions have sizes of their own.
      std::vector<bool> changed(rank, false);
      if (n->op() == OpKind::kPad) {
        const std::vector<int64_t>& pads = attrs.GetInts("pads");
        for (int64_t d = 0; d < rank; ++d) changed[d] = pads[2 * d] != 0 || pads[2 * d + 1] != 0;
      } else {
        changed[attrs.GetInt("dim")] = true;
      }
      for (int64_t d = 0; d < rank; ++d) {
        if (changed[d]) {
          dims[d] = Fresh(out.size(d));
          continue;
        }
        dims[d] = in[d];
        if (n->op() != OpKind::kConcat) continue;
        for (int k = 1; k < n->num_operands(); ++k) {
          const Node* part = n->operand(k).node.get();
          if (part->shape().size(d) != 1) Equate(in[d], dims_.at(part)[d]);
        }
      }
      break;
    }
    case OpKind::kGather:
      dims = dims_.at(n->operand(1).node.get());
      break;
    case OpKind::kIndexSelect: {
      const int64_t dim = attrs.GetInt("dim");
      dims = in;
      dims[dim] = dims_.at(n->operand(1).node.get())[0];
      break;
    }
    case OpKind::kScatterAdd:
      dims = in;
      break;
    case OpKind::kMatmul: {
      const Node* y = n->operand(1).node.get();
      const std::vector<Product>& b = dims_.at(y);
      const int64_t ra = x->shape().rank(), rb = y->shape().rank();
      if (ra < 2 || rb < 2 || rank < 2) {
        Leaf(n);
        return;
      }
      Equate(in[ra - 1], b[rb - 2]);
      // Batch dimensions broadcast like an elementwise op.
      for (int64_t d = 0; d + 2 < rank; ++d) {
        for (const auto& [shape, sizes] :
             {std::pair(&x->shape(), &in), std::pair(&y->shape(), &b)}) {
          const int64_t k = d - (rank - shape->rank());
          if (k < 0 || shape->size(k) == 1) continue;
          if (dims[d].empty()) {
            dims[d] = (*sizes)[k];
          } else {
            Equate(dims[d], (*sizes)[k]);
          }
        }
      }
      dims[rank - 2] = in[ra - 2];
      dims[rank - 1] = b[rb - 1];
      break;
    }
    default: {
      if (IsReduction(n->op())) {
        std::vector<bool> reduced(x->shape().rank(), false);
        if (n->op() == OpKind::kArgmax) {
          reduced[attrs.GetInt("dim")] = true;
        } else {
          for (int64_t d : attrs.GetInts("dims")) reduced[d] = true;
        }
        const bool keepdim = attrs.GetBool("keepdim");
        dims.clear();
        for (int64_t d = 0; d < x->shape().rank(); ++d) {
          if (!reduced[d]) {
            dims.push_back(in[d]);
          } else if (keepdim) {
            dims.emplace_back();
          }
        }
        break;
      }
      // Elementwise: operands broadcast to the output, aligned at the last dimension.
      for (int k = 0; k < n->num_operands(); ++k) {
        const Node* operand = n->operand(k).node.get();
        const int64_t lead = rank - operand->shape().rank();
        if (lead < 0) {
          Leaf(n);
          return;
        }
        const std::vector<Product>& od = dims_.at(operand);
        for (int64_t d = lead; d < rank; ++d) {
          if (operand->shape().size(d - lead) == 1) continue;
          if (dims[d].empty()) {
            dims[d] = od[d - lead];
          } else {
            Equate(dims[d], od[d - lead]);
          }
        }
      }
    }
  }
  Set(n, std::move(dims));
}

void SizeSymbols::AnalyseReshape(const Node* n) {
  const Node* x = n->operand(0).node.get();
  const std::vector<Product>& in = dims_.at(x);
  const Sizes& out = n->shape().sizes();
  std::vector<Product> dims(out.size());
  for (const ReshapeGroup& g : ReshapeGroups(x->shape().sizes(), out)) {
    Product all;
    for (int64_t d = g.in_begin; d < g.in_end; ++d) all = Concat(std::move(all), in[d]);
    all = Normalize(all);
    std::vector<int64_t> targets;  // the output dimensions of the group that are not 1
    for (int64_t d = g.out_begin; d < g.out_end; ++d) {
      if (out[d] != 1) targets.push_back(d);
    }
    if (targets.size() == 1) {
      dims[targets[0]] = all;
      continue;
    }
    if (targets.empty()) continue;
    // A split: cut the input's symbols, in order, into runs whose sizes are the outputs'
    // (splitting back what a reshape merged). Otherwise each output gets a new symbol and
    // the input's lone symbol becomes their product (a model dimension split into heads).
    size_t next = 0;
    bool cut = true;
    for (int64_t d : targets) {
      Product run;
      while (next < all.size() && Value(run) != out[d]) run.push_back(all[next++]);
      if (Value(run) != out[d]) cut = false;
      dims[d] = std::move(run);
    }
    if (cut && next == all.size()) continue;
    Product joined;
    for (int64_t d : targets) {
      dims[d] = Fresh(out[d]);
      joined = Concat(std::move(joined), dims[d]);
    }
    Equate(all, joined);
  }
  Set(n, std::move(dims));
}

void SizeSymbols::Finish() {
  std::vector<int> renumber(values_.size(), -1);
  std::vector<int64_t> values;
  for (const Node* n : order_) {
    for (Product& p : dims_.at(n)) {
      p = Normalize(p);
      for (int& s : p) {
        if (renumber[s] < 0) {
          renumber[s] = static_cast<int>(values.size());
          values.push_back(values_[s]);
        }
        s = renumber[s];
      }
      std::sort(p.begin(), p.end());
    }
  }
  values_ = std::move(values);
  bound_.clear();
  is_bound_.clear();
}

}  // namespace kiln::codegen
