// One streaming ST-GCN step for ONE person, in C++: the same ATen operations, in the same order,
// as StreamingSTGCN.step's one-person path (models/streaming.py), without the TorchScript
// interpreter between them. A step of the paper network is ~280 small operations; at ~1.2 us of
// interpreter time each that was a fifth of the step. Built on first use by
// models/compiled_step.py (torch.utils.cpp_extension); without a compiler the TorchScript step
// runs instead. Shapes are those of streaming.py: a column is (V, C), rings are batch-first.
#include <torch/extension.h>

#include <optional>
#include <vector>

namespace {

using at::Tensor;

struct Block {
  int64_t input_rate, output_rate, dilation, kernel, span, residual_mode, residual_ring;
  bool fast;
  int64_t parallel, products, fast_rows, phase_offset;
  std::vector<int64_t> starts;
  Tensor A_rows, gcn_weight, gcn_bias, tcn_weight, tcn_bias, residual_weight, carry_combine, carry_bias;
  std::vector<Tensor> phase_input_sums, phase_tap_sums, phase_combine;

  // graph convolution of column n into its ring, and the column itself into the residual ring
  void ingest(const Tensor& x, int64_t n, const Tensor& ring, const Tensor& residual) const {
    const int64_t joints = x.size(0), channels = gcn_bias.size(1);
    const Tensor aggregated = at::mm(A_rows, x).view({joints, -1});
    if (fast) {
      const int64_t residue = n % dilation, phase = (n / dilation + phase_offset) % parallel;
      const int64_t first = (residue * fast_rows + phase) * joints;
      Tensor rows = ring.view({-1, channels}).narrow(0, first, joints);
      at::addmm_out(rows, gcn_bias, aggregated, gcn_weight);
      rows.relu_();
    } else {
      Tensor y = at::addmm(gcn_bias, aggregated, gcn_weight).relu_();
      const int64_t slot = n % dilation * span + n / dilation % kernel;
      ring.select(0, 0).select(1, slot).copy_(y);
      ring.select(0, 0).select(1, slot + kernel).copy_(y);
    }
    if (residual_mode != 0) residual.select(0, 0).select(0, n % residual_ring).copy_(x);
  }

  // the block's output column (V, C_out) for its newest input column n
  Tensor emit(int64_t n, const Tensor& ring, const Tensor& residual) const {
    const int64_t channels = gcn_bias.size(1), joints = gcn_bias.size(0);
    Tensor y;
    if (fast) {
      y = karatsuba(n, ring, joints, channels);
    } else {
      const int64_t slot = n % dilation * span + n / dilation % kernel;
      const Tensor taps = ring.select(0, 0).narrow(1, slot + 1, kernel).reshape({joints, -1});
      y = at::addmm(tcn_bias, taps, tcn_weight);
    }
    if (residual_mode != 0) {
      const Tensor centre = residual.select(0, 0).select(0, (n + 1) % residual_ring).view({joints, -1});
      if (residual_mode == 1) {
        y.add_(centre);
      } else {
        y.addmm_(centre, residual_weight);
      }
    }
    return y.relu_().view({joints, channels});
  }

  Tensor karatsuba(int64_t n, const Tensor& ring, int64_t joints, int64_t channels) const {
    const int64_t residue = n % dilation, phase = (n / dilation + phase_offset) % parallel;
    const int64_t start = starts[phase], end = starts[phase + 1], count = end - start;
    const int64_t base = residue * fast_rows, carried = parallel + products, width = joints * channels;
    const Tensor rows = ring.view({-1, width});
    const Tensor sums = at::mm(phase_input_sums[phase], rows.narrow(0, base, phase + 1));
    Tensor out = ring.view({-1, joints, channels}).narrow(0, base + parallel + start, count);
    at::bmm_out(out, sums.view({count, joints, channels}), phase_tap_sums[phase]);
    Tensor y = at::addmm(rows.narrow(0, base + carried + phase, 1), phase_combine[phase],
                         rows.narrow(0, base + parallel, end));
    if (phase == parallel - 1) {
      Tensor carry = rows.narrow(0, base + carried, parallel - 1);
      at::addmm_out(carry, carry_bias, carry_combine, rows.narrow(0, base + parallel, products));
    }
    return y.view({joints, channels});
  }
};

class OnePersonStep {
 public:
  OnePersonStep(std::vector<std::vector<int64_t>> integers, std::vector<std::vector<Tensor>> tensors,
                std::vector<std::vector<Tensor>> phase_tables, std::vector<int64_t> network,
                std::vector<Tensor> network_tensors) {
    for (size_t i = 0; i < integers.size(); ++i) {
      const auto& k = integers[i];
      const auto& t = tensors[i];
      Block b;
      b.input_rate = k[0], b.output_rate = k[1], b.dilation = k[2], b.kernel = k[3], b.span = k[4];
      b.residual_mode = k[5], b.residual_ring = k[6], b.fast = k[7] != 0, b.parallel = k[8];
      b.products = k[9], b.fast_rows = k[10], b.phase_offset = k[11];
      b.starts.assign(k.begin() + 12, k.end());
      b.A_rows = t[0], b.gcn_weight = t[1], b.gcn_bias = t[2], b.tcn_weight = t[3], b.tcn_bias = t[4];
      b.residual_weight = t[5], b.carry_combine = t[6], b.carry_bias = t[7];
      const auto& tables = phase_tables[i];
      const size_t phases = tables.size() / 3;
      b.phase_input_sums.assign(tables.begin(), tables.begin() + phases);
      b.phase_tap_sums.assign(tables.begin() + phases, tables.begin() + 2 * phases);
      b.phase_combine.assign(tables.begin() + 2 * phases, tables.end());
      blocks_.push_back(std::move(b));
    }
    every_ = network[0], last_rate_ = network[1], pool_length_ = network[2], pool_spacing_ = network[3];
    input_shift_ = network_tensors[0], input_scale_ = network_tensors[1];
    fcn_bias_ = network_tensors[2], fcn_weight_ = network_tensors[3];
  }

  // frame (1, C, V); state as StreamingSTGCN.initial_state(1), updated in place. Logits (1, classes)
  // when a prediction is due, else None.
  std::optional<Tensor> step(const Tensor& frame, int64_t count, const std::vector<Tensor>& state) const {
    at::InferenceMode guard;
    Tensor column = at::addcmul(input_shift_, frame.select(0, 0).t(), input_scale_);  // (V, C)
    for (size_t i = 0; i < blocks_.size(); ++i) {
      const Block& block = blocks_[i];
      if (count % block.input_rate != 0) return std::nullopt;
      const int64_t n = count / block.input_rate;
      block.ingest(column, n, state[2 * i], state[2 * i + 1]);
      if (count % block.output_rate != 0) return std::nullopt;
      column = block.emit(n, state[2 * i], state[2 * i + 1]);
    }
    const Tensor& pooled = state.back();  // (1, 2 * pool_length, C)
    const int64_t slot = (count / last_rate_) % pool_length_;
    const Tensor mean = column.mean(0);
    pooled.select(0, 0).select(0, slot).copy_(mean);
    pooled.select(0, 0).select(0, slot + pool_length_).copy_(mean);
    if (count % every_ != 0) return std::nullopt;
    const Tensor features =
        pooled.select(0, 0).slice(0, slot + 1, slot + pool_length_ + 1, pool_spacing_).mean(0, true);
    return at::addmm(fcn_bias_, features, fcn_weight_);
  }

 private:
  std::vector<Block> blocks_;
  int64_t every_, last_rate_, pool_length_, pool_spacing_;
  Tensor input_shift_, input_scale_, fcn_bias_, fcn_weight_;
};

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  pybind11::class_<OnePersonStep>(m, "OnePersonStep")
      .def(pybind11::init<std::vector<std::vector<int64_t>>, std::vector<std::vector<at::Tensor>>,
                          std::vector<std::vector<at::Tensor>>, std::vector<int64_t>, std::vector<at::Tensor>>())
      .def("step", &OnePersonStep::step, pybind11::call_guard<pybind11::gil_scoped_release>());
}
