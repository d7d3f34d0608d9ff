// A safetensors reader for the check executable (the TypeScript reader is src/weights/safetensors.ts):
// u64 little-endian header length, a JSON header { name: { dtype, shape, data_offsets }, __metadata__? },
// then the byte buffer. Checks that every tensor lies inside the file and matches its shape.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "json.h"

namespace tegnas::check {

struct StoredTensor {
  std::string dtype;  // F32, F64, I64, I32, U8
  std::vector<long long> shape;
  std::vector<uint8_t> bytes;  // little-endian values, row-major

  size_t numel() const;
  // The values converted to T (F32, F64, I32, I64 and U8 tensors).
  template <typename T>
  std::vector<T> values() const;
};

struct SafetensorsFile {
  std::string path;
  std::vector<std::pair<std::string, StoredTensor>> tensors;  // header order
  std::vector<std::pair<std::string, std::string>> metadata;

  const StoredTensor* find(const std::string& name) const;
  // The tensor, or a runtime_error naming the file and the tensor.
  const StoredTensor& at(const std::string& name) const;
  // A metadata value, or a runtime_error.
  const std::string& meta(const std::string& key) const;
};

SafetensorsFile read_safetensors(const std::string& path);

// The whole file as bytes / text (runtime_error naming the path when it cannot be read).
std::string read_file(const std::string& path);

}  // namespace tegnas::check
