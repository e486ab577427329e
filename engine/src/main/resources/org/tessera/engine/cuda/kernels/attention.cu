// Fused attention, out = softmax(scale·Q·Kᵀ + mask)·V, flash-style: the Nq×Nk score matrix is
// never stored. A block holds ATT_WARPS query rows of one (batch, head), one warp each; the
// block walks the keys ATT_KEYS at a time, staging K and V in shared memory, and each warp keeps
// an online softmax (running max m, running sum l, accumulator acc) for its row:
//   m' = max(m, max_j s_j),  l' = l·e^(m−m') + Σ_j e^(s_j−m'),  acc' = acc·e^(m−m') + Σ_j e^(s_j−m')·v_j
// Lane j of a warp scores key j of the tile; lane t accumulates output dims t, t+32, t+64, t+96.
#include "common.cuh"

#define ATT_WARPS 8
#define ATT_KEYS 32
#define ATT_MAX_D 128

// Shapes and strides (elements; order batch, head, token, dim). bias strides are over
// [batch, head, nq, nk] with 0 for broadcast dimensions.
struct AttnArgs {
    i64 batch, heads, nq, nk, d;
    i64 q[4], k[4], v[4], o[4];
    i64 bias[4];
};

// Masks: bias (additive, may be null); segq/segk ([batch, nq] / [batch, nk] ids, int64 when wide
// is set, else int32; both null or both set): query i sees key j only when their ids are equal; a
// row that sees no key gets zeros.
__device__ __forceinline__ i64 segment(const void* ids, i64 at, int wide) {
    return wide ? ((const i64*) ids)[at] : (i64) ((const int*) ids)[at];
}

extern "C" __global__ void __launch_bounds__(ATT_WARPS * 32)
attention_f32(AttnArgs a, float scale, const float* q, const float* k, const float* v, const float* bias,
              const void* segq, const void* segk, int wide, float* out) {
    // Rows padded to ATT_MAX_D + 1 floats: lane j reading element t of key j hits bank (j + t) % 32.
    __shared__ float ks[ATT_KEYS][ATT_MAX_D + 1];
    __shared__ float vs[ATT_KEYS][ATT_MAX_D + 1];
    __shared__ float qs[ATT_WARPS][ATT_MAX_D];
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const i64 b = blockIdx.z, h = blockIdx.y;
    const i64 i = (i64) blockIdx.x * ATT_WARPS + warp;
    const int d = (int) a.d;
    const bool live = i < a.nq;
    const float* qb = q + b * a.q[0] + h * a.q[1];
    const float* kb = k + b * a.k[0] + h * a.k[1];
    const float* vb = v + b * a.v[0] + h * a.v[1];

    if (live) {
        for (int t = lane; t < d; t += 32) qs[warp][t] = qb[i * a.q[2] + t * a.q[3]] * scale;
    }
    const i64 sq = segq && live ? segment(segq, b * a.nq + i, wide) : 0;
    float m = NEG_INF, l = 0.f;
    float acc[ATT_MAX_D / 32] = {0.f, 0.f, 0.f, 0.f};

    // With segments, the range of ids among the block's queries: a tile of keys none of whose ids
    // fall in it is skipped whole (no staging, no scores), as the CPU kernel skips key blocks.
    // Packed rows hold each example's tokens together, so a block's queries span one or two ids
    // and most tiles of a row of several examples are skipped. (Empty range: qlo > qhi.)
    __shared__ i64 qlo, qhi;
    if (segq && threadIdx.x == 0) {
        qlo = 0x7fffffffffffffffLL;  // i64 max and min: NVRTC has no <climits>
        qhi = -0x7fffffffffffffffLL - 1;
        for (int w = 0; w < ATT_WARPS; w++) {
            const i64 row = (i64) blockIdx.x * ATT_WARPS + w;
            if (row < a.nq) {
                const i64 id = segment(segq, b * a.nq + row, wide);
                qlo = id < qlo ? id : qlo;
                qhi = id > qhi ? id : qhi;
            }
        }
    }

    for (i64 j0 = 0; j0 < a.nk; j0 += ATT_KEYS) {
        if (segq) {
            // Also the barrier after which the previous tile is no longer read (and qlo/qhi are set).
            int hit = 0;
            if (threadIdx.x < ATT_KEYS && j0 + threadIdx.x < a.nk) {
                const i64 id = segment(segk, b * a.nk + j0 + threadIdx.x, wide);
                hit = id >= qlo && id <= qhi;
            }
            if (!__syncthreads_or(hit)) continue;  // block-uniform
        } else {
            __syncthreads();  // the previous tile is no longer read
        }
        for (int e = threadIdx.x; e < ATT_KEYS * d; e += blockDim.x) {
            int jj = e / d, t = e % d;
            i64 j = j0 + jj;
            bool in = j < a.nk;
            ks[jj][t] = in ? kb[j * a.k[2] + t * a.k[3]] : 0.f;
            vs[jj][t] = in ? vb[j * a.v[2] + t * a.v[3]] : 0.f;
        }
        __syncthreads();
        if (!live) continue;  // idle warps still reach every barrier

        const i64 j = j0 + lane;
        float s = NEG_INF;
        if (j < a.nk && (!segq || segment(segk, b * a.nk + j, wide) == sq)) {
            float dot = 0.f;
            for (int t = 0; t < d; t++) dot = fmaf(qs[warp][t], ks[lane][t], dot);
            s = dot;
            if (bias) s += bias[b * a.bias[0] + h * a.bias[1] + i * a.bias[2] + j * a.bias[3]];
        }
        const float mNew = fmaxf(m, warp_max(s));
        if (mNew == NEG_INF) continue;  // nothing visible yet (warp-uniform)
        const float p = s == NEG_INF ? 0.f : expf(s - mNew);
        const float corr = m == NEG_INF ? 0.f : expf(m - mNew);
        l = l * corr + warp_sum(p);
        #pragma unroll
        for (int u = 0; u < ATT_MAX_D / 32; u++) acc[u] *= corr;
        const int keys = a.nk - j0 < ATT_KEYS ? (int) (a.nk - j0) : ATT_KEYS;
        for (int jj = 0; jj < keys; jj++) {
            const float pj = __shfl_sync(0xffffffffu, p, jj);
            #pragma unroll
            for (int u = 0; u < ATT_MAX_D / 32; u++) {
                int t = lane + 32 * u;
                if (t < d) acc[u] = fmaf(pj, vs[jj][t], acc[u]);
            }
        }
        m = mNew;
    }
    if (live) {
        const float inv = l > 0.f ? 1.f / l : 0.f;
        float* ob = out + b * a.o[0] + h * a.o[1] + i * a.o[2];
        #pragma unroll
        for (int u = 0; u < ATT_MAX_D / 32; u++) {
            int t = lane + 32 * u;
            if (t < d) ob[t * a.o[3]] = acc[u] * inv;
        }
    }
}
