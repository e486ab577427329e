// Data movement and conversion: strided copies, casts, row gathers, im2col for convolutions,
// nearest upsampling, and the counter-based random numbers.
#include "common.cuh"

// dst[offset s1] = src[offset s0] over the iteration shape s.size (views, expands, concat parts),
// one kernel per element size, since a copy does not look at the bits.
#define STRIDED_COPY(name, T) \
    extern "C" __global__ void name(i64 n, Strides s, const T* src, T* dst) { \
        FOR_EACH(i, n) { \
            i64 os, od, unused; \
            offsets3(s, i, os, od, unused); \
            dst[od] = src[os]; \
        } \
    }
STRIDED_COPY(copy_b16, unsigned short)
STRIDED_COPY(copy_b32, u32)
STRIDED_COPY(copy_b64, u64)

// Round to nearest even, as org.tessera.engine.tensor.HalfFloats does; NaN stays a quiet NaN.
__device__ __forceinline__ unsigned short f32_to_bf16(float f) {
    u32 x = __float_as_uint(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (unsigned short) ((x >> 16) | 0x40u);
    x += 0x7fffu + ((x >> 16) & 1u);
    return (unsigned short) (x >> 16);
}

// A strided f32 view (s.s0) into a row-major bf16 tensor: what a BF16 GEMM operand needs.
extern "C" __global__ void cast_f32_bf16(i64 n, Strides s, const float* src, unsigned short* dst) {
    FOR_EACH(i, n) {
        i64 os, u1, u2;
        offsets3(s, i, os, u1, u2);
        dst[i] = f32_to_bf16(src[os]);
    }
}

extern "C" __global__ void cast_bf16_f32(i64 n, const unsigned short* src, float* dst) {
    FOR_EACH(i, n) dst[i] = __uint_as_float(((u32) src[i]) << 16);
}

// Integer ids, labels and timesteps to f32 (exact below 2^24, rounded to nearest above).
extern "C" __global__ void cast_i64_f32(i64 n, const i64* src, float* dst) {
    FOR_EACH(i, n) dst[i] = (float) src[i];
}

extern "C" __global__ void cast_i32_f32(i64 n, const int* src, float* dst) {
    FOR_EACH(i, n) dst[i] = (float) src[i];
}

extern "C" __global__ void cast_f32_f16(i64 n, const float* src, unsigned short* dst) {
    FOR_EACH(i, n) {
        unsigned short h;
        asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(src[i]));
        dst[i] = h;
    }
}

extern "C" __global__ void cast_f16_f32(i64 n, const unsigned short* src, float* dst) {
    FOR_EACH(i, n) {
        float f;
        asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(src[i]));
        dst[i] = f;
    }
}

// out[r] = table[ids[r]] for rows of width d; ids are int64 (wide != 0) or int32. An id outside
// [0, tableRows) writes NaN and records r + 1 in *bad for the host to report.
extern "C" __global__ void gather_rows_f32(i64 rows, i64 d, const void* ids, int wide, i64 tableRows,
                                           const float* table, float* out, i64* bad) {
    FOR_EACH(e, rows * d) {
        i64 r = e / d, c = e % d;
        i64 id = wide ? ((const i64*) ids)[r] : (i64) ((const int*) ids)[r];
        if (id < 0 || id >= tableRows) {
            out[e] = __int_as_float(0x7fc00000);
            atomicExch((u64*) bad, (u64) (r + 1));
        } else {
            out[e] = table[id * d + c];
        }
    }
}

// im2col for a 3-D convolution (2-D: depth 1, kernel depth 1): row (n, od, oh, ow) of cols holds
// the input patch it sees, column (c, kd, kh, kw), zero outside the input. x is a strided view
// [n, c, d, h, w] (strides xs). Patch embedding is the case stride = kernel, no padding.
struct Im2Col {
    i64 n, c, d, h, w;
    i64 kd, kh, kw;
    i64 sd, sh, sw;
    i64 pd, ph, pw;
    i64 od, oh, ow;
    i64 xs[5];
};

extern "C" __global__ void im2col_f32(Im2Col g, const float* x, float* cols) {
    i64 width = g.c * g.kd * g.kh * g.kw;
    i64 rows = g.n * g.od * g.oh * g.ow;
    FOR_EACH(e, rows * width) {
        i64 row = e / width, col = e % width;
        i64 ow = row % g.ow, t = row / g.ow;
        i64 oh = t % g.oh; t /= g.oh;
        i64 od = t % g.od;
        i64 n = t / g.od;
        i64 kw = col % g.kw, u = col / g.kw;
        i64 kh = u % g.kh; u /= g.kh;
        i64 kd = u % g.kd;
        i64 c = u / g.kd;
        i64 z = od * g.sd - g.pd + kd, y = oh * g.sh - g.ph + kh, xx = ow * g.sw - g.pw + kw;
        bool in = z >= 0 && z < g.d && y >= 0 && y < g.h && xx >= 0 && xx < g.w;
        cols[e] = in ? x[n * g.xs[0] + c * g.xs[1] + z * g.xs[2] + y * g.xs[3] + xx * g.xs[4]] : 0.f;
    }
}

// Nearest upsampling by f: x [n, c, h, w] (strides xs) → out [n, c, h·f, w·f] contiguous.
extern "C" __global__ void upsample_nearest_f32(i64 n, i64 c, i64 h, i64 w, i64 f, i64 xs0, i64 xs1, i64 xs2,
                                                i64 xs3, const float* x, float* out) {
    i64 oh = h * f, ow = w * f;
    FOR_EACH(e, n * c * oh * ow) {
        i64 xo = e % ow, t = e / ow;
        i64 yo = t % oh; t /= oh;
        i64 ch = t % c;
        i64 b = t / c;
        out[e] = x[b * xs0 + ch * xs1 + (yo / f) * xs2 + (xo / f) * xs3];
    }
}

// Philox4x32-10 (Salmon et al., SC'11), bit for bit the CPU's org.tessera.engine.random.Philox:
// counter (block index, stream), key = seed.
__device__ void philox(u32& c0, u32& c1, u32& c2, u32& c3, u32 k0, u32 k1) {
    for (int r = 0; r < 10; r++) {
        u64 p0 = (u64) 0xD2511F53u * c0;
        u64 p1 = (u64) 0xCD9E8D57u * c2;
        u32 n0 = (u32) (p1 >> 32) ^ c1 ^ k0;
        u32 n1 = (u32) p1;
        u32 n2 = (u32) (p0 >> 32) ^ c3 ^ k1;
        u32 n3 = (u32) p0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
}

// Box–Muller in double, as RandomStream: u1 ∈ (0, 1], u2 ∈ [0, 1).
__device__ __forceinline__ float box_muller(u32 a, u32 b, bool second) {
    double u1 = ((double) a + 1.0) * 2.3283064365386963e-10;
    double u2 = (double) b * 2.3283064365386963e-10;
    double r = sqrt(-2.0 * log(u1));
    double theta = 6.283185307179586 * u2;
    return (float) (second ? r * sin(theta) : r * cos(theta));
}

// Element i of the stream (seed, stream): block i/4 of Philox, lane i%4; normal pairs lanes
// (0, 1) and (2, 3) through Box–Muller, uniform takes the top 24 bits of its lane.
extern "C" __global__ void random_f32(int normal, i64 n, u64 seed, u64 stream, float* out) {
    FOR_EACH(blk, (n + 3) / 4) {
        u32 c[4] = {(u32) blk, (u32) ((u64) blk >> 32), (u32) stream, (u32) (stream >> 32)};
        philox(c[0], c[1], c[2], c[3], (u32) seed, (u32) (seed >> 32));
        for (int lane = 0; lane < 4; lane++) {
            i64 i = blk * 4 + lane;
            if (i >= n) break;
            if (normal) {
                int pair = lane & ~1;
                out[i] = box_muller(c[pair], c[pair + 1], (lane & 1) == 1);
            } else {
                out[i] = (float) (c[lane] >> 8) * 5.9604644775390625e-8f;
            }
        }
    }
}
