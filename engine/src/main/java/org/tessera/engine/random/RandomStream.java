package org.tessera.engine.random;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Tensor;

/**
 * Uniform and standard-normal streams over {@link Philox}, addressed by (seed, stream, index).
 *
 * <p>Element {@code i} of a fill uses Philox block {@code i / 4} (counter = block index in the
 * low 64 bits, {@code stream} in the high 64) and takes lane {@code i % 4}. Normals come from
 * Box–Muller on lane pairs (0,1) and (2,3), so element {@code i} of a normal fill is a pure
 * function of (seed, stream, i): identical on any thread count and on any device that follows
 * the same recipe. Different {@code stream} values (e.g. one per sampler step) never overlap.
 *
 * @param seed the user's seed; its two 32-bit halves are the Philox key
 * @param stream which independent sequence of this seed to draw from
 */
public record RandomStream(long seed, long stream) {
    /** 2^-32: maps a uint32 to [0, 1). */
    private static final double TWO_POW_M32 = 0x1.0p-32;

    private static final double TWO_PI = 2 * Math.PI;
    /** Elements per parallel task; a multiple of 4 so tasks start on a block boundary. */
    private static final int TASK_ELEMENTS = 1 << 14;
    /** Each thread's Philox output block, so that a draw allocates nothing. */
    private static final ThreadLocal<int[]> SCRATCH = ThreadLocal.withInitial(() -> new int[4]);

    private static final ThreadLocal<Fill> FILLS = ThreadLocal.withInitial(Fill::new);

    /** The same seed, another independent stream. */
    public RandomStream withStream(long newStream) {
        return new RandomStream(seed, newStream);
    }

    /** Uniform float in [0, 1) for element {@code index}. */
    public float uniform(long index) {
        int[] block = SCRATCH.get();
        blockFor(seed, stream, index >>> 2, block);
        return uniformOf(block[(int) (index & 3)]);
    }

    /** Standard normal for element {@code index}. */
    public float normal(long index) {
        int[] block = SCRATCH.get();
        blockFor(seed, stream, index >>> 2, block);
        int lane = (int) (index & 3);
        int pair = lane & ~1;
        return boxMuller(block[pair], block[pair + 1], (lane & 1) == 1);
    }

    /** Fills a contiguous F32 tensor with N(0, 1) noise; elements are indexed row-major. */
    public void fillNormal(Tensor out, WorkerPool pool) {
        fill(out, pool, true);
    }

    /** Fills a contiguous F32 tensor with U[0, 1) noise. */
    public void fillUniform(Tensor out, WorkerPool pool) {
        fill(out, pool, false);
    }

    private void fill(Tensor out, WorkerPool pool, boolean normal) {
        out.requireHost("random fill");
        if (out.dtype() != DType.F32 || !out.isContiguous()) {
            throw new ShapeMismatchException("random fill: expects a contiguous f32 tensor, got " + out);
        }
        long n = out.numel();
        int tasks = (int) ((n + TASK_ELEMENTS - 1) / TASK_ELEMENTS);
        Fill job = FILLS.get();
        job.bind(seed, stream, out.storage(), out.byteOffset() >>> 2, n, normal);
        try {
            if (tasks == 1) {
                job.run(0);
            } else {
                pool.run(tasks, job);
            }
        } finally {
            job.seg = null;
        }
    }

    /**
     * A fill's work, one per calling thread and rebound per call, so that the noise of every
     * sampler or training step is drawn without allocating: task {@code t} writes elements
     * [t·TASK_ELEMENTS, (t+1)·TASK_ELEMENTS), each worker using its own four-int block.
     */
    private static final class Fill implements WorkerPool.Task {
        private long seed;
        private long stream;
        private MemorySegment seg;
        private long base;
        private long n;
        private boolean normal;

        void bind(long seed, long stream, MemorySegment seg, long base, long n, boolean normal) {
            this.seed = seed;
            this.stream = stream;
            this.seg = seg;
            this.base = base;
            this.n = n;
            this.normal = normal;
        }

        @Override
        public void run(int t) {
            int[] block = SCRATCH.get();
            long start = (long) t * TASK_ELEMENTS;
            long end = Math.min(n, start + TASK_ELEMENTS);
            for (long i = start; i < end; i += 4) {
                blockFor(seed, stream, i >>> 2, block);
                int lanes = (int) Math.min(4, end - i);
                for (int lane = 0; lane < lanes; lane++) {
                    float v;
                    if (normal) {
                        int pair = lane & ~1;
                        v = boxMuller(block[pair], block[pair + 1], (lane & 1) == 1);
                    } else {
                        v = uniformOf(block[lane]);
                    }
                    seg.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, base + i + lane, v);
                }
            }
        }
    }

    private static void blockFor(long seed, long stream, long blockIndex, int[] out) {
        Philox.block(
                (int) blockIndex,
                (int) (blockIndex >>> 32),
                (int) stream,
                (int) (stream >>> 32),
                (int) seed,
                (int) (seed >>> 32),
                out);
    }

    private static float uniformOf(int bits) {
        // The top 24 bits give every float in [0, 1) on a 2^-24 grid, exactly representable.
        return (bits >>> 8) * 0x1.0p-24f;
    }

    /**
     * Box–Muller: z0 = r·cos θ, z1 = r·sin θ with r = √(−2 ln u1), θ = 2π u2. u1 is taken in
     * (0, 1] so the logarithm is finite; the arithmetic is in double so devices agree to the
     * final float rounding.
     */
    private static float boxMuller(int a, int b, boolean second) {
        double u1 = ((a & 0xFFFF_FFFFL) + 1.0) * TWO_POW_M32;
        double u2 = (b & 0xFFFF_FFFFL) * TWO_POW_M32;
        double r = Math.sqrt(-2.0 * Math.log(u1));
        double theta = TWO_PI * u2;
        return (float) (second ? r * Math.sin(theta) : r * Math.cos(theta));
    }
}
