#include "examples/naflex_vit/flags.h"

#include <charconv>
#include <cmath>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "util/error.h"

namespace naflex {
namespace {

using kiln::Error;

int64_t ParseInt(const std::string& flag, const std::string& text, int64_t min) {
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min) {
    throw Error(absl::StrCat(flag, ": expected ", min > 0 ? "a positive" : "a non-negative",
                             " integer, got '", text, "'"));
  }
  return value;
}

double ParsePositiveDouble(const std::string& flag, const std::string& text) {
  double value = 0;
  if (!absl::SimpleAtod(text, &value) || !std::isfinite(value) || value <= 0) {
    throw Error(absl::StrCat(flag, ": expected a positive number, got '", text, "'"));
  }
  return value;
}

double ParseRate(const std::string& flag, const std::string& text) {
  double value = 0;
  if (!absl::SimpleAtod(text, &value) || !(value >= 0 && value < 1)) {
    throw Error(absl::StrCat(flag, ": expected a rate in [0, 1), got '", text, "'"));
  }
  return value;
}

std::vector<int64_t> ParseBuckets(const std::string& flag, const std::string& text) {
  std::vector<int64_t> buckets;
  for (const absl::string_view part : absl::StrSplit(text, ',')) {
    const std::string item(part);
    int64_t value = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
    if (item.empty() || ec != std::errc() || end != item.data() + item.size() || value < 1) {
      throw Error(absl::StrCat(flag, ": expected a comma-separated list of positive lengths "
                               "(e.g. 64,128,256), got '", text, "'"));
    }
    buckets.push_back(value);
  }
  return buckets;
}

}  // namespace

std::string Usage() {
  return R"(naflex_vit: trains the NaFlex ViT of shared/specs/vit_naflex.md with kiln.

  --steps N            training steps (default 40)
  --buckets L,L,...    sequence-length buckets (default 64,128,256; --buckets 128 = one
                       bucket, images with more tokens are skipped)
  --token-budget N     tokens per batch: batch size = budget / bucket (default 4096)
  --lr X               peak learning rate (default 0.001; 20 warm-up steps, cosine to 1e-5)
  --seed N             data and initialisation seed (default 0)
  --dropout X          dropout after attention's projection and in the MLPs (default 0)
  --attn-dropout X     dropout of the attention probabilities (default 0)
  --drop-path X        stochastic depth of the last block, 0 at the first (default 0)
  --clip-grad X        scale the gradients to a total norm of at most X (default: off)
  --model-ema DECAY    keep a moving average of the weights (decay in [0, 1), e.g. 0.99),
                       updated in every step and evaluated after training (default 0: off)
  --data NAME          procedural (default) or fashion-mnist (Debian's
                       dataset-fashion-mnist, /usr/share/datasets/fashion-mnist)
  --eval-batches N     held-out evaluation batches after training (default 10; 0: none)
  --prefetch N         training batches made ahead on a background thread (default: 2
                       when --threads leaves a core free, else 0)
  --device NAME        cpu (default), interp, cuda or cuda_emulated
  --threads N          cpu backend threads (default: every core)
  --save PATH          write the trained model as a safetensors checkpoint
  --load PATH          start from a safetensors checkpoint
  --checkpoint-every N write a checkpoint every N steps and after the last, into
                       --out-dir: checkpoint-<step>.safetensors (the weights),
                       checkpoint-<step>.train.safetensors (optimizer, dropout streams)
                       and, with --model-ema, checkpoint-<step>.ema.safetensors
  --resume PATH        go on from a checkpoint-<step>.safetensors of a run with the same
                       seed, data, buckets and token budget: the same batches, learning
                       rates and dropout masks as if it had not stopped
  --dump-batches DIR   write the starting weights and every training batch (safetensors)
                       for a replay on another implementation
  --out-dir DIR        where train_log.csv, loss_curve.svg and checkpoints go (default
                       naflex_vit_out)
  --bench              print one JSON line of figures at the end
  --help               this text
)";
}

CliOptions ParseFlags(const std::vector<std::string>& args) {
  CliOptions out;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::optional<std::string> value;
    if (flag.rfind("--", 0) != 0) {
      throw Error(absl::StrCat("unexpected argument '", flag, "' (flags start with --; see --help)"));
    }
    if (const size_t eq = flag.find('='); eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    }
    const auto next = [&]() -> std::string {
      if (value) return *value;
      if (i + 1 >= args.size()) throw Error(absl::StrCat(flag, ": missing value"));
      return args[++i];
    };
    const auto no_value = [&]() {
      if (value) throw Error(absl::StrCat(flag, ": takes no value, got '", *value, "'"));
    };
    if (flag == "--help") {
      no_value();
      out.help = true;
    } else if (flag == "--bench") {
      no_value();
      out.bench = true;
    } else if (flag == "--steps") {
      out.train.steps = ParseInt(flag, next(), 1);
    } else if (flag == "--buckets") {
      out.train.buckets = ParseBuckets(flag, next());
    } else if (flag == "--token-budget") {
      out.train.token_budget = ParseInt(flag, next(), 1);
    } else if (flag == "--lr") {
      out.train.lr = ParsePositiveDouble(flag, next());
    } else if (flag == "--dropout") {
      out.train.model.dropout = ParseRate(flag, next());
    } else if (flag == "--attn-dropout") {
      out.train.model.attn_dropout = ParseRate(flag, next());
    } else if (flag == "--drop-path") {
      out.train.model.drop_path = ParseRate(flag, next());
    } else if (flag == "--clip-grad") {
      out.train.clip_grad = ParsePositiveDouble(flag, next());
    } else if (flag == "--model-ema") {
      out.train.model_ema_decay = ParseRate(flag, next());
    } else if (flag == "--seed") {
      out.train.seed = static_cast<uint64_t>(ParseInt(flag, next(), 0));
    } else if (flag == "--data") {
      const std::string data = next();
      if (data != "procedural" && data != "fashion-mnist") {
        throw Error(absl::StrCat(flag, ": expected procedural or fashion-mnist, got '", data, "'"));
      }
      out.train.data = data;
    } else if (flag == "--eval-batches") {
      out.train.eval_batches = ParseInt(flag, next(), 0);
    } else if (flag == "--prefetch") {
      out.train.prefetch_batches = static_cast<int>(ParseInt(flag, next(), 0));
    } else if (flag == "--device") {
      out.device = next();
      if (out.device.empty()) throw Error(absl::StrCat(flag, ": expected a device name"));
    } else if (flag == "--threads") {
      out.threads = static_cast<int>(ParseInt(flag, next(), 1));
    } else if (flag == "--save") {
      out.save_path = next();
    } else if (flag == "--load") {
      out.train.load_path = next();
    } else if (flag == "--checkpoint-every") {
      out.train.checkpoint_every = ParseInt(flag, next(), 1);
    } else if (flag == "--resume") {
      out.train.resume_path = next();
    } else if (flag == "--dump-batches") {
      out.train.dump_dir = next();
    } else if (flag == "--out-dir") {
      out.out_dir = next();
    } else {
      throw Error(absl::StrCat("unknown flag '", flag, "' (see --help)"));
    }
  }
  out.train.checkpoint_dir = out.out_dir;
  return out;
}

CliOptions ParseFlags(int argc, const char* const* argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  return ParseFlags(args);
}

}  // namespace naflex
