package org.tessera.engine.reference;

import java.lang.foreign.Arena;
import org.tessera.engine.backend.Epilogue;
import org.tessera.engine.backend.GemmOps;
import org.tessera.engine.backend.OpChecks;
import org.tessera.engine.backend.PackedMatrix;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Tensor;

/** The textbook triple loop, accumulating in double: the reference every GEMM is tested against. */
public final class ScalarGemm implements GemmOps {

    /** A "packed" matrix for the reference is just the (contiguous) matrix itself. */
    private record Plain(Tensor b) implements PackedMatrix {
        @Override
        public int rows() {
            return b.size(0);
        }

        @Override
        public int cols() {
            return b.size(1);
        }
    }

    @Override
    public void gemm(Tensor a, Tensor b, Tensor c, float alpha, float beta, Epilogue epilogue) {
        OpChecks.gemm(a, b, c);
        OpChecks.epilogue(epilogue, c.size(1));
        int m = a.size(0);
        int k = a.size(1);
        int n = b.size(1);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double acc = 0;
                for (int p = 0; p < k; p++) {
                    acc += (double) a.getFloat(i, p) * b.getFloat(p, j);
                }
                double v = alpha * acc;
                if (beta != 0f) {
                    v += beta * c.getFloat(i, j);
                }
                if (epilogue.bias() != null) {
                    v += epilogue.bias().getFloat(j);
                }
                c.setFloat((float) epilogue.activation().apply(v), i, j);
            }
        }
    }

    @Override
    public PackedMatrix pack(Tensor b, Arena arena) {
        OpChecks.rank("pack", "B", b, 2);
        return new Plain(b.contiguous(arena));
    }

    @Override
    public void gemm(Tensor a, PackedMatrix b, Tensor c, float alpha, float beta, Epilogue epilogue) {
        if (!(b instanceof Plain plain)) {
            throw new ShapeMismatchException("gemm: B was packed by another backend");
        }
        gemm(a, plain.b(), c, alpha, beta, epilogue);
    }
}
