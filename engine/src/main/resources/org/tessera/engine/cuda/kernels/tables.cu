// Sinusoidal tables, computed in double and rounded once, as the CPU backend does.
#include "common.cuh"

// DiT / ADM timestep embedding: half = dim/2, f_i = maxPeriod^(−i/half),
// out[b] = [cos(t_b·f), sin(t_b·f)] (cosines first), a zero column when dim is odd. t is f32
// (tType 0), i64 (1) or i32 (2), read with stride tStride.
__device__ __forceinline__ double timestep(const void* t, int tType, i64 at) {
    return tType == 1 ? (double) ((const i64*) t)[at] : tType == 2 ? (double) ((const int*) t)[at]
                                                                    : (double) ((const float*) t)[at];
}

extern "C" __global__ void timestep_embedding_f32(i64 batch, i64 dim, double maxPeriod, const void* t, int tType,
                                                  i64 tStride, float* out) {
    i64 half = dim / 2;
    FOR_EACH(e, batch * dim) {
        i64 b = e / dim, c = e % dim;
        double v = 0.0;
        if (c < 2 * half) {
            i64 idx = c < half ? c : c - half;
            double arg = timestep(t, tType, b * tStride) * pow(maxPeriod, -(double) idx / (double) half);
            v = c < half ? cos(arg) : sin(arg);
        }
        out[e] = (float) v;
    }
}

// DiT's fixed 2-D table for a gridH × gridW grid: token l = r·gridW + c; the first dim/2 columns
// are the 1-D table of c, the rest of r; a 1-D table of width w is [sin(p·ω), cos(p·ω)] with
// ω_i = 10000^(−i/(w/2)).
extern "C" __global__ void sincos2d_f32(i64 gridH, i64 gridW, i64 dim, float* out) {
    i64 w = dim / 2, quarter = dim / 4;
    FOR_EACH(e, gridH * gridW * dim) {
        i64 l = e / dim, col = e % dim;
        double p = col < w ? (double) (l % gridW) : (double) (l / gridW);
        i64 in = col % w;
        i64 idx = in < quarter ? in : in - quarter;
        double omega = pow(10000.0, -(double) idx / (double) quarter);
        out[e] = (float) (in < quarter ? sin(p * omega) : cos(p * omega));
    }
}

// 1-D sin-cos positions (MAE / DiT): ω_i = 10000^(−i/(dim/2)), out[l] = [sin(p_l·ω), cos(p_l·ω)].
extern "C" __global__ void sincos1d_f32(i64 length, i64 dim, const float* positions, float* out) {
    i64 half = dim / 2;
    FOR_EACH(e, length * dim) {
        i64 l = e / dim, c = e % dim;
        i64 idx = c < half ? c : c - half;
        double arg = (double) positions[l] * pow(10000.0, -(double) idx / (double) half);
        out[e] = (float) (c < half ? sin(arg) : cos(arg));
    }
}
