package org.tessera.engine.cpu;

import static org.tessera.engine.cpu.GemmKernel.L;
import static org.tessera.engine.cpu.GemmKernel.NR;
import static org.tessera.engine.cpu.GemmKernel.S;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;

/**
 * A convolution's im2col matrix, never stored: B of the GEMM out[O, Ho·Wo] = W[O, C·kh·kw] · B,
 * with B[(c, ky, kx), (oy, ox)] = x[c, oy·s − pad + ky, ox·s − pad + kx] (0 outside the image),
 * packed straight from the image into the GEMM's micro-panels as it needs them.
 *
 * <p>Why: a 3×3 convolution's im2col matrix is nine copies of its input. For a VAE decoder's
 * 256×256×128 layers that is 300 MB written and read back per convolution, a third of the
 * convolution's time at this machine's memory bandwidth; packing from the image reads each input
 * row from cache about three times instead (the three kx of one ky share cache lines).
 *
 * <p>A panel's NR columns are NR consecutive output positions of one row when they fit (the
 * common case: Wo a multiple of NR), read with two vector loads when they lie inside the image.
 * One instance per calling thread is re-aimed at each image ({@link #set}); during a GEMM it is
 * only read, by all of the GEMM's chunks at once.
 */
final class Im2colPanels implements GemmJob.PanelSource {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    private MemorySegment x;
    private long base;
    private long sc;
    private long sh;
    private long sw;
    private int h;
    private int w;
    private int kh;
    private int kw;
    private int stride;
    private int padding;
    private int wo;

    /**
     * @param image one image [C, H, W] (element strides sc, sh, sw from {@code base}, in floats)
     * @param wo the output's width
     */
    void set(
            MemorySegment image,
            long base,
            long sc,
            long sh,
            long sw,
            int h,
            int w,
            int kh,
            int kw,
            int stride,
            int padding,
            int wo) {
        this.x = image;
        this.base = base;
        this.sc = sc;
        this.sh = sh;
        this.sw = sw;
        this.h = h;
        this.w = w;
        this.kh = kh;
        this.kw = kw;
        this.stride = stride;
        this.padding = padding;
        this.wo = wo;
    }

    /**
     * Row by row of B, panel by panel within a row: the row's (channel, ky, kx) is worked out
     * once, and its values come from consecutive stretches of the image, left to right.
     */
    @Override
    public void pack(int k0, int kc, int pFrom, int pTo, int n, float[] dst, int dstOff, int panelStride) {
        int firstY = pFrom * NR / wo;
        int firstX = pFrom * NR % wo;
        for (int k = 0; k < kc; k++) {
            int r = k0 + k;
            int ch = r / (kh * kw);
            int ky = r / kw % kh;
            int kx = r % kw;
            int oy = firstY;
            int ox = firstX;
            for (int p = pFrom, d = dstOff + k * NR; p < pTo; p++, d += panelStride) {
                int nr = Math.min(NR, n - p * NR);
                int filled = 0;
                while (filled < nr) { // a panel may span the end of an output row
                    int run = Math.min(nr - filled, wo - ox);
                    row(ch, oy * stride - padding + ky, ox * stride - padding + kx, run, dst, d + filled);
                    filled += run;
                    ox += run;
                    if (ox == wo) {
                        ox = 0;
                        oy++;
                    }
                }
                if (nr < NR) {
                    Arrays.fill(dst, d + nr, d + NR, 0f);
                }
            }
        }
    }

    /** Lanes j of the vector starting at column {@code first} of a panel with lo ≤ first + j < hi. */
    private static VectorMask<Float> inside(int lo, int hi, int first) {
        // indexInRange(a, b) holds the lanes j with a + j < b
        return S.indexInRange(first, hi).andNot(S.indexInRange(first, lo));
    }

    /** {@code run} values of input row iy from column ix0 on, every {@code stride}-th, 0 outside. */
    private void row(int ch, int iy, int ix0, int run, float[] dst, int d) {
        if (iy < 0 || iy >= h) {
            Arrays.fill(dst, d, d + run, 0f);
            return;
        }
        long rowBase = base + ch * sc + iy * sh;
        if (stride == 1 && sw == 1) {
            int lo = Math.clamp(-ix0, 0, run); // columns [lo, hi) of the run lie inside the image
            int hi = Math.clamp(w - ix0, lo, run);
            if (run == NR) {
                long at = 4L * (rowBase + ix0);
                if (lo == 0 && hi == NR) {
                    FloatVector.fromMemorySegment(S, x, at, NATIVE).intoArray(dst, d);
                    FloatVector.fromMemorySegment(S, x, at + 4L * L, NATIVE).intoArray(dst, d + L);
                } else {
                    // A panel over the image's left or right edge (a third of a 3×3 convolution's
                    // rows do so once per output row): masked loads read only the lanes inside the
                    // image and leave the padding lanes zero. Lanes off the mask are never touched,
                    // even where their address lies before or past the image.
                    VectorMask<Float> m0 = inside(lo, hi, 0);
                    VectorMask<Float> m1 = inside(lo, hi, L);
                    FloatVector.fromMemorySegment(S, x, at, NATIVE, m0).intoArray(dst, d);
                    FloatVector.fromMemorySegment(S, x, at + 4L * L, NATIVE, m1).intoArray(dst, d + L);
                }
                return;
            }
            Arrays.fill(dst, d, d + lo, 0f);
            if (hi > lo) {
                MemorySegment.copy(x, F, 4L * (rowBase + ix0 + lo), dst, d + lo, hi - lo);
            }
            Arrays.fill(dst, d + hi, d + run, 0f);
            return;
        }
        for (int t = 0; t < run; t++) {
            int ix = ix0 + t * stride;
            dst[d + t] = ix < 0 || ix >= w ? 0f : x.get(F, 4L * (rowBase + ix * sw));
        }
    }
}
