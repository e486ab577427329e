package org.tessera.engine.graph;

import static org.tessera.engine.graph.ShapeRules.dims;
import static org.tessera.engine.graph.ShapeRules.f32;
import static org.tessera.engine.graph.ShapeRules.mismatch;
import static org.tessera.engine.graph.ShapeRules.vector;

import java.util.List;
import org.tessera.engine.backend.Activation;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/** Normalisations: layer and group norms, softmax, and the fused layerNorm+modulate. Each record is one op's whole definition; see {@link Op}. */
public final class NormalizationOps {
    private NormalizationOps() {}

    /** LayerNorm over the last dim; inputs x, then weight and bias when present. */
    public record LayerNorm(float eps, boolean hasWeight, boolean hasBias) implements Op {
        public String kind() {
            return "layerNorm";
        }

        @Override
        public Gradient gradient() {
            return (g, n, dy) -> Gradients.layerNorm(g, n, dy, eps, hasWeight, hasBias);
        }

        public String attributes() {
            return "eps=" + eps + (hasWeight ? " weight" : "") + (hasBias ? " bias" : "");
        }

        @Override
        public long flops(Node n) {
            return 5 * n.output().numel();
        }

        @Override
        public boolean needsContiguous(int slot) {
            return true;
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor[] in = k.in();
            Tensor out = k.out();
            Backend backend = k.backend();
            Tensor w = hasWeight ? in[1] : null;
            Tensor b = hasBias ? in[hasWeight ? 2 : 1] : null;
            return () -> backend.norms().layerNorm(in[0], w, b, eps, out);
        }

        /** Over the last dim; weight and bias [D]. */
        @Override
        public OutputType infer(List<Value> in) {
            String op = kind();
            Value x = in.get(0);
            Value weight = hasWeight ? in.get(1) : null;
            Value bias = hasBias ? in.get(hasWeight ? 2 : 1) : null;
            f32(op, x, weight, bias);
            if (x.rank() < 1) {
                throw mismatch(op, "input " + dims(x) + " needs at least one dimension");
            }
            vector(op, "weight", weight, x.size(-1), x);
            vector(op, "bias", bias, x.size(-1), x);
            return new OutputType(x.shape(), DType.F32);
        }
    }

    /**
     * GroupNorm over [N, C, *]; inputs x, then weight and bias when present. With an activation
     * (made by {@link Fusion} from a groupNorm followed by silu or gelu, a VAE's GroupNorm + SiLU)
     * the activation is applied as the normalised values are written: one pass instead of two.
     * Only the plain norm has a gradient; fused nodes exist in inference plans only.
     */
    public record GroupNorm(int groups, float eps, boolean hasWeight, boolean hasBias, Activation activation)
            implements Op {
        public GroupNorm(int groups, float eps, boolean hasWeight, boolean hasBias) {
            this(groups, eps, hasWeight, hasBias, Activation.NONE);
        }

        public String kind() {
            return activation == Activation.NONE
                    ? "groupNorm"
                    : "groupNorm+" + activation.name().toLowerCase(java.util.Locale.ROOT);
        }

        public String attributes() {
            return "groups=" + groups + " eps=" + eps;
        }

        @Override
        public Gradient gradient() {
            return activation != Activation.NONE
                    ? null
                    : (g, n, dy) -> Gradients.groupNorm(g, n, dy, groups, eps, hasWeight, hasBias);
        }

        @Override
        public long flops(Node n) {
            return (activation == Activation.NONE ? 5 : 9) * n.output().numel();
        }

        @Override
        public boolean needsContiguous(int slot) {
            return true;
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor[] in = k.in();
            Tensor out = k.out();
            Backend backend = k.backend();
            Tensor w = hasWeight ? in[1] : null;
            Tensor b = hasBias ? in[hasWeight ? 2 : 1] : null;
            return activation == Activation.NONE
                    ? () -> backend.norms().groupNorm(in[0], groups, w, b, eps, out)
                    : () -> backend.norms().groupNorm(in[0], groups, w, b, eps, activation, out, backend.elementwise());
        }

        /** x [N, C, *] with C divisible by the groups; weight and bias [C]. */
        @Override
        public OutputType infer(List<Value> in) {
            String op = kind();
            Value x = in.get(0);
            Value weight = hasWeight ? in.get(1) : null;
            Value bias = hasBias ? in.get(hasWeight ? 2 : 1) : null;
            f32(op, x, weight, bias);
            if (x.rank() < 2 || groups <= 0 || x.size(1) % groups != 0) {
                throw mismatch(op, "input " + dims(x) + " must be [N, C, *] with C divisible by " + groups + " groups");
            }
            vector(op, "weight", weight, x.size(1), x);
            vector(op, "bias", bias, x.size(1), x);
            return new OutputType(x.shape(), DType.F32);
        }
    }

    /** Softmax over the last dim. */
    public record Softmax() implements Op {
        public String kind() {
            return "softmax";
        }

        @Override
        public Gradient gradient() {
            return Gradients::softmax;
        }

        @Override
        public long flops(Node n) {
            return 3 * n.output().numel();
        }

        @Override
        public boolean needsContiguous(int slot) {
            return true;
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor[] in = k.in();
            Tensor out = k.out();
            Backend backend = k.backend();
            return () -> backend.norms().softmax(in[0], out);
        }

        @Override
        public OutputType infer(List<Value> in) {
            Value x = in.get(0);
            f32(kind(), x);
            if (x.rank() < 1) {
                throw mismatch(kind(), "input " + dims(x) + " needs at least one dimension");
            }
            return new OutputType(x.shape(), DType.F32);
        }
    }

    /** Fused affine-free LayerNorm followed by modulation; inputs x, shift, scale. */
    public record LayerNormModulate(float eps) implements Op {
        public String kind() {
            return "layerNormModulate";
        }

        public String attributes() {
            return "eps=" + eps;
        }

        @Override
        public long flops(Node n) {
            return 7 * n.output().numel();
        }

        @Override
        public boolean needsContiguous(int slot) {
            return slot == 0;
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor[] in = k.in();
            Tensor out = k.out();
            Backend backend = k.backend();
            return () -> backend.norms().layerNormModulate(in[0], in[1], in[2], eps, out);
        }

        /** Made by fusion from a checked layerNorm and modulate: x's shape. */
        @Override
        public OutputType infer(List<Value> in) {
            return new OutputType(in.get(0).shape(), DType.F32);
        }
    }
}
