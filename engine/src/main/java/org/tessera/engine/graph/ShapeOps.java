package org.tessera.engine.graph;

import static org.tessera.engine.graph.ShapeRules.axis;
import static org.tessera.engine.graph.ShapeRules.broadcastsTo;
import static org.tessera.engine.graph.ShapeRules.dims;
import static org.tessera.engine.graph.ShapeRules.mismatch;

import java.util.Arrays;
import java.util.List;
import org.tessera.engine.backend.MemoryOps;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Shapes;
import org.tessera.engine.tensor.Tensor;

/** Layout: views (reshape, permute, slice, unsqueeze) and copies (contiguous, expand, concat, cast). Each record is one op's whole definition; see {@link Op}. */
public final class ShapeOps {
    private ShapeOps() {}

    /**
     * A new shape over the same elements. The planner keeps it a view when the source's strides
     * allow (always for contiguous sources) and otherwise inserts a {@link Contiguous} copy first.
     */
    public record Reshape(int[] shape) implements Op {
        public String kind() {
            return "reshape";
        }

        @Override
        public Gradient gradient() {
            return Gradients::reshape;
        }

        public String attributes() {
            return Shapes.toString(shape);
        }

        public boolean isView() {
            return true;
        }

        @Override
        public Tensor view(Tensor src) {
            return src.reshape(shape);
        }

        /** The same elements in {@link #shape} (resolved by {@link #of}). */
        @Override
        public OutputType infer(List<Value> in) {
            Value x = in.get(0);
            if (Shapes.numel(shape) != x.numel()) {
                throw mismatch(
                        kind(), dims(x) + " (" + x.numel() + " elements) cannot become " + Shapes.toString(shape));
            }
            return new OutputType(shape.clone(), x.dtype());
        }

        /** The reshape of {@code x} to {@code shape}, its one −1 resolved from x's element count. */
        public static Reshape of(Value x, int... shape) {
            String op = "reshape";
            int[] target = shape.clone();
            int infer = -1;
            long known = 1;
            for (int i = 0; i < target.length; i++) {
                if (target[i] == -1 && infer < 0) {
                    infer = i;
                } else if (target[i] < 0) {
                    throw mismatch(
                            op,
                            "target " + Shapes.toString(shape) + " for " + dims(x)
                                    + " may hold one -1 and no other negative size");
                } else {
                    known *= target[i];
                }
            }
            if (infer >= 0) {
                if (known == 0 || x.numel() % known != 0) {
                    throw mismatch(op, "cannot infer -1 in " + Shapes.toString(shape) + " for " + dims(x));
                }
                target[infer] = Math.toIntExact(x.numel() / known);
            } else if (known != x.numel()) {
                throw mismatch(op, dims(x) + " (" + x.numel() + " elements) cannot become " + Shapes.toString(shape));
            }
            return new Reshape(target);
        }
    }

    /** A permutation of the dims (always a view). */
    public record Permute(int[] dims) implements Op {
        public String kind() {
            return "permute";
        }

        @Override
        public Gradient gradient() {
            return (g, n, dy) -> Gradients.permute(g, n, dy, dims);
        }

        public String attributes() {
            return Arrays.toString(dims);
        }

        public boolean isView() {
            return true;
        }

        @Override
        public Tensor view(Tensor src) {
            return src.permute(dims);
        }

        /** The dims reordered as {@link #dims} (normalised by {@link #of}). */
        @Override
        public OutputType infer(List<Value> in) {
            Value x = in.get(0);
            int[] shape = new int[dims.length];
            for (int i = 0; i < dims.length; i++) {
                shape[i] = x.size(dims[i]);
            }
            return new OutputType(shape, x.dtype());
        }

        /** The permutation {@code dims} of x's dims (negative dims count from the end). */
        public static Permute of(Value x, int... dims) {
            int r = x.rank();
            boolean[] seen = new boolean[r];
            int[] order = new int[dims.length];
            boolean ok = dims.length == r;
            for (int i = 0; ok && i < r; i++) {
                int d = dims[i] < 0 ? dims[i] + r : dims[i];
                ok = d >= 0 && d < r && !seen[d];
                if (ok) {
                    seen[d] = true;
                    order[i] = d;
                }
            }
            if (!ok) {
                throw mismatch(
                        "permute",
                        Arrays.toString(dims) + " is not a permutation of the dims of " + ShapeRules.dims(x));
            }
            return new Permute(order);
        }
    }

    /** Elements [start, end) of {@code dim} (always a view). */
    public record Slice(int dim, int start, int end) implements Op {
        public String kind() {
            return "slice";
        }

        @Override
        public Gradient gradient() {
            return (g, n, dy) -> Gradients.slice(g, n, dy, dim, start, end);
        }

        public String attributes() {
            return "dim=" + dim + " [" + start + ":" + end + "]";
        }

        public boolean isView() {
            return true;
        }

        @Override
        public Tensor view(Tensor src) {
            return src.slice(dim, start, end);
        }

        /** Elements [start, end) of {@link #dim}. */
        @Override
        public OutputType infer(List<Value> in) {
            Value x = in.get(0);
            if (dim < 0 || dim >= x.rank() || start < 0 || start > end || end > x.size(dim)) {
                throw mismatch(kind(), "[" + start + ":" + end + "] out of range for dim " + dim + " of " + dims(x));
            }
            int[] shape = x.shape();
            shape[dim] = end - start;
            return new OutputType(shape, x.dtype());
        }

        /** Elements [start, end) of {@code dim} of x (a negative dim counts from the end). */
        public static Slice of(Value x, int dim, int start, int end) {
            return new Slice(axis("slice", x, dim), start, end);
        }
    }

    /** A new dim of size 1 (always a view). */
    public record Unsqueeze(int dim) implements Op {
        public String kind() {
            return "unsqueeze";
        }

        @Override
        public Gradient gradient() {
            return Gradients::reshape;
        }

        public String attributes() {
            return "dim=" + dim;
        }

        public boolean isView() {
            return true;
        }

        @Override
        public Tensor view(Tensor src) {
            return src.unsqueeze(dim);
        }

        /** A dim of size 1 at {@link #dim}. */
        @Override
        public OutputType infer(List<Value> in) {
            Value x = in.get(0);
            int r = x.rank();
            if (dim < 0 || dim > r) {
                throw mismatch(kind(), "dim " + dim + " out of range for " + dims(x));
            }
            int[] shape = new int[r + 1];
            for (int i = 0, j = 0; i <= r; i++) {
                shape[i] = i == dim ? 1 : x.size(j++);
            }
            return new OutputType(shape, x.dtype());
        }

        /** A dim of size 1 at {@code dim} of x (negative: counted from the end of the result). */
        public static Unsqueeze of(Value x, int dim) {
            int d = dim < 0 ? dim + x.rank() + 1 : dim;
            if (d < 0 || d > x.rank()) {
                throw mismatch("unsqueeze", "dim " + dim + " out of range for " + dims(x));
            }
            return new Unsqueeze(d);
        }
    }

    /** A row-major copy; the planner turns it into a view when the source already is row-major. */
    public record Contiguous() implements Op {
        public String kind() {
            return "contiguous";
        }

        @Override
        public Gradient gradient() {
            return Gradients::sameShape;
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            return new StridedCopy(k.backend().pool(), k.in()[0], k.out())::run;
        }

        @Override
        public Runnable deviceKernel(KernelArgs k) {
            Tensor src = k.in()[0];
            Tensor out = k.out();
            MemoryOps memory = k.backend().memory();
            return () -> memory.copy(src, out);
        }

        @Override
        public OutputType infer(List<Value> in) {
            return new OutputType(in.get(0).shape(), in.get(0).dtype());
        }
    }

    /** A broadcast to {@code shape}, materialised. */
    public record Expand(int[] shape) implements Op {
        public String kind() {
            return "expand";
        }

        @Override
        public Gradient gradient() {
            return Gradients::expand;
        }

        public String attributes() {
            return Shapes.toString(shape);
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            return new StridedCopy(k.backend().pool(), k.in()[0].expand(shape), k.out())::run;
        }

        @Override
        public Runnable deviceKernel(KernelArgs k) {
            Tensor src = k.in()[0].expand(shape);
            Tensor out = k.out();
            MemoryOps memory = k.backend().memory();
            return () -> memory.copy(src, out);
        }

        /** x broadcast to {@link #shape} (resolved by {@link #of}). */
        @Override
        public OutputType infer(List<Value> in) {
            Value x = in.get(0);
            if (!broadcastsTo(x.shape(), shape)) {
                throw mismatch(kind(), dims(x) + " cannot broadcast to " + Shapes.toString(shape));
            }
            return new OutputType(shape.clone(), x.dtype());
        }

        /** x broadcast to {@code shape}, where −1 keeps x's dim. */
        public static Expand of(Value x, int... shape) {
            int lead = shape.length - x.rank();
            int[] out = shape.clone();
            boolean ok = lead >= 0;
            for (int i = 0; ok && i < shape.length; i++) {
                if (i < lead) {
                    ok = shape[i] >= 0;
                } else {
                    int have = x.size(i - lead);
                    out[i] = shape[i] == -1 ? have : shape[i];
                    ok = out[i] >= 0 && (have == out[i] || have == 1);
                }
            }
            if (!ok) {
                throw mismatch("expand", dims(x) + " cannot broadcast to " + Shapes.toString(shape));
            }
            return new Expand(out);
        }
    }

    /** Concatenation of all inputs along {@code dim}. */
    public record Concat(int dim) implements Op {
        public String kind() {
            return "concat";
        }

        @Override
        public Gradient gradient() {
            return (g, n, dy) -> Gradients.concat(g, n, dy, dim);
        }

        public String attributes() {
            return "dim=" + dim;
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor[] in = k.in();
            StridedCopy[] parts = new StridedCopy[in.length];
            int at = 0;
            for (int i = 0; i < in.length; i++) {
                int n = in[i].size(dim);
                parts[i] = new StridedCopy(k.backend().pool(), in[i], k.out().slice(dim, at, at + n));
                at += n;
            }
            return () -> {
                for (StridedCopy p : parts) {
                    p.run();
                }
            };
        }

        @Override
        public Runnable deviceKernel(KernelArgs k) {
            Tensor[] in = k.in();
            MemoryOps memory = k.backend().memory();
            Tensor[] parts = new Tensor[in.length];
            int at = 0;
            for (int i = 0; i < in.length; i++) {
                int n = in[i].size(dim);
                parts[i] = k.out().slice(dim, at, at + n);
                at += n;
            }
            return () -> {
                for (int i = 0; i < parts.length; i++) {
                    memory.copy(in[i], parts[i]);
                }
            };
        }

        /** Operands that agree outside {@link #dim} and in dtype, joined along it. */
        @Override
        public OutputType infer(List<Value> in) {
            String op = kind();
            if (in.isEmpty()) {
                throw mismatch(op, "needs at least one operand");
            }
            Value first = in.get(0);
            int total = 0;
            for (Value v : in) {
                boolean ok = v.rank() == first.rank() && v.dtype() == first.dtype();
                for (int i = 0; ok && i < v.rank(); i++) {
                    ok = i == dim || v.size(i) == first.size(i);
                }
                if (!ok) {
                    throw mismatch(
                            op,
                            "operands " + in.stream().map(ShapeRules::dims).toList() + " differ outside dim " + dim
                                    + " (or in dtype)");
                }
                total += v.size(dim);
            }
            int[] shape = first.shape();
            shape[dim] = total;
            return new OutputType(shape, first.dtype());
        }

        /** Concatenation of {@code xs} along {@code dim} (a negative dim counts from the end). */
        public static Concat of(List<Value> xs, int dim) {
            if (xs == null || xs.isEmpty()) {
                throw mismatch("concat", "needs at least one operand");
            }
            return new Concat(axis("concat", xs.get(0), dim));
        }
    }

    /** A converting copy to {@code dtype}. */
    public record Cast(DType dtype) implements Op {
        public String kind() {
            return "cast";
        }

        /** A conversion between float types passes g through, converted back to the input's type. */
        @Override
        public Gradient gradient() {
            return (g, n, dy) -> {
                DType from = n.input(0).dtype();
                if (!from.isFloatingPoint() || !dtype.isFloatingPoint()) {
                    throw new IllegalArgumentException("a cast from " + from.shortName() + " to " + dtype.shortName()
                            + " has no gradient" + (n.location() == null ? "" : " (at " + n.location() + ")"));
                }
                return List.of(from == dy.dtype() ? dy : g.cast(dy, from));
            };
        }

        public String attributes() {
            return dtype.shortName();
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor src = k.in()[0];
            Tensor out = k.out();
            return () -> out.copyFrom(src);
        }

        @Override
        public Runnable deviceKernel(KernelArgs k) {
            Tensor src = k.in()[0];
            Tensor out = k.out();
            MemoryOps memory = k.backend().memory();
            return () -> memory.copy(src, out);
        }

        @Override
        public OutputType infer(List<Value> in) {
            return new OutputType(in.get(0).shape(), dtype);
        }
    }
}
