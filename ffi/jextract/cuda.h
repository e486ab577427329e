/* The CUDA 13 headers Tessera binds to, in one translation unit for jextract. */
#include <cuda_runtime_api.h>
#include <cublas_v2.h>
#include <cublasLt.h>
#include <nvrtc.h>
