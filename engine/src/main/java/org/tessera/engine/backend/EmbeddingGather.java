package org.tessera.engine.backend;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Shapes;
import org.tessera.engine.tensor.Tensor;

/**
 * A prepared row gather {@code out[p, :] = table[ids[p], :]}, the embedding lookup of class
 * labels and tokens. Table, ids and out are contiguous; each row moves with one bulk copy. An id
 * outside [0, V) throws {@link IndexOutOfBoundsException} before anything is written for it.
 */
public final class EmbeddingGather {
    private final MemorySegment table;
    private final long tableBase;
    private final int vocabulary;
    private final long rowBytes;
    private final MemorySegment ids;
    private final long idsBase;
    private final boolean wideIds;
    private final int count;
    private final MemorySegment out;
    private final long outBase;

    public EmbeddingGather(Tensor table, Tensor ids, Tensor out) {
        table.requireHost("embedding");
        ids.requireHost("embedding");
        out.requireHost("embedding");
        if (!table.isContiguous()
                || !ids.isContiguous()
                || !out.isContiguous()
                || table.rank() != 2
                || out.numel() != ids.numel() * table.size(1)
                || (ids.dtype() != DType.I64 && ids.dtype() != DType.I32)) {
            throw new ShapeMismatchException("embedding: table " + Shapes.toString(table.shape()) + ", ids "
                    + ids.dtype().shortName() + Shapes.toString(ids.shape()) + " and output "
                    + Shapes.toString(out.shape()) + " must be contiguous [V, D], integer [B...] and [B..., D]");
        }
        this.table = table.storage();
        this.tableBase = table.byteOffset();
        this.vocabulary = table.size(0);
        this.rowBytes = (long) table.size(1) * table.dtype().byteSize();
        this.ids = ids.storage();
        this.idsBase = ids.byteOffset();
        this.wideIds = ids.dtype() == DType.I64;
        this.count = Math.toIntExact(ids.numel());
        this.out = out.storage();
        this.outBase = out.byteOffset();
    }

    public void run() {
        for (int p = 0; p < count; p++) {
            long id = wideIds
                    ? ids.get(ValueLayout.JAVA_LONG_UNALIGNED, idsBase + 8L * p)
                    : ids.get(ValueLayout.JAVA_INT_UNALIGNED, idsBase + 4L * p);
            if (id < 0 || id >= vocabulary) {
                throw new IndexOutOfBoundsException("embedding: id " + id + " at position " + p
                        + " is out of range for a table of " + vocabulary + " rows");
            }
            MemorySegment.copy(table, tableBase + id * rowBytes, out, outBase + p * rowBytes, rowBytes);
        }
    }
}
