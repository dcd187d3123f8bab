// nn::Embedding: index_select of the weight's rows.
#include "lazy/nn_embedding.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "lazy/creation.h"
#include "lazy/nn_init.h"
#include "lazy/ops.h"
#include "util/error.h"

namespace kiln::nn {

Embedding::Embedding(int64_t num_embeddings, int64_t embedding_dim, Generator& gen)
    : Module("Embedding"), num_embeddings_(num_embeddings), embedding_dim_(embedding_dim) {
  if (num_embeddings <= 0 || embedding_dim <= 0) {
    throw Error(absl::StrCat("Embedding: num_embeddings and embedding_dim must be positive, got ",
                             num_embeddings, " and ", embedding_dim));
  }
  weight_ = register_parameter(
      "weight", init::trunc_normal_(zeros({num_embeddings, embedding_dim}), 0.02, gen));
}

Tensor Embedding::forward(const Tensor& indices, CallSite site) const {
  if (!indices.defined()) throw Error("Embedding: the indices are undefined");
  if (indices.dtype() != DType::kI32 && indices.dtype() != DType::kI64) {
    throw Error(absl::StrCat("Embedding(", num_embeddings_, ", ", embedding_dim_,
                             "): expected i32 or i64 indices, got ", indices.shape().ToString()));
  }
  std::vector<int64_t> sizes(indices.sizes().begin(), indices.sizes().end());
  Tensor flat = reshape(indices, {indices.numel()}, site);
  Tensor rows = index_select(weight_, 0, flat, site);
  sizes.push_back(embedding_dim_);
  return reshape(rows, sizes, site);
}

}  // namespace kiln::nn
