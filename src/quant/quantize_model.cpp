// Model requantization: choose each tensor's type (mix.h), convert rows on the
// program's thread pool (via f32, as llama.cpp does), write a new GGUF file.
#include "quant/quantize_model.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <vector>

#include "fs/atomic_file.h"
#include "gguf/reader.h"
#include "gguf/writer.h"
#include "quant/mix.h"
#include "quant/rows.h"

namespace hearth::quant {
namespace {

using gguf::TensorType;

constexpr uint32_t kQuantizationVersion = 2;  // ggml's GGML_QNT_VERSION
constexpr uint64_t kChunkWeights = 1 << 16;   // weights per unit of work

struct Job {
  const gguf::TensorInfo* in;
  TensorType out_type;
  std::vector<uint8_t> out;  // empty when the input bytes are kept as they are
};

struct Chunk {
  size_t job;
  uint64_t row_begin, row_end;
};

std::string known_types() {
  std::string s;
  for (const FileType& f : file_types()) {
    if (!s.empty()) s += ", ";
    s += f.name;
  }
  return s;
}

bool can_dequantize(TensorType t) {
  switch (t) {
    case TensorType::F32:
    case TensorType::F16:
    case TensorType::BF16:
    case TensorType::Q4_0:
    case TensorType::Q4_1:
    case TensorType::Q5_0:
    case TensorType::Q5_1:
    case TensorType::Q8_0:
    case TensorType::Q2_K:
    case TensorType::Q3_K:
    case TensorType::Q4_K:
    case TensorType::Q5_K:
    case TensorType::Q6_K:
      return true;
    default:
      return false;
  }
}

// Converts rows [begin, end) of one tensor; `scratch` holds one row of f32.
void convert_rows(Job& job, uint64_t begin, uint64_t end, std::vector<float>& scratch) {
  const gguf::TensorInfo& t = *job.in;
  const uint64_t ne0 = t.dims[0];
  const uint64_t in_row = gguf::row_bytes(t.type, ne0);
  const uint64_t out_row = gguf::row_bytes(job.out_type, ne0);
  scratch.resize(ne0);
  uint8_t* out = job.out.data();
  for (uint64_t r = begin; r < end; ++r) {
    dequantize_row(t.type, t.data + r * in_row, scratch.data(), static_cast<int64_t>(ne0));
    quantize_row(job.out_type, scratch.data(), out + r * out_row, static_cast<int64_t>(ne0));
  }
}

void print_progress(uint64_t done, uint64_t total, bool final) {
  const double pct = total ? 100.0 * static_cast<double>(done) / static_cast<double>(total) : 100.0;
  std::fprintf(stderr, "\rquantizing: %5.1f%% (%llu / %llu weights)%s", pct,
               static_cast<unsigned long long>(done), static_cast<unsigned long long>(total),
               final ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace

namespace {

std::vector<TensorShape> shapes_of(const gguf::GgufFile& in) {
  std::vector<TensorShape> shapes;
  for (const auto& t : in.tensors()) shapes.push_back({t.name, t.type, t.n_dims, t.dims[0]});
  return shapes;
}

bool is_quantized(TensorType t) {
  return t != TensorType::F32 && t != TensorType::F16 && t != TensorType::BF16;
}

}  // namespace

std::optional<Requantized> find_requantized(const gguf::GgufFile& in, const ModelShape& model,
                                            const FileType& type) {
  const std::vector<TensorShape> shapes = shapes_of(in);
  const std::vector<TensorType> types = choose_tensor_types(type, model, shapes);
  for (size_t i = 0; i < shapes.size(); ++i)
    if (types[i] != shapes[i].type && is_quantized(shapes[i].type))
      return Requantized{shapes[i].name, shapes[i].type};
  return std::nullopt;
}

QuantizeSummary quantize_model(const std::string& in_path, const ModelShape& model,
                               const std::string& out_path, const QuantizeOptions& options,
                               threads::ThreadPool& pool) {
  const std::optional<FileType> target = find_file_type(options.type);
  if (!target) {
    throw std::runtime_error("unknown quantization type '" + options.type +
                             "' (expected one of: " + known_types() + ")");
  }
  fs::AtomicFileOptions output;
  output.force = options.force;
  output.same_file_forbidden = in_path;
  fs::check_destination(out_path, output);  // before the long work
  std::unique_ptr<gguf::GgufFile> in = gguf::GgufFile::open(in_path);

  if (!options.allow_requantize)
    if (const auto r = find_requantized(*in, model, *target))
      throw std::runtime_error(
          in_path + ": tensor '" + r->tensor + "' is already quantized (" +
          std::string(gguf::type_name(r->type)) +
          "); quantizing it again adds a second rounding to the first. Start from an F16 or "
          "F32 file, or allow it (hearth quantize --allow-requantize)");
  const std::vector<TensorShape> shapes = shapes_of(*in);
  const std::vector<TensorType> types = choose_tensor_types(*target, model, shapes);

  QuantizeSummary summary;
  std::vector<Job> jobs(in->tensors().size());
  std::vector<Chunk> chunks;
  uint64_t convert_total = 0;
  for (size_t i = 0; i < jobs.size(); ++i) {
    const gguf::TensorInfo& t = in->tensors()[i];
    jobs[i].in = &t;
    jobs[i].out_type = types[i];
    summary.bytes_before += t.n_bytes;
    summary.n_params += t.n_elements();
    if (types[i] == t.type) {
      summary.bytes_after += t.n_bytes;
      continue;
    }
    if (!can_dequantize(t.type)) {
      throw std::runtime_error(in_path + ": tensor '" + t.name + "' has type " +
                               std::string(gguf::type_name(t.type)) +
                               ", which hearth cannot convert");
    }
    const uint64_t out_bytes = gguf::row_bytes(types[i], t.dims[0]) * t.n_rows();
    jobs[i].out.resize(out_bytes);
    summary.bytes_after += out_bytes;
    convert_total += t.n_elements();
    const uint64_t rows_per_chunk = std::max<uint64_t>(1, kChunkWeights / t.dims[0]);
    for (uint64_t r = 0; r < t.n_rows(); r += rows_per_chunk) {
      chunks.push_back({i, r, std::min(t.n_rows(), r + rows_per_chunk)});
    }
  }

  // The pool's threads take chunks in order; the first error stops them all.
  // Whichever thread finishes a chunk more than 100 ms after the last progress
  // line redraws it.
  using Clock = std::chrono::steady_clock;
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> done{0};
  std::atomic<bool> failed{false};
  std::mutex progress_mutex;
  Clock::time_point last_progress = Clock::now();
  pool.run([&](int, int) {
    std::vector<float> scratch;
    for (size_t c; !failed && (c = next.fetch_add(1)) < chunks.size();) {
      const Chunk& ch = chunks[c];
      try {
        convert_rows(jobs[ch.job], ch.row_begin, ch.row_end, scratch);
      } catch (...) {
        failed = true;
        throw;  // the pool hands the first exception to its caller
      }
      done += (ch.row_end - ch.row_begin) * jobs[ch.job].in->dims[0];
      if (options.progress) {
        std::unique_lock lock(progress_mutex, std::try_to_lock);
        if (lock && Clock::now() - last_progress > std::chrono::milliseconds(100)) {
          last_progress = Clock::now();
          print_progress(done, convert_total, false);
        }
      }
    }
  });
  if (options.progress) print_progress(done, convert_total, true);

  gguf::GgufWriter writer;
  writer.copy_metadata(*in);
  writer.set_u32("general.quantization_version", kQuantizationVersion);
  writer.set_u32("general.file_type", target->llama_ftype);
  for (size_t i : llama_tensor_order(shapes)) {
    const Job& job = jobs[i];
    const gguf::TensorInfo& t = *job.in;
    std::vector<uint64_t> dims(t.dims, t.dims + t.n_dims);
    const std::span<const uint8_t> data = job.out_type == t.type
                                              ? std::span<const uint8_t>(t.data, t.n_bytes)
                                              : std::span<const uint8_t>(job.out);
    writer.add_tensor(t.name, job.out_type, std::move(dims), data);
  }
  writer.write(out_path, output);

  if (summary.n_params > 0) {
    const double params = static_cast<double>(summary.n_params);
    summary.bpw_before = 8.0 * static_cast<double>(summary.bytes_before) / params;
    summary.bpw_after = 8.0 * static_cast<double>(summary.bytes_after) / params;
  }
  return summary;
}

}  // namespace hearth::quant
