package org.tessera.engine.graph;

import org.tessera.engine.tensor.Shapes;
import org.tessera.engine.tensor.Tensor;

/**
 * The strides and offset a value will have inside its buffer, known at compile time so that the
 * planner can decide which shape ops stay views and where a kernel needs a row-major copy. The
 * view rules mirror {@link Tensor}'s exactly, so the views the executor builds agree with the plan.
 */
record Layout(int[] shape, long[] strides, long offset) {

    /** A row-major value at the start of its own buffer. */
    static Layout contiguous(int[] shape) {
        return new Layout(shape.clone(), Shapes.contiguousStrides(shape), 0);
    }

    /** The layout of an existing tensor (a constant). */
    static Layout of(Tensor t) {
        return new Layout(t.shape(), t.strides(), t.offset());
    }

    /** Same rule as {@link Tensor#isContiguous()}. */
    boolean isContiguous() {
        return Shapes.isContiguous(shape, strides);
    }

    /** The view an op makes of this layout, or null when a reshape cannot be a view. */
    Layout view(Op op) {
        return switch (op) {
            case ShapeOps.Reshape r -> reshape(r.shape());
            case ShapeOps.Permute p -> permute(p.dims());
            case ShapeOps.Slice s -> slice(s.dim(), s.start(), s.end());
            case ShapeOps.Unsqueeze u -> unsqueeze(u.dim());
            default -> throw new IllegalArgumentException(op.kind() + " is not a view");
        };
    }

    private Layout reshape(int[] target) {
        long[] s = Shapes.viewStrides(shape, strides, target);
        return s == null ? null : new Layout(target.clone(), s, offset);
    }

    private Layout permute(int[] dims) {
        int[] s = new int[dims.length];
        long[] st = new long[dims.length];
        for (int i = 0; i < dims.length; i++) {
            s[i] = shape[dims[i]];
            st[i] = strides[dims[i]];
        }
        return new Layout(s, st, offset);
    }

    private Layout slice(int dim, int start, int end) {
        int[] s = shape.clone();
        s[dim] = end - start;
        return new Layout(s, strides.clone(), offset + start * strides[dim]);
    }

    private Layout unsqueeze(int dim) {
        int[] s = new int[shape.length + 1];
        long[] st = new long[shape.length + 1];
        for (int i = 0, j = 0; i < s.length; i++) {
            if (i == dim) {
                s[i] = 1;
                st[i] = j < shape.length ? strides[j] * shape[j] : 1;
            } else {
                s[i] = shape[j];
                st[i] = strides[j++];
            }
        }
        return new Layout(s, st, offset);
    }
}
