package org.tessera.engine.graph;

import java.util.List;
import org.tessera.engine.tensor.Tensor;

/**
 * What a {@link Node} computes, each op defined once: one record per operation holds its
 * attributes, its shape and dtype rule ({@link #infer}), its FLOP count, its operands' layout
 * needs, its binding to the backend's op families (and, where a device differs, to the device)
 * and a slot for its gradient. The records live by family: {@link SourceOps}, {@link ProductOps},
 * {@link NormalizationOps}, {@link PointwiseOps}, {@link TableOps}, {@link ConvolutionOps},
 * {@link ShapeOps}. {@link GraphBuilder}'s methods only build a record and apply it. Optional
 * operands (a bias, a norm's weight) are flagged in the record and absent from the node's inputs,
 * so a node's input list never holds nulls.
 */
public sealed interface Op
        permits SourceOps.Input,
                SourceOps.Constant,
                ProductOps.Linear,
                ProductOps.MatMul,
                ProductOps.Attention,
                NormalizationOps.LayerNorm,
                NormalizationOps.GroupNorm,
                NormalizationOps.Softmax,
                PointwiseOps.Binary,
                PointwiseOps.Scalar,
                PointwiseOps.Activate,
                PointwiseOps.Clamp,
                PointwiseOps.Modulate,
                NormalizationOps.LayerNormModulate,
                TableOps.TimestepEmbedding,
                TableOps.SinCos2d,
                TableOps.Embedding,
                ConvolutionOps.PatchEmbed,
                ConvolutionOps.Conv2d,
                ConvolutionOps.UpsampleNearest2d,
                ConvolutionOps.Im2Col,
                ConvolutionOps.Col2Im,
                ShapeOps.Reshape,
                ShapeOps.Permute,
                ShapeOps.Slice,
                ShapeOps.Unsqueeze,
                ShapeOps.Contiguous,
                ShapeOps.Expand,
                ShapeOps.Concat,
                ShapeOps.Cast,
                GradientOps.SumTo,
                GradientOps.ActivateGrad,
                GradientOps.LayerNormGrad,
                GradientOps.SoftmaxGrad,
                GradientOps.ClampGrad,
                GradientOps.SegmentMask,
                GradientOps.EmbeddingGrad,
                GradientOps.CrossEntropy,
                GradientOps.CrossEntropyGrad,
                VariationalBoundOps.VlbTerm,
                VariationalBoundOps.VlbTermGrad {

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

    /**
     * The op's shape and dtype rule: the output type for {@code inputs} (its operands, the
     * absent optional ones left out), checking every operand. Throws a
     * {@link org.tessera.engine.tensor.ShapeMismatchException} whose message starts with the op's
     * name and lists every shape involved.
     */
    default OutputType infer(List<Value> inputs) {
        throw new IllegalArgumentException(kind() + " nodes are sources; they have no rule");
    }

    /** The view a view op makes of its source. */
    default Tensor view(Tensor src) {
        throw new IllegalArgumentException(kind() + " is not a view");
    }

    /**
     * Floating-point operations of one run of {@code node}: 2·M·K·N for products (convolutions
     * as their GEMM), 4·B·H·Nq·Nk·d for attention, a small per-element count for pointwise and
     * normalisation ops; 0 (the default) for copies, views and tables.
     */
    default long flops(Node node) {
        return 0;
    }

    /** Whether operand {@code slot} must be row-major for the kernel (the layout pass copies it otherwise). */
    default boolean needsContiguous(int slot) {
        return false;
    }

    /**
     * The op's binding to the backend's op families: the step computing {@code k.node()} from
     * {@code k.in()} into {@code k.out()}. Everything the step needs (views, broadcast constants,
     * kernel objects) is prepared here, once per execution, so that running it allocates nothing.
     */
    default Runnable kernel(KernelArgs k) {
        throw new IllegalArgumentException(kind() + " nodes have no step");
    }

    /**
     * The binding on a device backend where it differs from {@link #kernel}: steps that move
     * data, read ids or keep a small constant, which on the host are plain Java. Null (the
     * default) when the host binding already goes through the backend's op families.
     */
    default Runnable deviceKernel(KernelArgs k) {
        return null;
    }

    /**
     * The op's gradient rule ({@link Autodiff}); null for ops without one yet, which a backward
     * pass through them names as an error.
     */
    default Gradient gradient() {
        return null;
    }
}
