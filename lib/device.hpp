#pragma once
// The single place that turns a user's --device/--threads into LibTorch settings, and loads
// TorchScript files onto the chosen device. Library-internal: includes torch.
#include <string>

#include <torch/script.h>

#include "samcli/model.hpp"

namespace samcli {

// Parses "cpu", "cuda", "cuda:N" or "auto" (CUDA when LibTorch sees a GPU, else CPU) and checks the
// device exists. Throws Error naming the value otherwise.
torch::Device selectDevice(const std::string& spec);

// Applies --threads (0 = Slurm's CPUs for the task, else all cores; scheduler.hpp's threadCount) to LibTorch's intra-op pool, once per process: LibTorch's own
// default on some builds is a single thread. Also keeps OpenCV from running a second thread pool.
void configureThreads(int threads);

// Loads a TorchScript file onto `device` in eval mode. Throws Error naming the file, with the first
// line of LibTorch's message, when it is missing or not a TorchScript archive.
torch::jit::Module loadScriptModule(const std::string& path, torch::Device device);

}  // namespace samcli
