// The Tensor method forms: each forwards to the free function in lazy/ops.h.
#include "lazy/ops.h"
#include "lazy/tensor.h"

namespace kiln {

Tensor Tensor::sum(std::vector<int64_t> dims, bool keepdim, CallSite site) const {
  return kiln::sum(*this, std::move(dims), keepdim, site);
}
Tensor Tensor::mean(std::vector<int64_t> dims, bool keepdim, CallSite site) const {
  return kiln::mean(*this, std::move(dims), keepdim, site);
}
Tensor Tensor::prod(std::vector<int64_t> dims, bool keepdim, CallSite site) const {
  return kiln::prod(*this, std::move(dims), keepdim, site);
}
Tensor Tensor::max(std::vector<int64_t> dims, bool keepdim, CallSite site) const {
  return kiln::max(*this, std::move(dims), keepdim, site);
}
Tensor Tensor::min(std::vector<int64_t> dims, bool keepdim, CallSite site) const {
  return kiln::min(*this, std::move(dims), keepdim, site);
}
Tensor Tensor::argmax(std::optional<int64_t> dim, bool keepdim, CallSite site) const {
  return kiln::argmax(*this, dim, keepdim, site);
}
Tensor Tensor::reshape(std::vector<int64_t> sizes, CallSite site) const {
  return kiln::reshape(*this, std::move(sizes), site);
}
// Every tensor is contiguous here, so view and reshape are the same op.
Tensor Tensor::view(std::vector<int64_t> sizes, CallSite site) const {
  return kiln::reshape(*this, std::move(sizes), site);
}
Tensor Tensor::permute(std::vector<int64_t> dims, CallSite site) const {
  return kiln::permute(*this, std::move(dims), site);
}
Tensor Tensor::transpose(int64_t dim0, int64_t dim1, CallSite site) const {
  return kiln::transpose(*this, dim0, dim1, site);
}
Tensor Tensor::expand(std::vector<int64_t> sizes, CallSite site) const {
  return kiln::expand(*this, std::move(sizes), site);
}
Tensor Tensor::unsqueeze(int64_t dim, CallSite site) const {
  return kiln::unsqueeze(*this, dim, site);
}
Tensor Tensor::squeeze(int64_t dim, CallSite site) const { return kiln::squeeze(*this, dim, site); }
Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim, CallSite site) const {
  return kiln::flatten(*this, start_dim, end_dim, site);
}
Tensor Tensor::slice(int64_t dim, int64_t start, int64_t end, int64_t step, CallSite site) const {
  return kiln::slice(*this, dim, start, end, step, site);
}
Tensor Tensor::to(DType dtype, CallSite site) const { return kiln::cast(*this, dtype, site); }
Tensor Tensor::matmul(const Tensor& other, CallSite site) const {
  return kiln::matmul(*this, other, site);
}
Tensor Tensor::gather(int64_t dim, const Tensor& index, CallSite site) const {
  return kiln::gather(*this, dim, index, site);
}
Tensor Tensor::index_select(int64_t dim, const Tensor& index, CallSite site) const {
  return kiln::index_select(*this, dim, index, site);
}
Tensor Tensor::scatter_add(int64_t dim, const Tensor& index, const Tensor& src,
                           CallSite site) const {
  return kiln::scatter_add(*this, dim, index, src, site);
}
Tensor Tensor::neg(CallSite site) const { return kiln::neg(*this, site); }
Tensor Tensor::abs(CallSite site) const { return kiln::abs(*this, site); }
Tensor Tensor::exp(CallSite site) const { return kiln::exp(*this, site); }
Tensor Tensor::log(CallSite site) const { return kiln::log(*this, site); }
Tensor Tensor::sqrt(CallSite site) const { return kiln::sqrt(*this, site); }
Tensor Tensor::rsqrt(CallSite site) const { return kiln::rsqrt(*this, site); }
Tensor Tensor::tanh(CallSite site) const { return kiln::tanh(*this, site); }
Tensor Tensor::sigmoid(CallSite site) const { return kiln::sigmoid(*this, site); }
Tensor Tensor::relu(CallSite site) const { return kiln::relu(*this, site); }
Tensor Tensor::pow(const Tensor& exponent, CallSite site) const {
  return kiln::pow(*this, exponent, site);
}
Tensor Tensor::pow(Scalar exponent, CallSite site) const {
  return kiln::pow(*this, exponent, site);
}

}  // namespace kiln
