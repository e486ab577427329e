// Pointwise F32 kernels. The output is contiguous over s.size; operands are strided views
// (s.s0, s.s1, s.s2), broadcast dimensions having stride 0 — the CPU backend's semantics.
#include "common.cuh"

// Binary op codes: 0 add, 1 sub, 2 mul, 3 div.
extern "C" __global__ void binary_f32(int op, i64 n, Strides s, const float* a, const float* b, float* out) {
    FOR_EACH(i, n) {
        i64 oa, ob, unused;
        offsets3(s, i, oa, ob, unused);
        float x = a[oa], y = b[ob];
        out[i] = op == 0 ? x + y : op == 1 ? x - y : op == 2 ? x * y : x / y;
    }
}

// out = alpha·x + beta·y: the samplers' update arithmetic.
extern "C" __global__ void axpby_f32(i64 n, Strides s, float alpha, const float* x, float beta, const float* y,
                                     float* out) {
    FOR_EACH(i, n) {
        i64 ox, oy, unused;
        offsets3(s, i, ox, oy, unused);
        out[i] = alpha * x[ox] + beta * y[oy];
    }
}

// out = act(x); act as in common.cuh.
extern "C" __global__ void activate_f32(int act, i64 n, Strides s, const float* x, float* out) {
    FOR_EACH(i, n) {
        i64 ox, u1, u2;
        offsets3(s, i, ox, u1, u2);
        out[i] = activate(act, x[ox]);
    }
}

// out = min(max(x, lo), hi); fmaxf/fminf would drop a NaN, so it is kept explicitly (torch.clamp).
extern "C" __global__ void clamp_f32(i64 n, Strides s, float lo, float hi, const float* x, float* out) {
    FOR_EACH(i, n) {
        i64 ox, u1, u2;
        offsets3(s, i, ox, u1, u2);
        float v = x[ox];
        out[i] = v != v ? v : fminf(fmaxf(v, lo), hi);
    }
}

// adaLN modulation: out = x·(1 + scale) + shift.
extern "C" __global__ void modulate_f32(i64 n, Strides s, const float* x, const float* shift, const float* scale,
                                        float* out) {
    FOR_EACH(i, n) {
        i64 ox, osh, osc;
        offsets3(s, i, ox, osh, osc);
        out[i] = x[ox] * (1.f + scale[osc]) + shift[osh];
    }
}

// The GEMM epilogue when cuBLAS(Lt) does not fuse it: c[i, j] = act(c[i, j] + bias[j]) over a
// [rows, cols] matrix with row stride ldc; bias may be null.
extern "C" __global__ void bias_activate_f32(i64 rows, i64 cols, i64 ldc, const float* bias, int act, float* c) {
    i64 n = rows * cols;
    FOR_EACH(i, n) {
        i64 r = i / cols, j = i % cols;
        float v = c[r * ldc + j];
        if (bias) v += bias[j];
        c[r * ldc + j] = activate(act, v);
    }
}
