package org.tessera.engine.backend;

import java.lang.foreign.Arena;
import org.tessera.engine.tensor.Tensor;

/**
 * Matrix products. All operands are F32. A and B may be any 2-D views, so a transposed operand
 * is just {@code w.t()}; C's rows must be contiguous (column stride 1).
 */
public interface GemmOps {

    /**
     * {@code C = epilogue(alpha·A·B + beta·C)} with A [M, K], B [K, N], C [M, N]. When
     * {@code beta == 0}, C is not read (it may hold garbage or NaN).
     *
     * @throws org.tessera.engine.tensor.ShapeMismatchException naming the shapes when they do not fit
     */
    void gemm(Tensor a, Tensor b, Tensor c, float alpha, float beta, Epilogue epilogue);

    /** Packs a constant B [K, N] once, into storage owned by {@code arena}. */
    PackedMatrix pack(Tensor b, Arena arena);

    /** {@link #gemm(Tensor, Tensor, Tensor, float, float, Epilogue)} with a pre-packed B. */
    void gemm(Tensor a, PackedMatrix b, Tensor c, float alpha, float beta, Epilogue epilogue);

    /** {@code C = A·B}. */
    default void matmul(Tensor a, Tensor b, Tensor c) {
        gemm(a, b, c, 1f, 0f, Epilogue.NONE);
    }

    /**
     * Strided-batched GEMM: {@code C[i] = alpha·A[i]·B[i] + beta·C[i]} over the leading
     * dimension of 3-D views A [batch, M, K], B [batch, K, N], C [batch, M, N]. A batch stride
     * of 0 (an expanded view) shares one operand across the batch.
     */
    default void batchedGemm(Tensor a, Tensor b, Tensor c, float alpha, float beta) {
        OpChecks.batchedGemm(a, b, c);
        for (int i = 0; i < a.size(0); i++) {
            gemm(a.select(0, i), b.select(0, i), c.select(0, i), alpha, beta, Epilogue.NONE);
        }
    }

    /**
     * {@link #batchedGemm} bound to its tensors, for a plan that runs it again and again on the same
     * buffers: the default cuts the per-batch views once, so that a run allocates nothing.
     */
    default Runnable boundBatchedGemm(Tensor a, Tensor b, Tensor c, float alpha, float beta) {
        OpChecks.batchedGemm(a, b, c);
        int n = a.size(0);
        Tensor[] as = new Tensor[n];
        Tensor[] bs = new Tensor[n];
        Tensor[] cs = new Tensor[n];
        for (int i = 0; i < n; i++) {
            as[i] = a.select(0, i);
            bs[i] = b.select(0, i);
            cs[i] = c.select(0, i);
        }
        return () -> {
            for (int i = 0; i < n; i++) {
                gemm(as[i], bs[i], cs[i], alpha, beta, Epilogue.NONE);
            }
        };
    }

    /**
     * A PyTorch linear layer, {@code out = act(x·Wᵀ + bias)}: x [..., in], weight [out, in]
     * (PyTorch's layout), out [..., out]. x and out must be contiguous.
     */
    default void linear(Tensor x, Tensor weight, Tensor bias, Activation activation, Tensor out) {
        OpChecks.linear(x, weight.size(1), weight.size(0), out);
        gemm(OpChecks.rows(x), weight.t(), OpChecks.rows(out), 1f, 0f, Epilogue.of(bias, activation));
    }

    /** {@link #linear(Tensor, Tensor, Tensor, Activation, Tensor)} with a weight packed by {@code pack(weight.t())}. */
    default void linear(Tensor x, PackedMatrix weightT, Tensor bias, Activation activation, Tensor out) {
        OpChecks.linear(x, weightT.rows(), weightT.cols(), out);
        gemm(OpChecks.rows(x), weightT, OpChecks.rows(out), 1f, 0f, Epilogue.of(bias, activation));
    }
}
