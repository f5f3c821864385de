#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace arginator {

// A row-major matrix of floats that someone else owns: the one type for rows of floats on the
// serving path (a request's embeddings, a batch, a forward's probabilities). `T` is float for a
// writable view and const float for a read-only one; a writable view converts to a read-only one.
// Copying a view copies the pointer, never the values.
template <typename T>
struct MatrixView {
  static_assert(std::is_same_v<std::remove_const_t<T>, float>, "rows of float32");

  T* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;

  MatrixView() = default;
  MatrixView(T* data, int64_t rows, int64_t cols) : data(data), rows(rows), cols(cols) {}
  template <typename U, typename = std::enable_if_t<std::is_const_v<T> && !std::is_const_v<U>>>
  MatrixView(const MatrixView<U>& other)  // NOLINT(google-explicit-constructor): float -> const
      : data(other.data), rows(other.rows), cols(other.cols) {}

  T* row(int64_t i) const { return data + i * cols; }
  size_t size() const { return static_cast<size_t>(rows) * static_cast<size_t>(cols); }
  // Rows [first, first + count) of this view.
  MatrixView Slice(int64_t first, int64_t count) const { return {row(first), count, cols}; }
};

using RowsView = MatrixView<const float>;
using MutableRowsView = MatrixView<float>;

}  // namespace arginator
