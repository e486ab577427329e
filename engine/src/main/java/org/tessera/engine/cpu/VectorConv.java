package org.tessera.engine.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.tessera.engine.backend.ConvOps;
import org.tessera.engine.backend.Epilogue;
import org.tessera.engine.backend.OpChecks;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * Convolutions lowered to GEMM through im2col, and nearest-neighbour upsampling.
 *
 * <p>A patch embedding is a convolution whose stride equals its kernel, so patches do not
 * overlap: gathering every patch as one row of an im2col matrix [N·tokens, C·p·p] turns the
 * whole batch into a single GEMM against the weight viewed as [D, C·p·p]ᵀ, with the bias added
 * in the GEMM epilogue and the result landing directly in token layout [N, tokens, D]. The
 * general conv2d gathers per image a matrix [C·kh·kw, Ho·Wo] (zero where the window hangs over
 * the padding) and computes out[n] = W [O, C·kh·kw] · cols — never stored: {@link Im2colPanels}
 * packs it from the image straight into the GEMM's panels. The patch embeddings' im2col matrix
 * lives in a per-thread scratch segment that grows on demand and is reused across calls. A 3×3
 * convolution with unit stride and padding 1 between enough channels takes Winograd's F(2×2, 3×3)
 * instead ({@link WinogradConv}): 2.25× fewer multiplications.
 */
final class VectorConv implements ConvOps {
    private static final VectorSpecies<Float> S = VectorMath.S;
    private static final int L = VectorMath.L;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private final WorkerPool pool;
    private final VectorGemm gemm;
    private final WinogradConv winograd;
    /** Per calling thread: the im2col buffer (shared memory, since the GEMM's workers read it). */
    private final ThreadLocal<Scratch> scratch = ThreadLocal.withInitial(Scratch::new);

    VectorConv(WorkerPool pool, VectorGemm gemm) {
        this.pool = pool;
        this.gemm = gemm;
        this.winograd = new WinogradConv(pool, gemm);
    }

    /**
     * A growable F32 buffer viewed as a [rows, cols] matrix, and the last patch embedding made
     * on this thread: a compiled plan passes the same tensors on every run, so their views are
     * built once and the call allocates nothing.
     */
    private static final class Scratch {
        private MemorySegment segment = MemorySegment.NULL;
        private Tensor lastX;
        private Tensor lastWeight;
        private Tensor lastBias;
        private Tensor lastOut;
        private PatchCall lastCall;
        /** The implicit im2col of this thread's current conv2d (set per image, read by its GEMM). */
        private final Im2colPanels panels = new Im2colPanels();

        Tensor matrix(int rows, int cols) {
            long bytes = 4L * rows * cols;
            if (segment.byteSize() < bytes) {
                segment = Arena.ofAuto().allocate(Math.max(bytes, 4), 64);
            }
            return Tensor.wrap(segment, DType.F32, rows, cols);
        }
    }

    @Override
    public void patchEmbed2d(Tensor x, Tensor weight, Tensor bias, Tensor out) {
        patchEmbed(x, weight, bias, out, 2);
    }

    @Override
    public void patchEmbed3d(Tensor x, Tensor weight, Tensor bias, Tensor out) {
        patchEmbed(x, weight, bias, out, 3);
    }

    /**
     * One patch embedding, laid out once: x as [N, C, T, H, W] (a 2-D patch is a tubelet of one
     * frame), the im2col matrix [N·tokens, C·pt·ph·pw], the weight as its GEMM operand [K, D] and
     * out as [N·tokens, D].
     */
    private record PatchCall(
            Tensor x,
            Tensor cols,
            Tensor weightT,
            Tensor out2,
            Epilogue epilogue,
            int tokens,
            int c,
            int pt,
            int ph,
            int pw,
            int nh,
            int nw) {}

    private void patchEmbed(Tensor x, Tensor weight, Tensor bias, Tensor out, int spatialDims) {
        Scratch s = scratch.get();
        PatchCall call = s.lastCall;
        if (call == null
                || s.lastX != x
                || s.lastWeight != weight
                || s.lastBias != bias
                || s.lastOut != out
                || call.cols().storage() != s.segment) {
            OpChecks.patchEmbed(spatialDims == 2 ? "patchEmbed2d" : "patchEmbed3d", x, weight, bias, out, spatialDims);
            Tensor x5 = spatialDims == 2 ? x.unsqueeze(2) : x;
            Tensor w5 = spatialDims == 2 ? weight.unsqueeze(2) : weight;
            int d = w5.size(0);
            int pt = w5.size(2);
            int ph = w5.size(3);
            int pw = w5.size(4);
            int nh = x5.size(3) / ph;
            int nw = x5.size(4) / pw;
            int tokens = x5.size(2) / pt * nh * nw;
            int k = x5.size(1) * pt * ph * pw;
            int rows = x5.size(0) * tokens;
            if (rows == 0 || d == 0) {
                return;
            }
            Tensor w = w5.isContiguous() ? w5 : w5.contiguous();
            call = new PatchCall(
                    x5,
                    s.matrix(rows, k),
                    w.reshape(d, k).t(),
                    out.reshape(rows, d),
                    Epilogue.bias(bias),
                    tokens,
                    x5.size(1),
                    pt,
                    ph,
                    pw,
                    nh,
                    nw);
            // A non-contiguous weight was copied just now: its copy must not outlive this call.
            boolean reusable = w5.isContiguous();
            s.lastX = x;
            s.lastWeight = weight;
            s.lastBias = bias;
            s.lastOut = out;
            s.lastCall = reusable ? call : null;
        }
        int rows = call.cols().size(0);
        int k = call.cols().size(1);
        if ((long) rows * k < 1 << 16) {
            im2colRows(call, 0, rows); // small: on this thread, with no task object
        } else {
            PatchCall c = call;
            ParallelLoops.rows(pool, rows, k, (from, to) -> im2colRows(c, from, to));
        }
        gemm.gemm(call.cols(), call.weightT(), call.out2(), 1f, 0f, call.epilogue());
    }

    /** Rows [from, to) of the im2col matrix: row (b, tt, ty, tx) holds its patch in the weight's (c, kt, ky, kx) order. */
    private static void im2colRows(PatchCall p, long from, long to) {
        Tensor x = p.x();
        MemorySegment xs = x.storage();
        MemorySegment cs = p.cols().storage();
        long sn = x.stride(0);
        long sc = x.stride(1);
        long st = x.stride(2);
        long sh = x.stride(3);
        long sw = x.stride(4);
        long xBase = x.offset();
        int k = p.cols().size(1);
        int tokens = p.tokens();
        int nw = p.nw();
        int nh = p.nh();
        int pt = p.pt();
        int ph = p.ph();
        int pw = p.pw();
        for (long r = from; r < to; r++) {
            int b = (int) (r / tokens);
            int tok = (int) (r % tokens);
            int tx = tok % nw;
            int ty = tok / nw % nh;
            int tt = tok / (nw * nh);
            long dst = r * k;
            long patch = xBase + b * sn + (long) tt * pt * st + (long) ty * ph * sh + (long) tx * pw * sw;
            for (int ch = 0; ch < p.c(); ch++) {
                for (int kt = 0; kt < pt; kt++) {
                    for (int ky = 0; ky < ph; ky++) {
                        long src = patch + ch * sc + kt * st + ky * sh;
                        for (int kx = 0; kx < pw; kx++) {
                            cs.setAtIndex(F, dst++, xs.getAtIndex(F, src + kx * sw));
                        }
                    }
                }
            }
        }
    }

    @Override
    public void conv2d(Tensor x, Tensor weight, Tensor bias, int stride, int padding, Tensor out) {
        OpChecks.conv2d(x, weight, bias, stride, padding, out);
        int n = x.size(0);
        int c = x.size(1);
        int oc = weight.size(0);
        int kh = weight.size(2);
        int kw = weight.size(3);
        int ho = out.size(2);
        int wo = out.size(3);
        int k = c * kh * kw;
        int positions = ho * wo;
        if (out.numel() == 0) {
            return;
        }
        Tensor b1 = bias == null || bias.isContiguous() ? bias : bias.contiguous();
        if (WinogradConv.applies(weight, stride, padding)) {
            winograd.conv2d(x, weight, b1, out);
            return;
        }
        Tensor w2 = (weight.isContiguous() ? weight : weight.contiguous()).reshape(oc, k);
        // A 1×1 convolution with unit stride and no padding needs no gathering: x[n] is already
        // [C, H·W]. Any other is an implicit GEMM: the im2col matrix is packed from the image.
        boolean pointwise = kh == 1 && kw == 1 && stride == 1 && padding == 0;
        for (int b = 0; b < n; b++) {
            Tensor image = x.select(0, b);
            Tensor dst = out.select(0, b).reshape(oc, positions);
            if (pointwise && image.isContiguous()) {
                float beta = 0f;
                if (bias != null) {
                    fillRows(dst, bias); // C starts as the bias; the GEMM adds W·x to it (β = 1)
                    beta = 1f;
                }
                gemm.gemm(w2, image.reshape(c, positions), dst, 1f, beta, Epilogue.NONE);
            } else {
                Im2colPanels cols = scratch.get().panels;
                cols.set(
                        image.storage(),
                        image.offset(),
                        image.stride(0),
                        image.stride(1),
                        image.stride(2),
                        image.size(1),
                        image.size(2),
                        kh,
                        kw,
                        stride,
                        padding,
                        wo);
                gemm.gemm(w2, cols, positions, dst, b1);
            }
        }
    }

    /** dst[o, :] = bias[o] for a [O, P] matrix with contiguous rows. */
    private static void fillRows(Tensor dst, Tensor bias) {
        MemorySegment d = dst.storage();
        int rows = dst.size(0);
        int p = dst.size(1);
        for (int o = 0; o < rows; o++) {
            FloatVector v = FloatVector.broadcast(S, bias.getFloat(o));
            long row = dst.byteOffset() + 4L * o * dst.stride(0);
            int j = 0;
            for (int bound = S.loopBound(p); j < bound; j += L) {
                v.intoMemorySegment(d, row + 4L * j, NATIVE);
            }
            for (; j < p; j++) {
                d.set(F, row + 4L * j, v.lane(0));
            }
        }
    }

    @Override
    public void upsampleNearest2d(Tensor x, int factor, Tensor out) {
        OpChecks.upsampleNearest2d(x, factor, out);
        int c = x.size(1);
        int h = x.size(2);
        int w = x.size(3);
        int wo = w * factor;
        long rowBytes = 4L * wo;
        MemorySegment xs = x.storage();
        MemorySegment os = out.storage();
        long oBase = out.byteOffset();
        // Per input row: write the widened row once, then copy it to the factor−1 rows below.
        long inputRows = (long) x.size(0) * c * h;
        ParallelLoops.rows(pool, inputRows, (long) wo * factor, (from, to) -> {
            for (long r = from; r < to; r++) {
                int y = (int) (r % h);
                long plane = r / h;
                long src = x.offset() + plane / c * x.stride(0) + plane % c * x.stride(1) + y * x.stride(2);
                long dst = oBase + r * factor * rowBytes;
                for (int xi = 0; xi < w; xi++) {
                    float v = xs.getAtIndex(F, src + xi * x.stride(3));
                    for (int f = 0; f < factor; f++) {
                        os.set(F, dst + 4L * (xi * factor + f), v);
                    }
                }
                for (int f = 1; f < factor; f++) {
                    MemorySegment.copy(os, dst, os, dst + f * rowBytes, rowBytes);
                }
            }
        });
    }
}
