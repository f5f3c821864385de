#include "trainer/charts.h"

#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/file_io.h"

namespace arginator::trainer {
namespace {

constexpr int kWidth = 860, kHeight = 560;
constexpr double kLeft = 80, kRight = 250, kTop = 50, kBottom = 60;

struct Rgb {
  double r, g, b;
};
constexpr Rgb kPalette[] = {{0.12, 0.47, 0.71}, {1.00, 0.50, 0.05}, {0.17, 0.63, 0.17},
                            {0.84, 0.15, 0.16}, {0.58, 0.40, 0.74}, {0.55, 0.34, 0.29}};

using Surface = std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)>;
using Context = std::unique_ptr<cairo_t, decltype(&cairo_destroy)>;

void Text(cairo_t* cr, double x, double y, const std::string& s, double size, double align = 0,
          bool vertical = false) {
  cairo_set_font_size(cr, size);
  cairo_text_extents_t ext;
  cairo_text_extents(cr, s.c_str(), &ext);
  cairo_save(cr);
  cairo_move_to(cr, x, y);
  if (vertical) cairo_rotate(cr, -M_PI / 2);
  cairo_rel_move_to(cr, -ext.width * align, 0);
  cairo_show_text(cr, s.c_str());
  cairo_restore(cr);
}

// Encoded in memory, then written durably: cairo's own file writer reports a failed write (a
// full disk) without its reason.
absl::Status Save(cairo_surface_t* surface, const std::string& path) {
  std::string png;
  auto append = [](void* out, const unsigned char* data, unsigned int length) {
    static_cast<std::string*>(out)->append(reinterpret_cast<const char*>(data), length);
    return CAIRO_STATUS_SUCCESS;
  };
  if (cairo_surface_write_to_png_stream(surface, append, &png) != CAIRO_STATUS_SUCCESS) {
    return absl::InternalError(absl::StrCat(path, ": cannot encode PNG"));
  }
  return WriteFileDurably(path, png);
}

std::string Tick(double v) { return absl::StrFormat("%.4g", std::abs(v) < 1e-12 ? 0.0 : v); }

// A "nice" tick step (1, 2 or 5 times a power of ten) giving about five intervals over `range`.
double NiceStep(double range) {
  double raw = range / 5;
  double magnitude = std::pow(10, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0}) {
    if (raw <= m * magnitude) return m * magnitude;
  }
  return 10 * magnitude;
}

}  // namespace

absl::Status WriteLineChart(const std::string& path, const std::vector<Series>& series,
                            const LineChartOptions& options) {
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (const auto& s : series) {
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.y[i])) continue;
      x0 = std::min(x0, s.x[i]), x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]), y1 = std::max(y1, s.y[i]);
    }
  }
  if (options.unit_square || !std::isfinite(x0)) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (x1 - x0 < 1e-12) x0 -= 0.5, x1 += 0.5;
  if (y1 - y0 < 1e-12) y0 -= 0.5, y1 += 0.5;
  double x_step = options.unit_square ? 0.2 : NiceStep(x1 - x0);
  double y_step = options.unit_square ? 0.2 : NiceStep(y1 - y0);
  if (!options.unit_square) {
    x_step = std::max(x_step, 1.0);  // x is epochs: whole numbers
    y0 = std::floor(y0 / y_step) * y_step, y1 = std::ceil(y1 / y_step) * y_step;
  }

  Surface surface(cairo_image_surface_create(CAIRO_FORMAT_RGB24, kWidth, kHeight),
                  cairo_surface_destroy);
  Context ctx(cairo_create(surface.get()), cairo_destroy);
  cairo_t* cr = ctx.get();
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  const double pw = kWidth - kLeft - kRight, ph = kHeight - kTop - kBottom;
  auto px = [&](double x) { return kLeft + (x - x0) / (x1 - x0) * pw; };
  auto py = [&](double y) { return kTop + ph - (y - y0) / (y1 - y0) * ph; };

  // Grid, ticks and labels.
  cairo_set_line_width(cr, 1);
  for (double gx = std::ceil(x0 / x_step - 1e-9) * x_step; gx <= x1 + 1e-9; gx += x_step) {
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    cairo_move_to(cr, px(gx), kTop);
    cairo_line_to(cr, px(gx), kTop + ph);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    Text(cr, px(gx), kTop + ph + 18, Tick(gx), 12, 0.5);
  }
  for (double gy = y0; gy <= y1 + 1e-9; gy += y_step) {
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    cairo_move_to(cr, kLeft, py(gy));
    cairo_line_to(cr, kLeft + pw, py(gy));
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    Text(cr, kLeft - 8, py(gy) + 4, Tick(gy), 12, 1.0);
  }
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_rectangle(cr, kLeft, kTop, pw, ph);
  cairo_stroke(cr);
  Text(cr, kLeft + pw / 2, 30, options.title, 18, 0.5);
  Text(cr, kLeft + pw / 2, kHeight - 18, options.x_label, 14, 0.5);
  Text(cr, 24, kTop + ph / 2, options.y_label, 14, 0.5, /*vertical=*/true);
  if (options.unit_square) {
    double dash[] = {6, 4};
    cairo_set_dash(cr, dash, 2, 0);
    cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
    cairo_move_to(cr, px(0), py(0));
    cairo_line_to(cr, px(1), py(1));
    cairo_stroke(cr);
    cairo_set_dash(cr, nullptr, 0, 0);
  }

  for (size_t s = 0; s < series.size(); ++s) {
    const Rgb& c = kPalette[s % std::size(kPalette)];
    cairo_set_source_rgb(cr, c.r, c.g, c.b);
    cairo_set_line_width(cr, 2.5);
    bool started = false;
    for (size_t i = 0; i < series[s].x.size(); ++i) {
      if (!std::isfinite(series[s].y[i])) continue;
      double X = px(series[s].x[i]), Y = py(series[s].y[i]);
      started ? cairo_line_to(cr, X, Y) : cairo_move_to(cr, X, Y);
      started = true;
    }
    cairo_stroke(cr);
    if (series[s].x.size() <= 50) {  // mark points on short series (epochs)
      for (size_t i = 0; i < series[s].x.size(); ++i) {
        if (!std::isfinite(series[s].y[i])) continue;
        cairo_arc(cr, px(series[s].x[i]), py(series[s].y[i]), 3.5, 0, 2 * M_PI);
        cairo_fill(cr);
      }
    }
    double ly = kTop + 20 + 22 * s;
    cairo_rectangle(cr, kLeft + pw + 14, ly - 9, 18, 10);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    Text(cr, kLeft + pw + 38, ly, series[s].name, 12);
  }
  return Save(surface.get(), path);
}

absl::Status WriteConfusionMatrixChart(const std::string& path, const std::string& title,
                                       const std::vector<std::string>& labels,
                                       const std::vector<std::vector<int64_t>>& matrix) {
  const size_t k = labels.size();
  const double left = 170, top = 60, size = std::min(520.0 / k, 110.0);
  const int width = static_cast<int>(left + size * k + 40);
  const int height = static_cast<int>(top + size * k + 140);
  Surface surface(cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height),
                  cairo_surface_destroy);
  Context ctx(cairo_create(surface.get()), cairo_destroy);
  cairo_t* cr = ctx.get();
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_source_rgb(cr, 0, 0, 0);
  Text(cr, width / 2.0, 30, title, 18, 0.5);
  for (size_t i = 0; i < k; ++i) {
    int64_t row_total = 0;
    for (int64_t v : matrix[i]) row_total += v;
    for (size_t j = 0; j < k; ++j) {
      // Shade by the row-normalised rate, so rare classes are as readable as common ones.
      double rate = row_total > 0 ? static_cast<double>(matrix[i][j]) / row_total : 0;
      cairo_set_source_rgb(cr, 1 - 0.85 * rate, 1 - 0.55 * rate, 1 - 0.2 * rate);
      cairo_rectangle(cr, left + j * size, top + i * size, size, size);
      cairo_fill(cr);
      cairo_set_source_rgb(cr, rate > 0.6 ? 1 : 0, rate > 0.6 ? 1 : 0, rate > 0.6 ? 1 : 0);
      Text(cr, left + (j + 0.5) * size, top + (i + 0.5) * size + 5, absl::StrCat(matrix[i][j]), 13,
           0.5);
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    Text(cr, left - 8, top + (i + 0.5) * size + 5, labels[i], 12, 1.0);
    Text(cr, left + (i + 0.5) * size + 4, top + k * size + 10 + 0, labels[i], 12, 1.0, true);
  }
  Text(cr, 20, top + k * size / 2 + 20, "true", 14, 0.5, true);
  Text(cr, left + k * size / 2, height - 10, "predicted", 14, 0.5);
  return Save(surface.get(), path);
}

}  // namespace arginator::trainer
