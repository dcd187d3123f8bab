// einsum: the equation is parsed into one list of subscripts per operand (each letter a
// number, each dimension under "..." a number of its own), then every operand loses its
// repeated subscripts (diagonal) and those no other operand or the output names (sum),
// and the operands are contracted from left to right:
//
//   "bhqd,bhkd->bhqk":  batch b h, left q, summed d, right k
//     [b,h,q,d] x permute([b,h,k,d]) = [b,h,q,d] x [b,h,d,k] -> [b,h,q,k]   (one matmul)
//
// Several left, summed or right subscripts are merged by reshapes into one matrix side.
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lazy/op_utils.h"
#include "lazy/ops.h"

namespace kiln {
namespace {

using internal::CastTo;
using internal::CheckOperand;
using internal::CheckSameBackend;
using internal::ReshapeTo;
using internal::ThrowOpError;

// Letters are 0-51 (A-Z, then a-z: the implicit output's order); the dimensions under
// "..." are kFirstEllipsis + k, k counted from the last of them, so that they line up
// across operands from the right, as broadcasting does.
constexpr int kLetters = 52;
constexpr int kFirstEllipsis = kLetters;

using Subscripts = std::vector<int>;

bool Contains(const Subscripts& s, int id) { return std::find(s.begin(), s.end(), id) != s.end(); }

std::string SubscriptName(int id) {
  if (id >= kFirstEllipsis) return absl::StrCat("\"...\" dimension ", -(id - kFirstEllipsis) - 1);
  return absl::StrCat("'", std::string(1, static_cast<char>(id < 26 ? 'A' + id : 'a' + id - 26)),
                      "'");
}

// The call, for errors that name the equation and every operand's shape.
struct Call {
  std::string_view equation;
  const std::vector<Tensor>& operands;

  template <typename... Args>
  [[noreturn]] void Fail(const Args&... parts) const {
    std::string shapes;
    for (const Tensor& t : operands) {
      absl::StrAppend(&shapes, shapes.empty() ? "" : ", ", t.shape().ToString());
    }
    ThrowOpError("einsum: \"", equation, "\" with ", shapes.empty() ? "no operands" : shapes, ": ",
                 parts...);
  }
};

struct Equation {
  std::vector<Subscripts> inputs;  // one subscript per operand dimension
  Subscripts output;
};

int LetterId(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return 26 + c - 'a';
  return -1;
}

// Letter ids of a term, with -1 where "..." stands; `where` names the term in errors.
Subscripts Letters(const Call& call, const std::string& term, const std::string& where) {
  Subscripts ids;
  for (size_t i = 0; i < term.size(); ++i) {
    if (term[i] == '.') {
      if (term.compare(i, 3, "...") != 0) call.Fail("a '.' in ", where, " is not part of \"...\"");
      if (Contains(ids, -1)) call.Fail(where, " has \"...\" twice");
      ids.push_back(-1);
      i += 2;
      continue;
    }
    const int id = LetterId(term[i]);
    if (id < 0) {
      call.Fail("'", std::string(1, term[i]), "' in ", where,
                " is not a letter, ',', \"->\" or \"...\"");
    }
    ids.push_back(id);
  }
  return ids;
}

// "..." ids for `count` dimensions, the first one leftmost.
void AppendEllipsis(int64_t count, Subscripts* out) {
  for (int64_t k = count - 1; k >= 0; --k) out->push_back(kFirstEllipsis + static_cast<int>(k));
}

Subscripts InputTerm(const Call& call, const std::string& term, int k) {
  const std::string where = absl::StrCat("operand ", k, "'s term \"", term, "\"");
  const Subscripts ids = Letters(call, term, where);
  const int64_t rank = call.operands[k].dim();
  const bool has_ellipsis = Contains(ids, -1);
  const int64_t named = static_cast<int64_t>(ids.size()) - (has_ellipsis ? 1 : 0);
  if (has_ellipsis ? named > rank : named != rank) {
    call.Fail(where, " names ", named, " dimensions, but operand ", k, " has ", rank);
  }
  Subscripts out;
  for (int id : ids) {
    if (id >= 0) {
      out.push_back(id);
    } else {
      AppendEllipsis(rank - named, &out);
    }
  }
  return out;
}

Subscripts OutputTerm(const Call& call, const std::string& term, int64_t ellipsis_dims,
                      const std::vector<Subscripts>& inputs) {
  if (term.find("->") != std::string::npos) call.Fail("\"->\" appears twice");
  Subscripts out;
  for (int id : Letters(call, term, absl::StrCat("the output \"", term, "\""))) {
    if (id < 0) {
      AppendEllipsis(ellipsis_dims, &out);
      continue;
    }
    if (Contains(out, id)) call.Fail("the output names ", SubscriptName(id), " twice");
    if (std::none_of(inputs.begin(), inputs.end(),
                     [&](const Subscripts& in) { return Contains(in, id); })) {
      call.Fail("the output's ", SubscriptName(id), " names no operand's dimension");
    }
    out.push_back(id);
  }
  return out;
}

Equation Parse(const Call& call) {
  std::string text;
  for (char c : call.equation) {
    if (c != ' ') text.push_back(c);
  }
  const size_t arrow = text.find("->");
  const std::string lhs = text.substr(0, arrow);
  Equation eq;
  int64_t ellipsis_dims = 0;
  for (size_t start = 0, k = 0;; ++k) {
    const size_t comma = lhs.find(',', start);
    if (k < call.operands.size()) {
      eq.inputs.push_back(InputTerm(call, lhs.substr(start, comma - start), static_cast<int>(k)));
      for (int id : eq.inputs.back()) {
        ellipsis_dims = std::max<int64_t>(ellipsis_dims, id - kFirstEllipsis + 1);
      }
    }
    if (comma == std::string::npos) {
      if (k + 1 != call.operands.size()) {
        call.Fail("the equation names ", k + 1, " operands, but ", call.operands.size(),
                  " were given");
      }
      break;
    }
    start = comma + 1;
  }
  if (arrow != std::string::npos) {
    eq.output = OutputTerm(call, text.substr(arrow + 2), ellipsis_dims, eq.inputs);
    return eq;
  }
  AppendEllipsis(ellipsis_dims, &eq.output);
  for (int id = 0; id < kLetters; ++id) {
    int count = 0;
    for (const Subscripts& in : eq.inputs) count += std::count(in.begin(), in.end(), id);
    if (count == 1) eq.output.push_back(id);
  }
  return eq;
}

// Throws unless each subscript has one size in every operand, or 1 where it broadcasts;
// a subscript repeated within an operand must have one size there.
void CheckSizes(const Call& call, const Equation& eq) {
  int max_id = 0;
  for (const Subscripts& in : eq.inputs) {
    for (int id : in) max_id = std::max(max_id, id);
  }
  std::vector<int64_t> size(max_id + 1, -1);
  std::vector<int> from(size.size(), -1);
  for (size_t k = 0; k < eq.inputs.size(); ++k) {
    const Subscripts& in = eq.inputs[k];
    for (size_t d = 0; d < in.size(); ++d) {
      const int id = in[d];
      const int64_t n = call.operands[k].shape().size(static_cast<int64_t>(d));
      for (size_t e = 0; e < d; ++e) {
        const int64_t m = call.operands[k].shape().size(static_cast<int64_t>(e));
        if (in[e] == id && m != n) {
          call.Fail(SubscriptName(id), " is repeated in operand ", k,
                    ", which takes its diagonal, but its sizes differ: ", m, " and ", n);
        }
      }
      if (size[id] >= 0 && size[id] != n && size[id] != 1 && n != 1) {
        call.Fail(SubscriptName(id), " has size ", size[id], " in operand ", from[id], " but ", n,
                  " in operand ", k, " (sizes must agree, or one be 1)");
      }
      if (size[id] <= 1) {
        size[id] = n;
        from[id] = static_cast<int>(k);
      }
    }
  }
}

// An operand during the contraction: a tensor and the subscript of each of its dimensions.
struct Term {
  Tensor t;
  Subscripts s;
};

// t's dimensions in the order `order` (a permutation of t.s); no node when already so.
Tensor Arranged(const Term& x, const Subscripts& order, const CallSite& site) {
  std::vector<int64_t> perm;
  for (int id : order) perm.push_back(std::find(x.s.begin(), x.s.end(), id) - x.s.begin());
  for (size_t d = 0; d < perm.size(); ++d) {
    if (perm[d] != static_cast<int64_t>(d)) return permute(x.t, std::move(perm), site);
  }
  return x.t;
}

Tensor Reshaped(const Tensor& t, const std::vector<int64_t>& sizes, const CallSite& site) {
  if (std::equal(sizes.begin(), sizes.end(), t.sizes().begin(), t.sizes().end())) return t;
  return ReshapeTo(t, sizes, site);
}

int64_t SizeOf(const Term& x, int id) {
  return x.t.shape().size(std::find(x.s.begin(), x.s.end(), id) - x.s.begin());
}

// Takes the diagonal of every subscript x names twice (the diagonal becomes x's last
// dimension).
void TakeDiagonals(Term& x, const CallSite& site) {
  for (;;) {
    size_t p = 0, q = 0;
    for (size_t d = 0; d < x.s.size() && q == 0; ++d) {
      const size_t first = std::find(x.s.begin(), x.s.end(), x.s[d]) - x.s.begin();
      if (first != d) p = first, q = d;
    }
    if (q == 0) return;
    const int id = x.s[q];
    x.t = diagonal(x.t, 0, static_cast<int64_t>(p), static_cast<int64_t>(q), site);
    x.s.erase(x.s.begin() + q);
    x.s.erase(x.s.begin() + p);
    x.s.push_back(id);
  }
}

// Sums the dimensions whose subscripts `keep` does not hold, keeping x's dtype.
void SumAllBut(Term& x, const Subscripts& keep, const CallSite& site) {
  std::vector<int64_t> dims;
  Subscripts kept;
  for (size_t d = 0; d < x.s.size(); ++d) {
    if (Contains(keep, x.s[d])) {
      kept.push_back(x.s[d]);
    } else {
      dims.push_back(static_cast<int64_t>(d));
    }
  }
  if (dims.empty()) return;
  x.t = CastTo(sum(x.t, dims, false, site), x.t.dtype(), site);
  x.s = std::move(kept);
}

Subscripts Concat(std::initializer_list<const Subscripts*> parts) {
  Subscripts all;
  for (const Subscripts* p : parts) all.insert(all.end(), p->begin(), p->end());
  return all;
}

// The sizes of x's dimensions `ids`.
std::vector<int64_t> SizesOf(const Term& x, const Subscripts& ids) {
  std::vector<int64_t> sizes;
  for (int id : ids) sizes.push_back(SizeOf(x, id));
  return sizes;
}

int64_t Product(const std::vector<int64_t>& sizes) {
  int64_t p = 1;
  for (int64_t s : sizes) p *= s;
  return p;
}

// a and b contracted over the subscripts they share and `keep` does not hold; the
// result's subscripts are the shared kept ones (batch), then a's own, then b's own.
Term Contract(Term a, Term b, const Subscripts& keep, const CallSite& site) {
  SumAllBut(a, Concat({&keep, &b.s}), site);
  SumAllBut(b, Concat({&keep, &a.s}), site);
  Subscripts batch, left, summed, right;
  for (int id : a.s) {
    if (!Contains(b.s, id)) {
      left.push_back(id);
    } else {
      (Contains(keep, id) ? batch : summed).push_back(id);
    }
  }
  for (int id : b.s) {
    if (!Contains(a.s, id)) right.push_back(id);
  }
  std::vector<int64_t> batch_sizes;
  for (int id : batch) batch_sizes.push_back(std::max(SizeOf(a, id), SizeOf(b, id)));
  const std::vector<int64_t> left_sizes = SizesOf(a, left), right_sizes = SizesOf(b, right);
  std::vector<int64_t> out_sizes = batch_sizes;
  out_sizes.insert(out_sizes.end(), left_sizes.begin(), left_sizes.end());
  out_sizes.insert(out_sizes.end(), right_sizes.begin(), right_sizes.end());
  Term out{Tensor(), Concat({&batch, &left, &right})};

  if (summed.empty()) {
    // A broadcast product, each side given size-1 dimensions for the other's own.
    std::vector<int64_t> a_sizes = SizesOf(a, batch), b_sizes = SizesOf(b, batch);
    a_sizes.insert(a_sizes.end(), left_sizes.begin(), left_sizes.end());
    a_sizes.insert(a_sizes.end(), right_sizes.size(), 1);
    b_sizes.insert(b_sizes.end(), left_sizes.size(), 1);
    b_sizes.insert(b_sizes.end(), right_sizes.begin(), right_sizes.end());
    out.t = mul(Reshaped(Arranged(a, Concat({&batch, &left}), site), a_sizes, site),
                Reshaped(Arranged(b, Concat({&batch, &right}), site), b_sizes, site), site);
    return out;
  }
  // One matmul: [batch..., left, summed] x [batch..., summed, right]; a summed dimension
  // of size 1 on one side is expanded to the other's size first.
  std::vector<int64_t> summed_sizes;
  for (int id : summed) summed_sizes.push_back(std::max(SizeOf(a, id), SizeOf(b, id)));
  // x laid out as [batch..., first..., second...] and merged to [batch..., first, second].
  const auto side = [&](const Term& x, const Subscripts& first,
                        const std::vector<int64_t>& first_sizes, const Subscripts& second,
                        const std::vector<int64_t>& second_sizes) {
    std::vector<int64_t> full = SizesOf(x, batch), merged = full;
    full.insert(full.end(), first_sizes.begin(), first_sizes.end());
    full.insert(full.end(), second_sizes.begin(), second_sizes.end());
    merged.push_back(Product(first_sizes));
    merged.push_back(Product(second_sizes));
    Tensor t = Arranged(x, Concat({&batch, &first, &second}), site);
    if (!std::equal(full.begin(), full.end(), t.sizes().begin(), t.sizes().end())) {
      t = expand(t, full, site);
    }
    return Reshaped(t, merged, site);
  };
  const Tensor lhs = side(a, left, left_sizes, summed, summed_sizes);
  const Tensor rhs = side(b, summed, summed_sizes, right, right_sizes);
  out.t = Reshaped(matmul(lhs, rhs, site), out_sizes, site);
  return out;
}

}  // namespace

Tensor einsum(std::string_view equation, const std::vector<Tensor>& operands, CallSite site) {
  const Call call{equation, operands};
  std::vector<const Tensor*> all;
  DType dtype = DType::kBool;
  for (size_t k = 0; k < operands.size(); ++k) {
    CheckOperand("einsum", operands[k], absl::StrCat("operand ", k));
    all.push_back(&operands[k]);
    dtype = k == 0 ? operands[k].dtype() : PromoteTypes(dtype, operands[k].dtype());
  }
  CheckSameBackend("einsum", all);
  const Equation eq = Parse(call);
  if (dtype == DType::kBool) call.Fail("bool operands are not supported; cast them first");
  CheckSizes(call, eq);

  std::vector<Term> terms;
  for (size_t k = 0; k < operands.size(); ++k) {
    terms.push_back({CastTo(operands[k], dtype, site), eq.inputs[k]});
    TakeDiagonals(terms.back(), site);
  }
  Term result = terms[0];
  for (size_t k = 1; k < terms.size(); ++k) {
    Subscripts keep = eq.output;  // what the output or a later operand names
    for (size_t later = k + 1; later < terms.size(); ++later) {
      keep.insert(keep.end(), terms[later].s.begin(), terms[later].s.end());
    }
    result = Contract(std::move(result), terms[k], keep, site);
  }
  SumAllBut(result, eq.output, site);
  return Arranged(result, eq.output, site);
}

}  // namespace kiln
