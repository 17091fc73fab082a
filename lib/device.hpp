#pragma once
// The single place that turns a user's --device/--threads into LibTorch settings. Library-internal:
// includes torch.
#include <string>

#include <torch/types.h>

#include "samcli/model.hpp"

namespace samcli {

// Parses "cpu", "cuda", "cuda:N" or "auto" (CUDA when LibTorch sees a GPU, else CPU) and checks the
// device exists. Throws Error naming the value otherwise.
torch::Device selectDevice(const std::string& spec);

// Applies --threads (0 = all cores) to LibTorch's intra-op pool, once per process: LibTorch's own
// default on some builds is a single thread.
void configureThreads(int threads);

}  // namespace samcli
