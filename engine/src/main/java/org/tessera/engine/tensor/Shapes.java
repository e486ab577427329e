package org.tessera.engine.tensor;

import java.util.Arrays;

/** Small helpers over int[] shapes: element counts, printing, broadcasting. */
public final class Shapes {
    private Shapes() {}

    /**
     * The most elements a graph value may have: 2^36 (256 GiB of f32). Far beyond any machine this
     * runs on, and low enough that byte counts and sums of a graph's buffers cannot overflow a long.
     */
    public static final long MAX_ELEMENTS = 1L << 36;

    /**
     * Product of the dimensions, or −1 when it exceeds {@link #MAX_ELEMENTS} (the dimensions are
     * ints, so the product is formed without overflow: each partial product stays under 2^36·2^31).
     */
    public static long boundedNumel(int[] shape) {
        long n = 1;
        for (int d : shape) {
            n *= d;
            if (n > MAX_ELEMENTS) {
                return -1;
            }
        }
        return n;
    }

    /** Product of the dimensions; 1 for a scalar shape. */
    public static long numel(int[] shape) {
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        return n;
    }

    /** Row-major strides, in elements. */
    public static long[] contiguousStrides(int[] shape) {
        long[] strides = new long[shape.length];
        long s = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            strides[i] = s;
            s *= Math.max(shape[i], 1);
        }
        return strides;
    }

    /** {@code [2, 3, 4]}. */
    public static String toString(int[] shape) {
        return Arrays.toString(shape);
    }

    /**
     * NumPy broadcasting: shapes are right-aligned and each dimension pair must be equal or 1.
     *
     * @throws ShapeMismatchException naming {@code op} and both shapes when they do not broadcast
     */
    public static int[] broadcast(String op, int[] a, int[] b) {
        int rank = Math.max(a.length, b.length);
        int[] out = new int[rank];
        for (int i = 0; i < rank; i++) {
            int da = i < rank - a.length ? 1 : a[i - (rank - a.length)];
            int db = i < rank - b.length ? 1 : b[i - (rank - b.length)];
            if (da != db && da != 1 && db != 1) {
                throw new ShapeMismatchException(op + ": shapes " + toString(a) + " and " + toString(b)
                        + " do not broadcast (dimension " + i + ": " + da + " vs " + db + ")");
            }
            out[i] = da == 1 ? db : da;
        }
        return out;
    }

    /** True when {@code strides} lay {@code shape} out row-major without gaps (size-1 dims ignored). */
    public static boolean isContiguous(int[] shape, long[] strides) {
        for (int d : shape) {
            if (d == 0) {
                return true; // no elements: any layout is a contiguous one (as in PyTorch)
            }
        }
        long expected = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            if (shape[i] != 1 && strides[i] != expected) {
                return false;
            }
            expected *= shape[i];
        }
        return true;
    }

    /**
     * Strides that view a layout ({@code shape}, {@code strides}) as {@code target} without a
     * copy, or null when that needs one. Old dims are grouped into runs that are contiguous with
     * each other; each run must be covered exactly by a run of new dims, which then inherit the
     * run's innermost stride (PyTorch's rule).
     */
    public static long[] viewStrides(int[] shape, long[] strides, int[] target) {
        if (isContiguous(shape, strides) || numel(shape) == 0) {
            return contiguousStrides(target);
        }
        long[] out = new long[target.length];
        int viewDim = target.length - 1;
        long chunkBaseStride = strides[shape.length - 1];
        long tensorNumel = 1;
        long viewNumel = 1;
        for (int d = shape.length - 1; d >= 0; d--) {
            tensorNumel *= shape[d];
            boolean runEnds = d == 0 || (shape[d - 1] != 1 && strides[d - 1] != tensorNumel * chunkBaseStride);
            if (runEnds) {
                while (viewDim >= 0 && (viewNumel < tensorNumel || target[viewDim] == 1)) {
                    out[viewDim] = viewNumel * chunkBaseStride;
                    viewNumel *= target[viewDim];
                    viewDim--;
                }
                if (viewNumel != tensorNumel) {
                    return null;
                }
                if (d > 0) {
                    chunkBaseStride = strides[d - 1];
                    tensorNumel = 1;
                    viewNumel = 1;
                }
            }
        }
        return viewDim == -1 ? out : null;
    }

    /** Resolves one {@code -1} in a reshape target against {@code numel}. */
    public static int[] inferReshape(int[] target, long numel, int[] from) {
        int[] out = target.clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < out.length; i++) {
            if (out[i] == -1) {
                if (infer >= 0) {
                    throw new ShapeMismatchException("reshape: more than one -1 in " + toString(target));
                }
                infer = i;
            } else if (out[i] < 0) {
                throw new ShapeMismatchException("reshape: negative dimension in " + toString(target));
            } else {
                known *= out[i];
            }
        }
        if (infer >= 0) {
            if (known == 0 || numel % known != 0) {
                throw new ShapeMismatchException("reshape: cannot infer -1 in " + toString(target) + " for "
                        + toString(from) + " (" + numel + " elements)");
            }
            out[infer] = Math.toIntExact(numel / known);
        } else if (known != numel) {
            throw new ShapeMismatchException("reshape: " + toString(from) + " (" + numel + " elements) cannot become "
                    + toString(target) + " (" + known + " elements)");
        }
        return out;
    }
}
