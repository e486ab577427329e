package org.tessera.engine.cpu;

import org.tessera.engine.tensor.Tensor;

/**
 * A pointwise loop over a contiguous output and up to three input views of the same (already
 * broadcast) shape, reduced to as few dimensions as the strides allow.
 *
 * <p>Size-1 dimensions are dropped and neighbouring dimensions are merged whenever every
 * operand steps through them as one run (outer stride = inner stride · inner size). What is
 * left is an innermost run of {@link #inner} elements per row, with one inner stride per input:
 * 1 (contiguous, the vector path), 0 (a broadcast scalar) or anything else (a gather). A
 * broadcast row such as a bias [1, D] against x [B, T, D] keeps inner stride 1 and only its
 * outer stride is 0, so it stays on the vector path.
 */
final class BroadcastLoop {

    /** One row: element offsets of out and of inputs a, b, c in their storage, and its length. */
    @FunctionalInterface
    interface Row {
        void run(long out, long a, long b, long c, int n);
    }

    private static final int MAX_INPUTS = 3;

    /** Elements per row of the collapsed loop. */
    final int inner;
    /** Inner strides of inputs a, b, c (0 for absent inputs). */
    final long sa;
    final long sb;
    final long sc;
    /** Total elements. */
    final long total;
    private final int[] outer;
    private final long[][] outerStrides;
    private final long[] base = new long[MAX_INPUTS];
    private final long outBase;

    /** A loop over {@code out} (contiguous) and {@code inputs}, each already of out's shape (e.g. via expand). */
    BroadcastLoop(Tensor out, Tensor... inputs) {
        int[] shape = out.shape();
        int k = inputs.length;
        long[][] st = new long[k][];
        for (int i = 0; i < k; i++) {
            st[i] = inputs[i].strides();
            base[i] = inputs[i].offset();
        }
        outBase = out.offset();
        total = out.numel();
        // Collapse from the outside in: cur is the run being built, merged with dim d when
        // every input's stride of the run equals its stride of d times d's size.
        int[] sizes = new int[shape.length + 1];
        long[][] strides = new long[MAX_INPUTS][shape.length + 1];
        int dims = 0;
        for (int d = 0; d < shape.length; d++) {
            if (shape[d] == 1) {
                continue;
            }
            boolean merge = dims > 0;
            for (int i = 0; merge && i < k; i++) {
                merge = strides[i][dims - 1] == st[i][d] * shape[d];
            }
            if (merge) {
                sizes[dims - 1] *= shape[d];
                for (int i = 0; i < k; i++) {
                    strides[i][dims - 1] = st[i][d];
                }
            } else {
                sizes[dims] = shape[d];
                for (int i = 0; i < k; i++) {
                    strides[i][dims] = st[i][d];
                }
                dims++;
            }
        }
        if (dims == 0) {
            sizes[0] = 1; // a scalar (or all-ones shape): one row of one element
            dims = 1;
        }
        inner = total == 0 ? 0 : sizes[dims - 1];
        sa = strides[0][dims - 1];
        sb = strides[1][dims - 1];
        sc = strides[2][dims - 1];
        outer = java.util.Arrays.copyOf(sizes, dims - 1);
        outerStrides = new long[MAX_INPUTS][];
        for (int i = 0; i < MAX_INPUTS; i++) {
            outerStrides[i] = java.util.Arrays.copyOf(strides[i], dims - 1);
        }
    }

    /** Runs {@code row} over the pieces of rows that cover output elements {@code [from, to)}. */
    void forEach(long from, long to, Row row) {
        long i = from;
        while (i < to) {
            long r = i / inner;
            int j = (int) (i - r * inner);
            int n = (int) Math.min(inner - j, to - i);
            long a = base[0] + j * sa;
            long b = base[1] + j * sb;
            long c = base[2] + j * sc;
            for (int d = outer.length - 1; d >= 0 && r > 0; d--) {
                long idx = r % outer[d];
                r /= outer[d];
                a += idx * outerStrides[0][d];
                b += idx * outerStrides[1][d];
                c += idx * outerStrides[2][d];
            }
            row.run(outBase + i, a, b, c, n);
            i += n;
        }
    }
}
