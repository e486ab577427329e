package org.tessera.engine.graph;

import java.util.Arrays;
import java.util.Locale;
import org.tessera.engine.backend.Activation;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Shapes;
import org.tessera.engine.tensor.Tensor;

/**
 * What a {@link Node} computes: one record per operation, holding its attributes. Optional
 * operands (a bias, a norm's weight) are flagged here and simply absent from the node's inputs,
 * so a node's input list never holds nulls.
 */
public sealed interface Op {

    /** The op's name in messages, profiles and dumps, e.g. {@code linear}. */
    String kind();

    /** Attributes for {@link Graph#describe()}, e.g. {@code act=GELU_TANH}; empty when none. */
    default String attributes() {
        return "";
    }

    /** True for ops whose output is a view of their first input (no kernel runs). */
    default boolean isView() {
        return false;
    }

    // ---------------------------------------------------------------- sources

    /** A graph input, copied into the execution's buffers by {@link Execution#run}. */
    record Input(String name) implements Op {
        public String kind() {
            return "input";
        }

        public String attributes() {
            return "\"" + name + "\"";
        }
    }

    /** A constant tensor: a weight, a table, or the result of constant folding. */
    record Constant(String name, Tensor value) implements Op {
        public String kind() {
            return "constant";
        }

        public String attributes() {
            return "\"" + name + "\"";
        }
    }

    // ---------------------------------------------------------------- compute

    /** {@code act(x·Wᵀ + bias)}: inputs x, weight [out, in], then bias when {@code hasBias}. */
    record Linear(Activation activation, boolean hasBias) implements Op {
        public String kind() {
            return "linear";
        }

        public String attributes() {
            return activation == Activation.NONE ? "" : "act=" + activation;
        }
    }

    /** [M, K]·[K, N] or batched [B, M, K]·[B, K, N]. */
    record MatMul() implements Op {
        public String kind() {
            return "matmul";
        }
    }

    /**
     * softmax(scale·QKᵀ + mask)·V; inputs q, k, v, then integer segment ids [B, N] when
     * {@code segmented}, or an additive f32 mask broadcastable to [B, H, Nq, Nk] when
     * {@code masked} (never both).
     */
    record Attention(float scale, boolean segmented, boolean masked) implements Op {
        public Attention(float scale, boolean segmented) {
            this(scale, segmented, false);
        }

        public String kind() {
            return "attention";
        }

        public String attributes() {
            return "scale=" + scale + (segmented ? " segmented" : "") + (masked ? " masked" : "");
        }
    }

    /** LayerNorm over the last dim; inputs x, then weight and bias when present. */
    record LayerNorm(float eps, boolean hasWeight, boolean hasBias) implements Op {
        public String kind() {
            return "layerNorm";
        }

        public String attributes() {
            return "eps=" + eps + (hasWeight ? " weight" : "") + (hasBias ? " bias" : "");
        }
    }

    /** GroupNorm over [N, C, *]; inputs x, then weight and bias when present. */
    record GroupNorm(int groups, float eps, boolean hasWeight, boolean hasBias) implements Op {
        public String kind() {
            return "groupNorm";
        }

        public String attributes() {
            return "groups=" + groups + " eps=" + eps;
        }
    }

    /** Softmax over the last dim. */
    record Softmax() implements Op {
        public String kind() {
            return "softmax";
        }
    }

    /** The four broadcasting arithmetic ops. */
    enum Arithmetic {
        ADD,
        SUB,
        MUL,
        DIV
    }

    /** {@code a ∘ b} with NumPy broadcasting. */
    record Binary(Arithmetic arithmetic) implements Op {
        public String kind() {
            return arithmetic.name().toLowerCase(Locale.ROOT);
        }
    }

    /** {@code x + s} or {@code x · s} (only ADD and MUL). */
    record Scalar(Arithmetic arithmetic, float value) implements Op {
        public String kind() {
            return arithmetic.name().toLowerCase(Locale.ROOT) + "Scalar";
        }

        public String attributes() {
            return Float.toString(value);
        }
    }

    /** A pointwise activation (GELU-tanh or SiLU). */
    record Activate(Activation activation) implements Op {
        public String kind() {
            return switch (activation) {
                case GELU_TANH -> "gelu";
                case SILU -> "silu";
                case NONE -> "identity";
            };
        }
    }

    /** adaLN modulation {@code x·(1 + scale) + shift}; inputs x, shift, scale. */
    record Modulate() implements Op {
        public String kind() {
            return "modulate";
        }
    }

    /** Fused affine-free LayerNorm followed by modulation; inputs x, shift, scale. */
    record LayerNormModulate(float eps) implements Op {
        public String kind() {
            return "layerNormModulate";
        }

        public String attributes() {
            return "eps=" + eps;
        }
    }

    /** Sinusoidal timestep embedding of t [B] → [B, dim]. */
    record TimestepEmbedding(int dim, double maxPeriod) implements Op {
        public String kind() {
            return "timestepEmbedding";
        }

        public String attributes() {
            return "dim=" + dim + " maxPeriod=" + maxPeriod;
        }
    }

    /** DiT's fixed 2-D sin-cos table [gridH·gridW, dim]; no inputs. */
    record SinCos2d(int gridH, int gridW, int dim) implements Op {
        public String kind() {
            return "sinCos2d";
        }

        public String attributes() {
            return gridH + "x" + gridW + " dim=" + dim;
        }
    }

    /** Row gather: inputs table [V, D], integer ids [B...] → [B..., D]. */
    record Embedding() implements Op {
        public String kind() {
            return "embedding";
        }
    }

    /** Patch embedding over 2 or 3 spatial dims; inputs x, weight, then bias when present. */
    record PatchEmbed(int spatialDims, boolean hasBias) implements Op {
        public String kind() {
            return "patchEmbed" + spatialDims + "d";
        }
    }

    /** 2-D convolution; inputs x, weight, then bias when present. */
    record Conv2d(int stride, int padding, boolean hasBias) implements Op {
        public String kind() {
            return "conv2d";
        }

        public String attributes() {
            return "stride=" + stride + " padding=" + padding;
        }
    }

    /** Nearest-neighbour 2-D upsampling. */
    record UpsampleNearest2d(int factor) implements Op {
        public String kind() {
            return "upsampleNearest2d";
        }

        public String attributes() {
            return "factor=" + factor;
        }
    }

    // ---------------------------------------------------------------- layout

    /**
     * A new shape over the same elements. The planner keeps it a view when the source's strides
     * allow (always for contiguous sources) and otherwise inserts a {@link Contiguous} copy first.
     */
    record Reshape(int[] shape) implements Op {
        public String kind() {
            return "reshape";
        }

        public String attributes() {
            return Shapes.toString(shape);
        }

        public boolean isView() {
            return true;
        }
    }

    /** A permutation of the dims (always a view). */
    record Permute(int[] dims) implements Op {
        public String kind() {
            return "permute";
        }

        public String attributes() {
            return Arrays.toString(dims);
        }

        public boolean isView() {
            return true;
        }
    }

    /** Elements [start, end) of {@code dim} (always a view). */
    record Slice(int dim, int start, int end) implements Op {
        public String kind() {
            return "slice";
        }

        public String attributes() {
            return "dim=" + dim + " [" + start + ":" + end + "]";
        }

        public boolean isView() {
            return true;
        }
    }

    /** A new dim of size 1 (always a view). */
    record Unsqueeze(int dim) implements Op {
        public String kind() {
            return "unsqueeze";
        }

        public String attributes() {
            return "dim=" + dim;
        }

        public boolean isView() {
            return true;
        }
    }

    /** A row-major copy; the planner turns it into a view when the source already is row-major. */
    record Contiguous() implements Op {
        public String kind() {
            return "contiguous";
        }
    }

    /** A broadcast to {@code shape}, materialised. */
    record Expand(int[] shape) implements Op {
        public String kind() {
            return "expand";
        }

        public String attributes() {
            return Shapes.toString(shape);
        }
    }

    /** Concatenation of all inputs along {@code dim}. */
    record Concat(int dim) implements Op {
        public String kind() {
            return "concat";
        }

        public String attributes() {
            return "dim=" + dim;
        }
    }

    /** A converting copy to {@code dtype}. */
    record Cast(DType dtype) implements Op {
        public String kind() {
            return "cast";
        }

        public String attributes() {
            return dtype.shortName();
        }
    }
}
