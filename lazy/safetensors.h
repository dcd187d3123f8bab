#pragma once
// Checkpoints in the safetensors format (https://github.com/huggingface/safetensors), so
// a kiln model's weights load in PyTorch/timm and back:
//
//   bytes 0..7   N, the header length, unsigned 64-bit little-endian
//   bytes 8..    the header: JSON, padded with spaces to a multiple of 8 bytes,
//                {"__metadata__": {"step": "100"},                       (optional)
//                 "blocks.0.attn.qkv.bias": {"dtype": "F32", "shape": [576],
//                                            "data_offsets": [0, 2304]}, ...}
//   bytes 8+N..  the data: each tensor's elements, row-major, little-endian, at
//                data_offsets relative to the start of the data, back to back
//
//   kiln::save_checkpoint("vit.safetensors", *model, {{"step", "1000"}});
//   kiln::save_checkpoint("vit.optimizer.safetensors", opt);   // to resume training
//   kiln::save_training_state("vit.train.safetensors", *model, opt);  // ... with dropout
//   kiln::load_checkpoint("vit.safetensors", *fresh_model);
//
// As the reference implementation writes them, tensors are ordered by dtype alignment
// (8-byte types first) and then by name, which keeps every tensor aligned to its element
// size; for a model in one dtype this is name order. dtypes: F32, F64, I32, I64, BOOL.
// Names are the modules' hierarchical names (nn::Module::state_dict), which follow
// PyTorch/timm ("blocks.0.attn.qkv.weight").
//
// Errors (unreadable or malformed file, unsupported dtype, a tensor missing from the
// file or of another shape or dtype than the model's) throw kiln::Error naming the file.
// Saving reads every tensor's value (one barrier for all of them) and writes to a
// temporary file renamed into place, so an interrupted save never leaves a partial file.
#include <map>
#include <string>
#include <string_view>

#include "lazy/nn_module.h"
#include "lazy/optim_optimizer.h"
#include "lazy/tensor.h"

namespace kiln {

// Tensors by name, and the free-form string metadata ("__metadata__").
using TensorMap = std::map<std::string, Tensor>;
using SafetensorsMetadata = std::map<std::string, std::string>;

// The file contents for `tensors` (every one defined, of a supported dtype).
std::string SerializeSafetensors(const TensorMap& tensors,
                                 const SafetensorsMetadata& metadata = {});
// Tensors (materialised, on the current device) from file contents; `metadata`, when
// given, receives "__metadata__". `what` names the source in errors. The header is
// validated as the reference does: offsets in order, back to back, matching each
// tensor's byte size and covering the data exactly.
TensorMap DeserializeSafetensors(std::string_view bytes, SafetensorsMetadata* metadata = nullptr,
                                 const std::string& what = "safetensors");

// SerializeSafetensors written to `path`.
void save_safetensors(const std::string& path, const TensorMap& tensors,
                      const SafetensorsMetadata& metadata = {});
// DeserializeSafetensors of the file at `path`.
TensorMap load_safetensors(const std::string& path, SafetensorsMetadata* metadata = nullptr);

// Saves `model`'s state_dict (parameters and buffers).
void save_checkpoint(const std::string& path, const nn::Module& model,
                     const SafetensorsMetadata& metadata = {});
// Loads a checkpoint into `model` (nn::Module::load_state_dict): every name must match,
// with the same shape and dtype; nothing changes when anything does not.
void load_checkpoint(const std::string& path, nn::Module& model,
                     SafetensorsMetadata* metadata = nullptr);

// Saves `optimizer`'s state_dict (moments or momentum buffers, step counts, the groups'
// lr and weight decay): with the model's checkpoint, what training needs to resume
// exactly where it stopped.
void save_checkpoint(const std::string& path, const optim::Optimizer& optimizer,
                     const SafetensorsMetadata& metadata = {});
// Loads an optimizer checkpoint (optim::Optimizer::load_state_dict): the optimizer must
// be of the same kind, over parameters of the same shapes; nothing changes when the file
// does not fit.
void load_checkpoint(const std::string& path, optim::Optimizer& optimizer,
                     SafetensorsMetadata* metadata = nullptr);

// Saves what training needs besides the weights to go on exactly where it stopped: the
// optimizer's state_dict (keys "optimizer." + its names) and the model's random streams
// (keys "rng." + Module::rng_state's names: the dropout modules' generators).
//
//   kiln::save_checkpoint("ckpt-1000.safetensors", *model);                 // weights
//   kiln::save_training_state("ckpt-1000.train.safetensors", *model, opt);  // the rest
void save_training_state(const std::string& path, const nn::Module& model,
                         const optim::Optimizer& optimizer,
                         const SafetensorsMetadata& metadata = {});
// Loads a file of save_training_state into `model`'s generators and `optimizer`. Every
// key must be one of theirs; nothing changes when anything in the file does not fit.
void load_training_state(const std::string& path, nn::Module& model, optim::Optimizer& optimizer,
                         SafetensorsMetadata* metadata = nullptr);

}  // namespace kiln
