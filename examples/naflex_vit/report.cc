#include "examples/naflex_vit/report.h"

#include <algorithm>
#include <cmath>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "util/error.h"
#include "util/json.h"

namespace naflex {
namespace {

// A "nice" tick step (1, 2 or 5 times a power of ten) giving about `count` ticks.
double TickStep(double range, int count) {
  const double raw = range / std::max(count, 1);
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (raw <= m * power) return m * power;
  }
  return 10 * power;
}

std::string FormatDuration(double seconds) {
  const int64_t s = static_cast<int64_t>(std::lround(std::max(seconds, 0.0)));
  if (s >= 3600) return absl::StrFormat("%dh%02dm", s / 3600, (s / 60) % 60);
  if (s >= 60) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%ds", s);
}

}  // namespace

std::string StepsCsv(const std::vector<StepRecord>& steps) {
  std::string out =
      "step,bucket,batch_size,valid_tokens,padded_tokens,loss,lr,grad_norm,step_ms,data_ms,"
      "tokens_per_s,compiles\n";
  for (const StepRecord& r : steps) {
    const double tokens_per_s = r.seconds > 0 ? static_cast<double>(r.valid_tokens) / r.seconds : 0;
    absl::StrAppendFormat(&out, "%d,%d,%d,%d,%d,%.6f,%.6g,%.6g,%.3f,%.3f,%.1f,%d\n", r.step,
                          r.bucket, r.batch_size, r.valid_tokens, r.total_tokens - r.valid_tokens,
                          r.loss, r.lr, r.grad_norm, r.seconds * 1e3, r.data_seconds * 1e3,
                          tokens_per_s, r.compiles);
  }
  return out;
}

std::string LossCurveSvg(const std::vector<StepRecord>& steps, int width, int height, int smooth) {
  const double left = 64, right = 20, top = 36, bottom = 48;
  const double plot_w = width - left - right;
  const double plot_h = height - top - bottom;
  double max_loss = 0;
  for (const StepRecord& r : steps) {
    if (std::isfinite(r.loss)) max_loss = std::max(max_loss, r.loss);
  }
  const double y_max = max_loss > 0 ? max_loss * 1.05 : 1.0;
  const double x_max = std::max<double>(1.0, static_cast<double>(steps.size()) - 1);
  const auto px = [&](double step) { return left + plot_w * step / x_max; };
  const auto py = [&](double loss) {
    return top + plot_h * (1 - std::clamp(loss, 0.0, y_max) / y_max);
  };

  std::string svg = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
      "<text x=\"%g\" y=\"22\" font-size=\"15\">NaFlex ViT training loss</text>\n",
      width, height, width, height, left);
  // Grid lines and tick labels.
  const double y_step = TickStep(y_max, 5);
  for (double v = 0; v <= y_max + 1e-12; v += y_step) {
    absl::StrAppendFormat(&svg,
                          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n"
                          "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                          left, py(v), left + plot_w, py(v), left - 6, py(v) + 4, v);
  }
  const double x_step = std::max(1.0, TickStep(x_max, 8));
  for (double s = 0; s <= x_max + 1e-12; s += x_step) {
    absl::StrAppendFormat(&svg,
                          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n"
                          "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n",
                          px(s), top, px(s), top + plot_h, px(s), top + plot_h + 18, s);
  }
  absl::StrAppendFormat(&svg,
                        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
                        "stroke=\"black\"/>\n"
                        "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">step</text>\n"
                        "<text x=\"16\" y=\"%.1f\" text-anchor=\"middle\" "
                        "transform=\"rotate(-90 16 %.1f)\">loss</text>\n",
                        left, top, plot_w, plot_h, left + plot_w / 2, height - 10,
                        top + plot_h / 2, top + plot_h / 2);
  // Raw loss and its running mean.
  const auto polyline = [&](const std::vector<double>& values, const char* style) {
    std::string points;
    for (size_t i = 0; i < values.size(); ++i) {
      if (!std::isfinite(values[i])) continue;
      absl::StrAppendFormat(&points, "%s%.1f,%.1f", points.empty() ? "" : " ",
                            px(static_cast<double>(i)), py(values[i]));
    }
    absl::StrAppendFormat(&svg, "<polyline fill=\"none\" %s points=\"%s\"/>\n", style, points);
  };
  std::vector<double> raw, mean;
  double window_sum = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    raw.push_back(steps[i].loss);
    window_sum += steps[i].loss;
    if (i >= static_cast<size_t>(smooth)) window_sum -= steps[i - static_cast<size_t>(smooth)].loss;
    mean.push_back(window_sum / static_cast<double>(std::min<size_t>(i + 1, static_cast<size_t>(smooth))));
  }
  polyline(raw, "stroke=\"#9ecae1\" stroke-width=\"1\"");
  polyline(mean, "stroke=\"#08519c\" stroke-width=\"2\"");
  absl::StrAppendFormat(&svg,
                        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#08519c\">loss "
                        "(mean of %d steps)</text>\n</svg>\n",
                        left + plot_w - 6, top + 16, smooth);
  return svg;
}

RunFigures Figures(const TrainResult& result) {
  RunFigures f;
  int64_t valid = 0, total = 0;
  std::vector<double> step_seconds;
  for (const StepRecord& r : result.steps) {
    valid += r.valid_tokens;
    total += r.total_tokens;
    step_seconds.push_back(r.seconds);
  }
  if (result.train_seconds > 0) {
    f.valid_tokens_per_s = static_cast<double>(valid) / result.train_seconds;
    f.padded_tokens_per_s = static_cast<double>(total) / result.train_seconds;
  }
  f.median_step_ms = Median(step_seconds) * 1e3;
  if (total > 0) f.padding_fraction = static_cast<double>(total - valid) / static_cast<double>(total);
  return f;
}

std::string BenchJson(const TrainResult& result) {
  const RunFigures f = Figures(result);
  kiln::Json out = kiln::Json::Object();
  out.Set("tokens_per_s_valid", kiln::Json(std::round(f.valid_tokens_per_s * 10) / 10));
  out.Set("tokens_per_s_padded", kiln::Json(std::round(f.padded_tokens_per_s * 10) / 10));
  out.Set("median_step_ms", kiln::Json(std::round(f.median_step_ms * 1000) / 1000));
  out.Set("compiles", kiln::Json(result.train_compiles + result.eval_compiles +
                                 result.compiles_during_training));
  out.Set("compiles_during_training", kiln::Json(result.compiles_during_training));
  out.Set("cache_hits", kiln::Json(result.cache_hits));
  out.Set("padding_fraction", kiln::Json(std::round(f.padding_fraction * 1e4) / 1e4));
  out.Set("first_loss", kiln::Json(result.first_loss));
  out.Set("final_loss", kiln::Json(result.final_loss));
  out.Set("eval_accuracy", kiln::Json(result.eval_accuracy));
  out.Set("steps", kiln::Json(static_cast<int64_t>(result.steps.size())));
  return out.Dump();
}

std::string ProgressLine(const StepRecord& record, int64_t first_step, int64_t total_steps,
                         double elapsed_seconds, double valid_tokens_per_s) {
  const int64_t done = record.step + 1;
  const int64_t done_here = done - first_step;
  const double eta = done_here > 0 ? elapsed_seconds / static_cast<double>(done_here) *
                                         static_cast<double>(total_steps - done)
                                   : 0;
  return absl::StrFormat("step %d/%d  loss %.4f  %.0f tok/s  compiles %d  ETA %s", done,
                         total_steps, record.loss, valid_tokens_per_s, record.compiles,
                         FormatDuration(eta));
}

void WriteTextFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw kiln::Error(absl::StrCat(path, ": cannot open for writing"));
  out << text;
  out.close();
  if (!out) throw kiln::Error(absl::StrCat(path, ": write error"));
}

}  // namespace naflex
