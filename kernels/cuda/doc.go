// Package cuda is the kernels.Backend for NVIDIA GPUs, behind the build tag
// cuda (the default build and CI stay CPU-only). See docs/cuda.md.
//
// Design:
//   - Driver and cuBLAS are loaded with dlopen at run time (cudrv.c): a
//     binary built with -tags cuda needs no CUDA toolkit to build and starts
//     on machines without a GPU, where New returns a clear error.
//   - Kernels are CUDA C++ in kern_*.h (kernels.cu is nvcc's entry point),
//     compiled by `make ptx` to PTX that is
//     committed and embedded; the driver JIT-compiles it for the GPU (sm_80
//     and newer). The same sources build for the CPU under the cudaemu tag,
//     an emulator of the execution model that lets the tests run here.
//   - Precision: fp32 stores and computes in fp32 (the golden path: GEMMs on
//     exact fp32 kernels or cuBLAS SGEMM); bf16 and fp16 store every buffer
//     in 16 bits and run GEMMs on the tensor cores with fp32 accumulation.
//   - One context (the device's primary context) and one stream per backend:
//     operations are queued asynchronously, Download waits. A mutex makes
//     each operation's queuing atomic, so the backend is safe for concurrent
//     use.
//   - Memory: Alloc'd activations come from a caching pool (no cuMemAlloc or
//     synchronisation in steady state); Upload keeps the host values and puts
//     them on the device at first use (base weights on the first pass,
//     adapters the first time a batch uses them), under a memory budget with
//     least-recently-used eviction. Small per-call tables (masks, token ids,
//     segment tables) go through pinned staging memory.
//   - Mixed-adapter batches: base GEMMs run over all rows; SegLinear is one
//     grouped GEMM launch for all segments (Punica's SGMV idea).
//
// The pure host-side logic (conversions, launch planning, the pool and the
// residency policy) has no build tag and is tested everywhere.
package cuda
