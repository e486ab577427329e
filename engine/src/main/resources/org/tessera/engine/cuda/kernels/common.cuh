// Shared by every Tessera CUDA kernel. NVRTC compiles these sources at first use, without the
// CUDA toolkit headers: only built-ins are used, and every kernel is extern "C" so that the
// host looks it up by its plain name.
#pragma once

typedef long long i64;
typedef unsigned long long u64;
typedef unsigned int u32;

#define MAX_RANK 6
// -inf without math.h (NVRTC has no standard headers).
#define NEG_INF __int_as_float(0xff800000)

// Up to three strided operands over one iteration shape (the output's). Strides are in
// elements; a broadcast dimension has stride 0. Every field is 64-bit so that the host writes
// the struct as 1 + 4·6 longs with no padding to guess.
struct Strides {
    i64 rank;
    i64 size[MAX_RANK];
    i64 s0[MAX_RANK];
    i64 s1[MAX_RANK];
    i64 s2[MAX_RANK];
};

// Offsets of linear index i (row-major over size) in the three operands.
__device__ __forceinline__ void offsets3(const Strides& s, i64 i, i64& o0, i64& o1, i64& o2) {
    o0 = 0; o1 = 0; o2 = 0;
    for (int d = (int) s.rank - 1; d >= 0; d--) {
        i64 c = i % s.size[d];
        i /= s.size[d];
        o0 += c * s.s0[d];
        o1 += c * s.s1[d];
        o2 += c * s.s2[d];
    }
}

// Grid-stride loop over [0, n): the host launches min(n/256, a few waves) blocks.
#define FOR_EACH(i, n) for (i64 i = blockIdx.x * (i64) blockDim.x + threadIdx.x; i < (n); i += (i64) gridDim.x * blockDim.x)

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
// `scratch` holds 32 floats of shared memory; the call ends with the block synchronised.
__device__ float block_sum(float v, float* scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : 0.f;
    v = warp_sum(v);
    return v;
}

__device__ float block_max(float v, float* scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : NEG_INF;
    v = warp_max(v);
    return v;
}

// GELU, tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), as DiT's MLP uses.
__device__ __forceinline__ float gelu_tanh(float x) {
    const float k = 0.7978845608028654f;
    return 0.5f * x * (1.f + tanhf(k * (x + 0.044715f * x * x * x)));
}

// SiLU: x·σ(x).
__device__ __forceinline__ float silu(float x) {
    return x / (1.f + expf(-x));
}

// Activation codes, as org.tessera.engine.backend.Activation's ordinal: NONE, GELU_TANH, SILU.
__device__ __forceinline__ float activate(int act, float x) {
    return act == 1 ? gelu_tanh(x) : act == 2 ? silu(x) : x;
}
