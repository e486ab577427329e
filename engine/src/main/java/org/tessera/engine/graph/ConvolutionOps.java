package org.tessera.engine.graph;

import static org.tessera.engine.graph.ShapeRules.dims;
import static org.tessera.engine.graph.ShapeRules.f32;
import static org.tessera.engine.graph.ShapeRules.mismatch;
import static org.tessera.engine.graph.ShapeRules.vector;

import java.util.List;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/** Convolutions: patch embeddings, general 2-D convolution, upsampling. Each record is one op's whole definition; see {@link Op}. */
public final class ConvolutionOps {
    private ConvolutionOps() {}

    /** Patch embedding over 2 or 3 spatial dims; inputs x, weight, then bias when present. */
    public record PatchEmbed(int spatialDims, boolean hasBias) implements Op {
        public String kind() {
            return "patchEmbed" + spatialDims + "d";
        }

        @Override
        public Gradient gradient() {
            return (g, n, dy) -> Gradients.patchEmbed(g, n, dy, spatialDims, hasBias);
        }

        /** As its GEMM: 2 · output elements · (weight elements per output channel). */
        @Override
        public long flops(Node n) {
            return 2 * n.output().numel() * (n.input(1).numel() / n.input(1).size(0));
        }

        @Override
        public boolean needsContiguous(int slot) {
            return slot >= 1;
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor[] in = k.in();
            Tensor out = k.out();
            Backend backend = k.backend();
            Tensor bias = hasBias ? in[2] : null;
            return spatialDims == 2
                    ? () -> backend.conv().patchEmbed2d(in[0], in[1], bias, out)
                    : () -> backend.conv().patchEmbed3d(in[0], in[1], bias, out);
        }

        /** x [N, C, …] and weight [D, C, …] of equal rank (2 + spatialDims) → tokens [N, patches, D]. */
        @Override
        public OutputType infer(List<Value> in) {
            String op = kind();
            Value x = in.get(0);
            Value weight = in.get(1);
            Value bias = hasBias ? in.get(2) : null;
            f32(op, x, weight, bias);
            int rank = spatialDims + 2;
            if (x.rank() != rank || weight.rank() != rank || x.size(1) != weight.size(1)) {
                throw mismatch(
                        op,
                        "input " + dims(x) + " and weight " + dims(weight) + " must be " + rank
                                + "-D with equal channels");
            }
            int tokens = 1;
            for (int i = 2; i < rank; i++) {
                if (weight.size(i) == 0 || x.size(i) % weight.size(i) != 0) {
                    throw mismatch(op, "input " + dims(x) + " is not divisible into patches of weight " + dims(weight));
                }
                tokens *= x.size(i) / weight.size(i);
            }
            vector(op, "bias", bias, weight.size(0), weight);
            return new OutputType(new int[] {x.size(0), tokens, weight.size(0)}, DType.F32);
        }
    }

    /** 2-D convolution; inputs x, weight, then bias when present. */
    public record Conv2d(int stride, int padding, boolean hasBias) implements Op {
        public String kind() {
            return "conv2d";
        }

        public String attributes() {
            return "stride=" + stride + " padding=" + padding;
        }

        /** As its GEMM: 2 · output elements · (weight elements per output channel). */
        @Override
        public long flops(Node n) {
            return 2 * n.output().numel() * (n.input(1).numel() / n.input(1).size(0));
        }

        @Override
        public boolean needsContiguous(int slot) {
            return slot >= 1;
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor[] in = k.in();
            Tensor out = k.out();
            Backend backend = k.backend();
            Tensor bias = hasBias ? in[2] : null;
            return () -> backend.conv().conv2d(in[0], in[1], bias, stride, padding, out);
        }

        /** x [N, C, H, W], weight [O, C, kh, kw], bias [O] → [N, O, Ho, Wo]. */
        @Override
        public OutputType infer(List<Value> in) {
            String op = kind();
            Value x = in.get(0);
            Value weight = in.get(1);
            Value bias = hasBias ? in.get(2) : null;
            f32(op, x, weight, bias);
            if (x.rank() != 4 || weight.rank() != 4 || x.size(1) != weight.size(1) || stride < 1 || padding < 0) {
                throw mismatch(
                        op,
                        "input " + dims(x) + " [N, C, H, W] and weight " + dims(weight) + " [O, C, kh, kw] with stride "
                                + stride + " and padding " + padding + " do not fit");
            }
            int hp = x.size(2) + 2 * padding - weight.size(2);
            int wp = x.size(3) + 2 * padding - weight.size(3);
            if (hp < 0 || wp < 0 || weight.size(2) == 0 || weight.size(3) == 0) {
                throw mismatch(
                        op,
                        "kernel of weight " + dims(weight) + " does not fit input " + dims(x) + " padded by "
                                + padding);
            }
            vector(op, "bias", bias, weight.size(0), weight);
            return new OutputType(new int[] {x.size(0), weight.size(0), hp / stride + 1, wp / stride + 1}, DType.F32);
        }
    }

    /** Nearest-neighbour 2-D upsampling. */
    public record UpsampleNearest2d(int factor) implements Op {
        public String kind() {
            return "upsampleNearest2d";
        }

        @Override
        public Gradient gradient() {
            return (g, n, dy) -> Gradients.upsampleNearest(g, n, dy, factor);
        }

        public String attributes() {
            return "factor=" + factor;
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor[] in = k.in();
            Tensor out = k.out();
            Backend backend = k.backend();
            return () -> backend.conv().upsampleNearest2d(in[0], factor, out);
        }

        /** x [N, C, H, W] → [N, C, H·factor, W·factor]. */
        @Override
        public OutputType infer(List<Value> in) {
            Value x = in.get(0);
            f32(kind(), x);
            if (x.rank() != 4 || factor < 1) {
                throw mismatch(
                        kind(), "input " + dims(x) + " must be [N, C, H, W] and factor " + factor + " at least 1");
            }
            return new OutputType(new int[] {x.size(0), x.size(1), x.size(2) * factor, x.size(3) * factor}, DType.F32);
        }
    }
}
