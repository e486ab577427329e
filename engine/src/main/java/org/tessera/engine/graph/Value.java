package org.tessera.engine.graph;

import java.util.Arrays;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Shapes;

/**
 * A tensor produced by one node of a {@link Graph}; its shape and dtype are fixed when the graph
 * is built. Two values are equal when their ids are (ids are unique within one builder).
 *
 * @param id unique within the graph, printed as {@code %id}
 * @param shape the dimensions (a copy is kept and returned)
 * @param dtype the element type
 */
public record Value(int id, int[] shape, DType dtype) {
    public Value {
        shape = shape.clone();
        if (dtype == null) {
            throw new IllegalArgumentException("value %" + id + " needs a dtype");
        }
    }

    /** A copy of the shape. */
    @Override
    public int[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    /** Size of dimension {@code dim}; negative dims count from the end. */
    public int size(int dim) {
        int d = dim < 0 ? dim + shape.length : dim;
        if (d < 0 || d >= shape.length) {
            throw new IndexOutOfBoundsException("dim " + dim + " out of range for " + this);
        }
        return shape[d];
    }

    public long numel() {
        return Shapes.numel(shape);
    }

    /** Bytes a row-major copy of this value occupies. */
    public long byteSize() {
        return numel() * dtype.byteSize();
    }

    /** True when {@code other} has the same shape. */
    boolean sameShape(int[] other) {
        return Arrays.equals(shape, other);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Value v && v.id == id;
    }

    @Override
    public int hashCode() {
        return Integer.hashCode(id);
    }

    /** {@code %3 f32[2, 16, 64]}. */
    @Override
    public String toString() {
        return "%" + id + " " + dtype.shortName() + Shapes.toString(shape);
    }
}
