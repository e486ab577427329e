// Normalisations over contiguous F32 rows: one block per row (or per group), block-wide
// reductions in shared memory. Mean and variance take two passes over the row, which is read
// from L1/L2 the second time, rather than one pass of Σx and Σx², whose difference cancels.
#include "common.cuh"

// Softmax over rows of length d.
extern "C" __global__ void softmax_f32(i64 rows, i64 d, const float* x, float* out) {
    __shared__ float scratch[32];
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* xr = x + r * d;
        float* yr = out + r * d;
        float m = NEG_INF;
        for (i64 j = threadIdx.x; j < d; j += blockDim.x) m = fmaxf(m, xr[j]);
        m = block_max(m, scratch);
        float sum = 0.f;
        for (i64 j = threadIdx.x; j < d; j += blockDim.x) sum += expf(xr[j] - m);
        sum = block_sum(sum, scratch);
        float inv = 1.f / sum;
        for (i64 j = threadIdx.x; j < d; j += blockDim.x) yr[j] = expf(xr[j] - m) * inv;
        __syncthreads();
    }
}

// Mean and 1/√(var + eps) of one row, for every thread of the block.
__device__ void row_stats(const float* xr, i64 d, float eps, float* scratch, float& mean, float& rstd) {
    float sum = 0.f;
    for (i64 j = threadIdx.x; j < d; j += blockDim.x) sum += xr[j];
    mean = block_sum(sum, scratch) / (float) d;
    float sq = 0.f;
    for (i64 j = threadIdx.x; j < d; j += blockDim.x) {
        float c = xr[j] - mean;
        sq += c * c;
    }
    float var = block_sum(sq, scratch) / (float) d;
    rstd = rsqrtf(var + eps);
}

// LayerNorm over the last dimension, then ·weight + bias when given (either may be null).
extern "C" __global__ void layernorm_f32(i64 rows, i64 d, float eps, const float* x, const float* weight,
                                         const float* bias, float* out) {
    __shared__ float scratch[32];
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* xr = x + r * d;
        float* yr = out + r * d;
        float mean, rstd;
        row_stats(xr, d, eps, scratch, mean, rstd);
        for (i64 j = threadIdx.x; j < d; j += blockDim.x) {
            float v = (xr[j] - mean) * rstd;
            if (weight) v *= weight[j];
            if (bias) v += bias[j];
            yr[j] = v;
        }
        __syncthreads();
    }
}

// DiT's modulate(norm(x), shift, scale) in one pass: affine-free LayerNorm, then
// ·(1 + scale) + shift. x and out are [rows, d]; s describes x's full shape (rank ≥ 2, last
// dimension d) with s.s1 and s.s2 the broadcast strides of shift and scale.
extern "C" __global__ void layernorm_modulate_f32(i64 rows, i64 d, float eps, Strides s, const float* x,
                                                  const float* shift, const float* scale, float* out) {
    __shared__ float scratch[32];
    int last = (int) s.rank - 1;
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* xr = x + r * d;
        float* yr = out + r * d;
        // The row's offsets in shift and scale: decompose r over the leading dimensions.
        i64 osh = 0, osc = 0, rem = r;
        for (int k = last - 1; k >= 0; k--) {
            i64 c = rem % s.size[k];
            rem /= s.size[k];
            osh += c * s.s1[k];
            osc += c * s.s2[k];
        }
        float mean, rstd;
        row_stats(xr, d, eps, scratch, mean, rstd);
        for (i64 j = threadIdx.x; j < d; j += blockDim.x) {
            float v = (xr[j] - mean) * rstd;
            yr[j] = v * (1.f + scale[osc + j * s.s2[last]]) + shift[osh + j * s.s1[last]];
        }
        __syncthreads();
    }
}

// GroupNorm: x [n, c, spatial]; block b normalises group b % groups of sample b / groups over its
// c/groups channels and every position, then applies the per-channel weight and bias if given.
extern "C" __global__ void groupnorm_f32(i64 n, i64 c, i64 spatial, i64 groups, float eps, const float* x,
                                         const float* weight, const float* bias, float* out) {
    __shared__ float scratch[32];
    i64 per = c / groups;
    for (i64 blk = blockIdx.x; blk < n * groups; blk += gridDim.x) {
        i64 g = blk % groups;
        i64 len = per * spatial;
        const float* xg = x + blk * len;  // the group's channels are adjacent in [n, c, spatial]
        float* yg = out + blk * len;
        float mean, rstd;
        row_stats(xg, len, eps, scratch, mean, rstd);
        for (i64 j = threadIdx.x; j < len; j += blockDim.x) {
            i64 ch = g * per + j / spatial;
            float v = (xg[j] - mean) * rstd;
            if (weight) v *= weight[ch];
            if (bias) v += bias[ch];
            yg[j] = v;
        }
        __syncthreads();
    }
}
