package org.tessera.engine.graph;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.tessera.engine.backend.Activation;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * The gradient rules the op records point to ({@link Op#gradient}): each builds, from a node and
 * the gradient g of the loss with respect to its output, the nodes that give the gradients with
 * respect to its inputs. Forward values a rule needs are the node's own inputs and output, kept
 * alive by the memory plan, or recomputed when that is cheaper than keeping them (the
 * pre-activation of a fused linear, the normalised x̂).
 */
final class Gradients {
    private Gradients() {}

    /** {@code g} summed down to {@code shape} (the adjoint of broadcasting to g's shape), or g itself. */
    static Value unbroadcast(GraphBuilder graph, Value g, int[] shape) {
        return Arrays.equals(g.shape(), shape) ? g : graph.apply(new GradientOps.SumTo(shape), List.of(g));
    }

    /** {@code a ∘ b}, broadcasting: each operand's gradient summed back to its shape. */
    static List<Value> binary(GraphBuilder graph, Node n, Value g, PointwiseOps.Arithmetic op) {
        Value a = n.input(0);
        Value b = n.input(1);
        return switch (op) {
            case ADD -> List.of(unbroadcast(graph, g, a.shape()), unbroadcast(graph, g, b.shape()));
            case SUB ->
                List.of(unbroadcast(graph, g, a.shape()), unbroadcast(graph, graph.mulScalar(g, -1f), b.shape()));
            case MUL ->
                List.of(unbroadcast(graph, graph.mul(g, b), a.shape()), unbroadcast(graph, graph.mul(g, a), b.shape()));
            // d(a/b)/da = 1/b; d(a/b)/db = −a/b² = −out/b
            case DIV ->
                List.of(
                        unbroadcast(graph, graph.div(g, b), a.shape()),
                        unbroadcast(graph, graph.mulScalar(graph.div(graph.mul(g, n.output()), b), -1f), b.shape()));
        };
    }

    /** {@code x ∘ c} for a constant c. */
    static List<Value> scalar(GraphBuilder graph, Node n, Value g, PointwiseOps.Arithmetic op, float c) {
        return List.of(
                switch (op) {
                    case ADD, SUB -> g;
                    case MUL -> graph.mulScalar(g, c);
                    case DIV -> graph.mulScalar(g, 1f / c);
                });
    }

    /** {@code act(x)}: g·act'(x). */
    static List<Value> activate(GraphBuilder graph, Node n, Value g, Activation act) {
        return List.of(act == Activation.NONE ? g : activationGrad(graph, act, n.input(0), g));
    }

    static Value activationGrad(GraphBuilder graph, Activation act, Value pre, Value g) {
        return graph.apply(new GradientOps.ActivateGrad(act), List.of(pre, g));
    }

    /**
     * {@code y = act(x·Wᵀ + b)}, x [..., in], W [out, in]: with gp = g·act'(pre) (pre recomputed,
     * not kept), dx = gp·W, dW = gpᵀ·x over all rows, db = Σ_rows gp.
     */
    static List<Value> linear(GraphBuilder graph, Node n, Value g, Activation act, boolean hasBias) {
        Value x = n.input(0);
        Value w = n.input(1);
        Value gp = g;
        if (act != Activation.NONE) {
            Value pre = graph.linear(x, w, hasBias ? n.input(2) : null, Activation.NONE);
            gp = activationGrad(graph, act, pre, g);
        }
        int out = w.size(0);
        int in = w.size(1);
        int rows = (int) (x.numel() / in);
        // dx = gp·W = linear(gp, Wᵀ): linear multiplies by its weight transposed
        Value dx = graph.linear(gp, graph.contiguous(graph.permute(w, 1, 0)), null, Activation.NONE);
        Value gp2 = graph.reshape(graph.contiguous(gp), rows, out);
        Value x2 = graph.reshape(graph.contiguous(x), rows, in);
        Value dw = graph.matmul(graph.permute(gp2, 1, 0), x2); // [out, rows]·[rows, in]
        List<Value> grads = new ArrayList<>(List.of(dx, dw));
        if (hasBias) {
            grads.add(graph.apply(new GradientOps.SumTo(new int[] {out}), List.of(gp)));
        }
        return grads;
    }

    /** {@code C = A·B} (2-D or batched 3-D): dA = g·Bᵀ, dB = Aᵀ·g. */
    static List<Value> matmul(GraphBuilder graph, Node n, Value g) {
        Value a = n.input(0);
        Value b = n.input(1);
        int r = a.rank();
        int[] swap = r == 2 ? new int[] {1, 0} : new int[] {0, 2, 1};
        return List.of(graph.matmul(g, graph.permute(b, swap)), graph.matmul(graph.permute(a, swap), g));
    }

    /**
     * Attention softmax(s·q·kᵀ)·v over q [B, H, Nq, d], k, v [B, H, Nk, d], recomputing the
     * probabilities P (the fused forward keeps none): dv = Pᵀ·g, dP = g·vᵀ,
     * dS = P ⊙ (dP − Σ dP⊙P), dq = s·dS·k, dk = s·dSᵀ·q. The Nq×Nk matrix is materialised per
     * head, as training small models can afford. An additive mask is added to the scores before
     * the softmax (and gets no gradient); segment ids become one ({@link GradientOps.SegmentMask}).
     */
    static List<Value> attention(GraphBuilder graph, Node n, Value g, float scale, boolean segmented, boolean masked) {
        Value q = n.input(0);
        Value k = n.input(1);
        Value v = n.input(2);
        int b = q.size(0);
        int h = q.size(1);
        int nq = q.size(2);
        int nk = k.size(2);
        int d = q.size(3);
        int[] swap = {0, 2, 1};
        Value q3 = graph.reshape(graph.contiguous(q), b * h, nq, d);
        Value k3 = graph.reshape(graph.contiguous(k), b * h, nk, d);
        Value v3 = graph.reshape(graph.contiguous(v), b * h, nk, d);
        Value g3 = graph.reshape(graph.contiguous(g), b * h, nq, d);
        Value scores = graph.mulScalar(graph.matmul(q3, graph.permute(k3, swap)), scale);
        if (masked || segmented) { // an additive mask: a constant of the scores, with no gradient of its own
            Value mask = masked ? n.input(3) : graph.apply(new GradientOps.SegmentMask(), List.of(n.input(3)));
            Value full = graph.expand(mask, b, h, nq, nk);
            scores = graph.add(scores, graph.reshape(graph.contiguous(full), b * h, nq, nk));
        }
        Value p = graph.softmax(scores);
        Value dv = graph.matmul(graph.permute(p, swap), g3);
        Value dp = graph.matmul(g3, graph.permute(v3, swap));
        Value ds = graph.mulScalar(graph.apply(new GradientOps.SoftmaxGrad(), List.of(p, dp)), scale);
        Value dq = graph.matmul(ds, k3);
        Value dk = graph.matmul(graph.permute(ds, swap), q3);
        List<Value> grads = new ArrayList<>(
                List.of(graph.reshape(dq, q.shape()), graph.reshape(dk, k.shape()), graph.reshape(dv, v.shape())));
        if (masked || segmented) {
            grads.add(null);
        }
        return grads;
    }

    /** {@code table[ids]}: the table's gradient is g scattered back to the rows the ids picked. */
    static List<Value> embedding(GraphBuilder graph, Node n, Value g) {
        Value table = n.input(0);
        Value ids = n.input(1);
        return java.util.Arrays.asList(
                graph.apply(new GradientOps.EmbeddingGrad(table.size(0)), List.of(ids, graph.contiguous(g))), null);
    }

    /**
     * A patch embedding over 2 or 3 spatial dims — x [N, C, H, W] with weight [D, C, p, p], or a
     * video's x [N, C, T, H, W] with tubelets [D, C, pt, ph, pw] — is a linear map of the patches
     * (each block in (C, …) order), so its gradient is that of a linear — dpatches = g·W,
     * dW = gᵀ·patches, db = Σ g — with the patches cut from x and dpatches put back by the same
     * rearrangement and its inverse.
     */
    static List<Value> patchEmbed(GraphBuilder graph, Node n, Value g, int spatialDims, boolean hasBias) {
        Value x = n.input(0);
        Value w = n.input(1);
        int batch = x.size(0);
        int c = x.size(1);
        int d = w.size(0);
        // x as [N, C, g1, p1, g2, p2, …]: each spatial dim split into (grid, patch)
        int[] split = new int[2 + 2 * spatialDims];
        split[0] = batch;
        split[1] = c;
        int tokens = 1;
        int patch = c;
        for (int i = 0; i < spatialDims; i++) {
            int p = w.size(2 + i);
            split[2 + 2 * i] = x.size(2 + i) / p;
            split[3 + 2 * i] = p;
            tokens *= x.size(2 + i) / p;
            patch *= p;
        }
        // to [N, g1, g2, …, C, p1, p2, …] and back
        int[] toPatches = new int[split.length];
        int[] fromPatches = new int[split.length];
        toPatches[0] = 0;
        toPatches[1 + spatialDims] = 1;
        for (int i = 0; i < spatialDims; i++) {
            toPatches[1 + i] = 2 + 2 * i;
            toPatches[2 + spatialDims + i] = 3 + 2 * i;
        }
        for (int i = 0; i < split.length; i++) {
            fromPatches[toPatches[i]] = i;
        }
        int[] patchShape = new int[split.length];
        for (int i = 0; i < split.length; i++) {
            patchShape[i] = split[toPatches[i]];
        }
        Value patches = graph.reshape(
                graph.contiguous(graph.permute(graph.reshape(graph.contiguous(x), split), toPatches)),
                batch * tokens,
                patch);
        Value wm = graph.reshape(graph.contiguous(w), d, patch);
        Value g2 = graph.reshape(graph.contiguous(g), batch * tokens, d);
        Value dpatches = graph.matmul(g2, wm); // [N·T, D]·[D, C·p…]
        Value dx = graph.reshape(
                graph.contiguous(graph.permute(graph.reshape(dpatches, patchShape), fromPatches)), x.shape());
        Value dw = graph.reshape(graph.matmul(graph.permute(g2, 1, 0), patches), w.shape());
        List<Value> grads = new ArrayList<>(List.of(dx, dw));
        if (hasBias) {
            grads.add(graph.apply(new GradientOps.SumTo(new int[] {d}), List.of(g)));
        }
        return grads;
    }

    /**
     * A 2-D convolution is a product of x's patches with the kernel, y = im2col(x)·W[O, C·kh·kw]ᵀ:
     * dW = gᵀ·patches, dpatches = g·W, dx = col2im(dpatches) (each pixel's share of every patch it
     * is in), db = Σ g over all but the channels.
     */
    static List<Value> conv2d(GraphBuilder graph, Node n, Value g, int stride, int padding, boolean hasBias) {
        Value x = n.input(0);
        Value w = n.input(1);
        int batch = x.size(0);
        int o = w.size(0);
        int kh = w.size(2);
        int kw = w.size(3);
        int positions = g.size(2) * g.size(3);
        int row = x.size(1) * kh * kw;
        Value cols = graph.apply(new ConvolutionOps.Im2Col(kh, kw, stride, padding), List.of(x));
        Value patches = graph.reshape(cols, batch * positions, row);
        // g [N, O, Ho, Wo] as rows of positions: [N·Ho·Wo, O]
        Value g2 = graph.reshape(graph.contiguous(graph.permute(g, 0, 2, 3, 1)), batch * positions, o);
        Value wm = graph.reshape(graph.contiguous(w), o, row);
        Value dw = graph.reshape(graph.matmul(graph.permute(g2, 1, 0), patches), w.shape());
        Value dcols = graph.reshape(graph.matmul(g2, wm), batch, positions, row);
        Value dx = graph.apply(new ConvolutionOps.Col2Im(x.shape(), kh, kw, stride, padding), List.of(dcols));
        List<Value> grads = new ArrayList<>(List.of(dx, dw));
        if (hasBias) {
            grads.add(graph.reshape(graph.apply(new GradientOps.SumTo(new int[] {o, 1, 1}), List.of(g)), o));
        }
        return grads;
    }

    /** Tensors joined along a dim: each gets its slice of g. */
    static List<Value> concat(GraphBuilder graph, Node n, Value g, int dim) {
        List<Value> grads = new ArrayList<>();
        int at = 0;
        for (Value x : n.inputs()) {
            grads.add(graph.slice(g, dim, at, at + x.size(dim)));
            at += x.size(dim);
        }
        return grads;
    }

    /**
     * Nearest-neighbour upsampling by f: each input pixel was copied to an f×f block, so its
     * gradient is the block's sum — g as [N, C, H, f, W, f] summed over the two f axes.
     */
    static List<Value> upsampleNearest(GraphBuilder graph, Node n, Value g, int factor) {
        int[] x = n.input(0).shape();
        Value blocks = graph.reshape(graph.contiguous(g), x[0], x[1], x[2], factor, x[3], factor);
        Value sums = graph.apply(new GradientOps.SumTo(new int[] {x[0], x[1], x[2], 1, x[3], 1}), List.of(blocks));
        return List.of(graph.reshape(sums, x));
    }

    /** A slice of x along a dim: g placed between zeros where the rest of x was. */
    static List<Value> slice(GraphBuilder graph, Node n, Value g, int dim, int start, int end) {
        Value x = n.input(0);
        List<Value> parts = new ArrayList<>();
        if (start > 0) {
            int[] shape = x.shape();
            shape[dim] = start;
            parts.add(graph.constant("grad.zeros", Tensor.zeros(DType.F32, shape)));
        }
        parts.add(g);
        if (end < x.size(dim)) {
            int[] shape = x.shape();
            shape[dim] = x.size(dim) - end;
            parts.add(graph.constant("grad.zeros", Tensor.zeros(DType.F32, shape)));
        }
        return List.of(parts.size() == 1 ? g : graph.concat(parts, dim));
    }

    /** {@code softmax(x)} over the last dimension, from its output y: y ⊙ (g − Σ g⊙y). */
    static List<Value> softmax(GraphBuilder graph, Node n, Value g) {
        return List.of(graph.apply(new GradientOps.SoftmaxGrad(), List.of(n.output(), g)));
    }

    /**
     * Layer norm over the last dimension, x̂·w + b: gy = g·w reaches x through
     * {@link GradientOps.LayerNormGrad}; dw = Σ_rows g⊙x̂ (x̂ recomputed), db = Σ_rows g.
     */
    static List<Value> layerNorm(GraphBuilder graph, Node n, Value g, float eps, boolean hasWeight, boolean hasBias) {
        Value x = n.input(0);
        int c = x.size(-1);
        Value gy = hasWeight ? graph.mul(g, n.input(1)) : g;
        List<Value> grads = new ArrayList<>();
        grads.add(graph.apply(new GradientOps.LayerNormGrad(eps), List.of(x, gy)));
        if (hasWeight) {
            Value xhat = graph.layerNorm(x, null, null, eps);
            grads.add(graph.apply(new GradientOps.SumTo(new int[] {c}), List.of(graph.mul(g, xhat))));
        }
        if (hasBias) {
            grads.add(graph.apply(new GradientOps.SumTo(new int[] {c}), List.of(g)));
        }
        return grads;
    }

    /**
     * Group norm, x [N, C, …] normalised per sample over each group of C/G channels and all
     * positions, then w and b per channel: the normalisation is a layer norm of x viewed as
     * [N, G, C/G·…], so dx is {@link GradientOps.LayerNormGrad} on that view of x and g·w;
     * dw = Σ g⊙x̂ and db = Σ g over everything but the channels.
     */
    static List<Value> groupNorm(
            GraphBuilder graph, Node n, Value g, int groups, float eps, boolean hasWeight, boolean hasBias) {
        Value x = n.input(0);
        int[] shape = x.shape();
        int batch = shape[0];
        int c = shape[1];
        int m = (int) (x.numel() / batch / groups);
        int[] perChannel = new int[shape.length - 1]; // [C, 1, …]: broadcasts along the positions
        Arrays.fill(perChannel, 1);
        perChannel[0] = c;
        Value gy = hasWeight ? graph.mul(g, graph.reshape(n.input(1), perChannel)) : g;
        Value xr = graph.reshape(graph.contiguous(x), batch, groups, m);
        Value dx = graph.apply(
                new GradientOps.LayerNormGrad(eps), List.of(xr, graph.reshape(graph.contiguous(gy), batch, groups, m)));
        List<Value> grads = new ArrayList<>();
        grads.add(graph.reshape(dx, shape));
        if (hasWeight) {
            Value xhat = graph.reshape(graph.layerNorm(xr, null, null, eps), shape);
            grads.add(graph.reshape(graph.apply(new GradientOps.SumTo(perChannel), List.of(graph.mul(g, xhat))), c));
        }
        if (hasBias) {
            grads.add(graph.reshape(graph.apply(new GradientOps.SumTo(perChannel), List.of(g)), c));
        }
        return grads;
    }

    /** {@code x·(1 + scale) + shift}: dx = g·(1 + scale), dshift = Σ g, dscale = Σ g⊙x (to their shapes). */
    static List<Value> modulate(GraphBuilder graph, Node n, Value g) {
        Value x = n.input(0);
        Value shift = n.input(1);
        Value scale = n.input(2);
        Value dx = graph.add(g, graph.mul(g, scale));
        return List.of(dx, unbroadcast(graph, g, shift.shape()), unbroadcast(graph, graph.mul(g, x), scale.shape()));
    }

    // ---------------------------------------------------------------- views and copies

    static List<Value> reshape(GraphBuilder graph, Node n, Value g) {
        return List.of(graph.reshape(graph.contiguous(g), n.input(0).shape()));
    }

    static List<Value> permute(GraphBuilder graph, Node n, Value g, int[] dims) {
        int[] inverse = new int[dims.length];
        for (int i = 0; i < dims.length; i++) {
            inverse[dims[i]] = i;
        }
        return List.of(graph.permute(g, inverse));
    }

    static List<Value> sameShape(GraphBuilder graph, Node n, Value g) {
        return List.of(g);
    }

    static List<Value> expand(GraphBuilder graph, Node n, Value g) {
        return List.of(unbroadcast(graph, g, n.input(0).shape()));
    }

    /** The adjoint of {@link GradientOps.SumTo}: g broadcast back to x's shape. */
    static List<Value> sumTo(GraphBuilder graph, Node n, Value g) {
        int[] xs = n.input(0).shape();
        int[] padded = new int[xs.length];
        Arrays.fill(padded, 1);
        int[] gs = g.shape();
        System.arraycopy(gs, 0, padded, xs.length - gs.length, gs.length);
        return List.of(graph.expand(graph.reshape(graph.contiguous(g), padded), xs));
    }

    /** A tensor of ones shaped like {@code v}, the seed of a backward pass. */
    static Tensor ones(Value v) {
        float[] data = new float[(int) v.numel()];
        Arrays.fill(data, 1f);
        return Tensor.of(data, v.shape());
    }

    /** A tensor of zeros shaped like {@code v}: the gradient of an input the loss does not reach. */
    static Tensor zeros(Value v) {
        return Tensor.zeros(DType.F32, v.shape());
    }
}
