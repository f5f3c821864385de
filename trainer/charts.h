#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace arginator::trainer {

struct Series {
  std::string name;
  std::vector<double> x, y;
};

struct LineChartOptions {
  std::string title, x_label, y_label;
  bool unit_square = false;  // fix both axes to [0, 1] and draw the diagonal (ROC)
};

// Writes an 800x560 PNG line chart (cairo). Errors name the file.
absl::Status WriteLineChart(const std::string& path, const std::vector<Series>& series,
                            const LineChartOptions& options);

// Writes a PNG heat map of a confusion matrix, counts in each cell, rows true, columns predicted.
absl::Status WriteConfusionMatrixChart(const std::string& path, const std::string& title,
                                       const std::vector<std::string>& labels,
                                       const std::vector<std::vector<int64_t>>& matrix);

}  // namespace arginator::trainer
