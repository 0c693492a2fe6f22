// Float32 arithmetic of CUDA convolutions and matrix products.
//
// libtorch lets cuDNN run float32 convolutions on TF32 tensor cores by default (10-bit mantissa
// products): about 1e-3 relative error, so "fp32" on CUDA would not match fp32 on the CPU. tch
// exposes no switch for it, so this sets libtorch's process-wide precision directly.

#include <ATen/Context.h>

extern "C" {

// IEEE float32 (allow == 0) or TF32 (allow != 0) for CUDA convolutions and matrix products.
// Returns 0, or -1 if a C++ exception stopped it.
int hyperres_allow_tf32(int allow) {
  try {
    const auto precision = allow ? at::Float32Precision::TF32 : at::Float32Precision::IEEE;
    for (const auto op : {at::Float32Op::CONV, at::Float32Op::MATMUL}) {
      at::globalContext().setFloat32Precision(at::Float32Backend::CUDA, op, precision);
    }
    return 0;
  } catch (...) {
    return -1;
  }
}

// 1 if CUDA convolutions may use TF32, 0 if they compute in IEEE float32, -1 on an exception.
int hyperres_tf32_allowed() {
  try {
    const auto precision =
        at::globalContext().float32Precision(at::Float32Backend::CUDA, at::Float32Op::CONV);
    return precision == at::Float32Precision::TF32 ? 1 : 0;
  } catch (...) {
    return -1;
  }
}
}
