package org.tessera.engine.graph;

import static org.tessera.engine.graph.ShapeRules.broadcastsTo;
import static org.tessera.engine.graph.ShapeRules.dims;
import static org.tessera.engine.graph.ShapeRules.f32;
import static org.tessera.engine.graph.ShapeRules.mismatch;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.tessera.engine.backend.Activation;
import org.tessera.engine.backend.ElementwiseOps;
import org.tessera.engine.backend.MemoryOps;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Shapes;
import org.tessera.engine.tensor.Tensor;

/** Pointwise arithmetic, activations, clamping and adaLN modulation. Each record is one op's whole definition; see {@link Op}. */
public final class PointwiseOps {
    private PointwiseOps() {}

    /** The four broadcasting arithmetic ops. */
    public enum Arithmetic {
        ADD,
        SUB,
        MUL,
        DIV
    }

    /** {@code a ∘ b} with NumPy broadcasting. */
    public record Binary(Arithmetic arithmetic) implements Op {
        public String kind() {
            return arithmetic.name().toLowerCase(Locale.ROOT);
        }

        @Override
        public Gradient gradient() {
            return (g, n, dy) -> Gradients.binary(g, n, dy, arithmetic);
        }

        @Override
        public long flops(Node n) {
            return n.output().numel();
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor[] in = k.in();
            Tensor out = k.out();
            ElementwiseOps ew = k.backend().elementwise();
            return switch (arithmetic) {
                case ADD -> () -> ew.add(in[0], in[1], out);
                case SUB -> () -> ew.sub(in[0], in[1], out);
                case MUL -> () -> ew.mul(in[0], in[1], out);
                case DIV -> () -> ew.div(in[0], in[1], out);
            };
        }

        /** NumPy broadcasting of a and b. */
        @Override
        public OutputType infer(List<Value> in) {
            String op = kind();
            Value a = in.get(0);
            Value b = in.get(1);
            f32(op, a, b);
            try {
                return new OutputType(Shapes.broadcast(op, a.shape(), b.shape()), DType.F32);
            } catch (ShapeMismatchException e) {
                throw mismatch(op, "a " + dims(a) + " and b " + dims(b) + " do not broadcast");
            }
        }
    }

    /** {@code x + s} or {@code x · s} (only ADD and MUL). */
    public record Scalar(Arithmetic arithmetic, float value) implements Op {
        public String kind() {
            return arithmetic.name().toLowerCase(Locale.ROOT) + "Scalar";
        }

        @Override
        public Gradient gradient() {
            return (g, n, dy) -> Gradients.scalar(g, n, dy, arithmetic, value);
        }

        public String attributes() {
            return Float.toString(value);
        }

        @Override
        public long flops(Node n) {
            return n.output().numel();
        }

        /** A one-element operand of equal rank broadcasts the scalar through the backend's binary op. */
        @Override
        public Runnable kernel(KernelArgs k) {
            return applied(k, Tensor.of(k.arena(), new float[] {value}, onesOfRank(k.in()[0])));
        }

        /** On a device the one-element operand lives in device memory the execution owns and frees. */
        @Override
        public Runnable deviceKernel(KernelArgs k) {
            MemoryOps memory = k.backend().memory();
            int[] ones = onesOfRank(k.in()[0]);
            MemoryOps.Allocation a = memory.allocate(4, "a scalar operand");
            k.own().accept(a);
            Tensor c = memory.tensor(a.segment(), DType.F32, ones);
            memory.copy(Tensor.of(new float[] {value}, ones), c);
            return applied(k, c);
        }

        /** x + c or x · c for the one-element operand c. */
        private Runnable applied(KernelArgs k, Tensor c) {
            Tensor x = k.in()[0];
            Tensor out = k.out();
            ElementwiseOps ew = k.backend().elementwise();
            return arithmetic == Arithmetic.ADD ? () -> ew.add(x, c, out) : () -> ew.mul(x, c, out);
        }

        private static int[] onesOfRank(Tensor x) {
            int[] ones = new int[x.rank()];
            Arrays.fill(ones, 1);
            return ones;
        }

        @Override
        public OutputType infer(List<Value> in) {
            f32(kind(), in.get(0));
            return new OutputType(in.get(0).shape(), DType.F32);
        }
    }

    /** A pointwise activation (GELU-tanh or SiLU). */
    public record Activate(Activation activation) implements Op {
        public String kind() {
            return switch (activation) {
                case GELU_TANH -> "gelu";
                case SILU -> "silu";
                case NONE -> "identity";
            };
        }

        @Override
        public Gradient gradient() {
            return (g, n, dy) -> Gradients.activate(g, n, dy, activation);
        }

        @Override
        public long flops(Node n) {
            return n.output().numel();
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor[] in = k.in();
            Tensor out = k.out();
            ElementwiseOps ew = k.backend().elementwise();
            return () -> ew.activate(activation, in[0], out);
        }

        @Override
        public OutputType infer(List<Value> in) {
            f32(kind(), in.get(0));
            return new OutputType(in.get(0).shape(), DType.F32);
        }
    }

    /** {@code min(max(x, lo), hi)}, NaN kept: a decoder's output range, a clipped x̂₀. */
    public record Clamp(float lo, float hi) implements Op {
        public String kind() {
            return "clamp";
        }

        @Override
        public Gradient gradient() {
            return (g, n, dy) -> List.of(g.apply(new GradientOps.ClampGrad(lo, hi), List.of(n.input(0), dy)));
        }

        public String attributes() {
            return "[" + lo + ", " + hi + "]";
        }

        @Override
        public OutputType infer(List<Value> in) {
            Value x = in.get(0);
            f32(kind(), x);
            if (!(lo <= hi)) {
                throw mismatch(kind(), "min " + lo + " must not exceed max " + hi);
            }
            return new OutputType(x.shape(), DType.F32);
        }

        @Override
        public long flops(Node n) {
            return n.output().numel();
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor[] in = k.in();
            Tensor out = k.out();
            ElementwiseOps ew = k.backend().elementwise();
            return () -> ew.clamp(in[0], lo, hi, out);
        }
    }

    /** adaLN modulation {@code x·(1 + scale) + shift}; inputs x, shift, scale. */
    public record Modulate() implements Op {
        public String kind() {
            return "modulate";
        }

        @Override
        public Gradient gradient() {
            return Gradients::modulate;
        }

        @Override
        public long flops(Node n) {
            return 2 * n.output().numel();
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor[] in = k.in();
            Tensor out = k.out();
            ElementwiseOps ew = k.backend().elementwise();
            return () -> ew.modulate(in[0], in[1], in[2], out);
        }

        /** x, then shift and scale that broadcast to x's shape. */
        @Override
        public OutputType infer(List<Value> in) {
            String op = kind();
            Value x = in.get(0);
            Value shift = in.get(1);
            Value scale = in.get(2);
            f32(op, x, shift, scale);
            if (!broadcastsTo(shift.shape(), x.shape()) || !broadcastsTo(scale.shape(), x.shape())) {
                throw mismatch(
                        op, "shift " + dims(shift) + " and scale " + dims(scale) + " must broadcast to x " + dims(x));
            }
            return new OutputType(x.shape(), DType.F32);
        }
    }
}
