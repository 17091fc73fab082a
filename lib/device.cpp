#include "device.hpp"

#include <ATen/Parallel.h>
#include <opencv2/core/utility.hpp>
#include <torch/cuda.h>

#include "samcli/error.hpp"
#include "samcli/scheduler.hpp"

namespace samcli {

torch::Device selectDevice(const std::string& spec) {
  if (spec == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (spec == "cpu") return torch::Device(torch::kCPU);
  if (spec.rfind("cuda", 0) == 0) {
    int index = 0;
    if (spec.size() > 4) {
      if (spec[4] != ':' || spec.size() == 5 || spec.size() > 9 ||
          spec.find_first_not_of("0123456789", 5) != std::string::npos) {
        throw InvalidParameter({"device"}, "invalid device '" + spec + "' (expected cpu, cuda, cuda:N or auto)");
      }
      index = std::stoi(spec.substr(5));
    }
    if (!torch::cuda::is_available()) {
      throw Error("device " + spec + ": no CUDA device available (this LibTorch build or machine has none)");
    }
    if (index >= static_cast<int>(torch::cuda::device_count())) {
      throw Error("device " + spec + ": only " + std::to_string(torch::cuda::device_count()) + " CUDA device(s)");
    }
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw InvalidParameter({"device"}, "invalid device '" + spec + "' (expected cpu, cuda, cuda:N or auto)");
}

void configureThreads(int threads) {
  if (threads < 0) {
    throw InvalidParameter({"threads"}, "invalid threads " + std::to_string(threads) + " (expected 0 for all cores, or N >= 1)");
  }
  at::set_num_threads(threadCount(threads, processEnvironment()));
  // OpenCV's TBB workers spin after each parallel loop; beside LibTorch's OpenMP team on the same
  // cores they made the decoder 4x slower between mask post-processing steps (measured with
  // amg_bench). LibTorch alone owns the cores; OpenCV's parts are small.
  cv::setNumThreads(0);
}

torch::jit::Module loadScriptModule(const std::string& path, torch::Device device) {
  try {
    torch::jit::Module module = torch::jit::load(path, device);
    module.eval();
    return module;
  } catch (const c10::Error& e) {
    // LibTorch's message spans many lines of C++ context; its first line says what went wrong.
    const std::string what = e.what_without_backtrace();
    throw Error("cannot load TorchScript '" + path + "': " + what.substr(0, what.find('\n')));
  }
}

}  // namespace samcli
