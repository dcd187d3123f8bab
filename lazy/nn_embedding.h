#pragma once
// nn::Embedding: a lookup table of `num_embeddings` vectors (torch.nn.Embedding).
//
//   nn::Embedding table(1000, 192, gen);                    // weight f32[1000,192]
//   Tensor e = table.forward(ids);                          // ids i64[B, L] -> f32[B, L, 192]
#include <cstdint>

#include "lazy/generator.h"
#include "lazy/nn_module.h"

namespace kiln::nn {

class Embedding : public Module {
 public:
  // Parameter "weight" [num_embeddings, embedding_dim] ~ trunc_normal(std 0.02, cut at
  // +-2 std) from `gen`, as ViT initialises its embeddings (PyTorch's default is N(0, 1)).
  Embedding(int64_t num_embeddings, int64_t embedding_dim, Generator& gen);

  // indices (i32 or i64, any shape) -> [indices..., embedding_dim]. Indices out of
  // [0, num_embeddings) are reported when the graph runs (index_select's range check).
  Tensor forward(const Tensor& indices, CallSite site = {}) const;

  const Tensor& weight() const { return weight_; }
  int64_t num_embeddings() const { return num_embeddings_; }
  int64_t embedding_dim() const { return embedding_dim_; }

 private:
  int64_t num_embeddings_;
  int64_t embedding_dim_;
  Tensor weight_;
};

}  // namespace kiln::nn
