// Whether oneDNN runs bf16 convolutions on AMX here (see cpu_bf16.rs).
// libtorch's own check: AMX tiles in CPUID, and the kernel's permission to use them, which it
// requests (as oneDNN would on first use).

#include <ATen/cpu/Utils.h>

extern "C" int hyperres_cpu_amx() {
  try {
    return at::cpu::init_amx() ? 1 : 0;
  } catch (...) {
    return -1;
  }
}
