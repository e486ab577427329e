package org.tessera.engine.graph;

import static org.tessera.engine.graph.ShapeRules.dims;
import static org.tessera.engine.graph.ShapeRules.mismatch;

import java.util.Arrays;
import java.util.List;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.backend.EmbeddingGather;
import org.tessera.engine.backend.MemoryOps;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/** Tables: timestep and position embeddings, and gathers by id. Each record is one op's whole definition; see {@link Op}. */
public final class TableOps {
    private TableOps() {}

    /** Sinusoidal timestep embedding of t [B] → [B, dim]. */
    public record TimestepEmbedding(int dim, double maxPeriod) implements Op {
        public String kind() {
            return "timestepEmbedding";
        }

        public String attributes() {
            return "dim=" + dim + " maxPeriod=" + maxPeriod;
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor[] in = k.in();
            Tensor out = k.out();
            Backend backend = k.backend();
            return () -> backend.tables().timestepEmbedding(in[0], maxPeriod, out);
        }

        /** t [B] of any numeric dtype → [B, dim] f32. */
        @Override
        public OutputType infer(List<Value> in) {
            Value t = in.get(0);
            if (t.rank() != 1 || dim <= 0) {
                throw mismatch(kind(), "t " + dims(t) + " must be [B] and dim " + dim + " positive");
            }
            return new OutputType(new int[] {t.size(0), dim}, DType.F32);
        }
    }

    /** DiT's fixed 2-D sin-cos table [gridH·gridW, dim]; no inputs. */
    public record SinCos2d(int gridH, int gridW, int dim) implements Op {
        public String kind() {
            return "sinCos2d";
        }

        public String attributes() {
            return gridH + "x" + gridW + " dim=" + dim;
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            Tensor out = k.out();
            Backend backend = k.backend();
            return () -> backend.tables().sinCos2d(gridH, gridW, out);
        }

        /** [gridH·gridW, dim], dim divisible by 4. */
        @Override
        public OutputType infer(List<Value> in) {
            if (gridH <= 0 || gridW <= 0 || dim <= 0 || dim % 4 != 0) {
                throw mismatch(
                        kind(),
                        "grid " + gridH + "x" + gridW + " and dim " + dim + " must be positive, dim divisible by 4");
            }
            return new OutputType(new int[] {gridH * gridW, dim}, DType.F32);
        }
    }

    /** Row gather: inputs table [V, D], integer ids [B...] → [B..., D]. */
    public record Embedding() implements Op {
        public String kind() {
            return "embedding";
        }

        @Override
        public Gradient gradient() {
            return Gradients::embedding;
        }

        @Override
        public boolean needsContiguous(int slot) {
            return true;
        }

        @Override
        public Runnable kernel(KernelArgs k) {
            EmbeddingGather g = new EmbeddingGather(k.in()[0], k.in()[1], k.out());
            return g::run;
        }

        @Override
        public Runnable deviceKernel(KernelArgs k) {
            Tensor[] in = k.in();
            Tensor out = k.out();
            MemoryOps memory = k.backend().memory();
            return () -> memory.gather(in[0], in[1], out);
        }

        /** table [V, D], integer ids [B...] → [B..., D] in the table's dtype. */
        @Override
        public OutputType infer(List<Value> in) {
            Value table = in.get(0);
            Value ids = in.get(1);
            if (table.rank() != 2 || ids.dtype().isFloatingPoint()) {
                throw mismatch(
                        kind(),
                        "table " + table.dtype().shortName() + dims(table) + " must be [V, D] and ids "
                                + ids.dtype().shortName() + dims(ids) + " integer");
            }
            int[] shape = Arrays.copyOf(ids.shape(), ids.rank() + 1);
            shape[ids.rank()] = table.size(1);
            return new OutputType(shape, table.dtype());
        }
    }
}
