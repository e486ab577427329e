package org.tessera.engine.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

class TensorTest {

    private static Tensor iota(int... shape) {
        float[] v = new float[(int) Shapes.numel(shape)];
        for (int i = 0; i < v.length; i++) {
            v[i] = i;
        }
        return Tensor.of(v, shape);
    }

    @Test
    void reshapeOfContiguousIsAView() {
        Tensor t = iota(2, 3, 4);
        Tensor r = t.reshape(6, -1);
        assertArrayEquals(new int[] {6, 4}, r.shape());
        assertSame(t.storage(), r.storage());
        assertEquals(9f, r.getFloat(2, 1));
    }

    @Test
    void emptyTensorsAreContiguous() {
        assertTrue(Tensor.zeros(DType.F32, 5, 0).isContiguous());
        assertTrue(Tensor.zeros(DType.F32, 0, 3, 2).transpose(0, 2).isContiguous());
    }

    @Test
    void permuteTransposeAndContiguousCopy() {
        Tensor t = iota(2, 3, 4);
        Tensor p = t.permute(2, 0, 1);
        assertArrayEquals(new int[] {4, 2, 3}, p.shape());
        assertFalse(p.isContiguous());
        assertEquals(t.getFloat(1, 2, 3), p.getFloat(3, 1, 2));
        Tensor c = p.contiguous();
        assertTrue(c.isContiguous());
        for (int i = 0; i < 4; i++) {
            for (int j = 0; j < 2; j++) {
                for (int k = 0; k < 3; k++) {
                    assertEquals(t.getFloat(j, k, i), c.getFloat(i, j, k));
                }
            }
        }
        assertEquals(t.getFloat(1, 0, 2), t.transpose(0, 2).getFloat(2, 0, 1));
    }

    @Test
    void reshapeOfStridedViewWhereStridesAllow() {
        // Splitting a dim of a permuted tensor is a view; merging across the permutation is not.
        Tensor t = iota(4, 6).t(); // [6, 4], strides (1, 6)
        Tensor split = t.reshape(2, 3, 4);
        assertEquals(t.getFloat(5, 3), split.getFloat(1, 2, 3));
        ShapeMismatchException e = assertThrows(ShapeMismatchException.class, () -> t.reshape(24));
        assertTrue(e.getMessage().contains("contiguous()"), e.getMessage());
    }

    @Test
    void reshapeRejectsWrongCounts() {
        Tensor t = iota(2, 3);
        assertThrows(ShapeMismatchException.class, () -> t.reshape(4, 2));
        assertThrows(ShapeMismatchException.class, () -> t.reshape(-1, -1));
        assertThrows(ShapeMismatchException.class, () -> t.reshape(4, -1));
    }

    @Test
    void sliceSelectChunk() {
        Tensor t = iota(5, 4);
        Tensor s = t.slice(0, 1, 5, 2); // rows 1, 3
        assertArrayEquals(new int[] {2, 4}, s.shape());
        assertEquals(13f, s.getFloat(1, 1));
        assertArrayEquals(new float[] {8, 9, 10, 11}, t.select(0, 2).toFloatArray());
        Tensor[] chunks = t.chunk(3, 1); // sizes 2, 2
        assertEquals(2, chunks.length);
        assertArrayEquals(new float[] {2, 3, 6, 7, 10, 11, 14, 15, 18, 19}, chunks[1].toFloatArray());
        Tensor[] rows = t.chunk(2, 0); // sizes 3, 2
        assertEquals(3, rows[0].size(0));
        assertEquals(2, rows[1].size(0));
    }

    @Test
    void expandBroadcastsWithZeroStride() {
        Tensor row = iota(1, 3);
        Tensor e = row.expand(4, 2, 3);
        assertArrayEquals(new int[] {4, 2, 3}, e.shape());
        assertEquals(0, e.stride(0));
        assertEquals(2f, e.getFloat(3, 1, 2));
        assertThrows(ShapeMismatchException.class, () -> iota(2, 3).expand(4, 3));
    }

    @Test
    void unsqueezeSqueeze() {
        Tensor t = iota(2, 3);
        Tensor u = t.unsqueeze(1);
        assertArrayEquals(new int[] {2, 1, 3}, u.shape());
        assertArrayEquals(t.toFloatArray(), u.squeeze(1).toFloatArray());
        assertArrayEquals(new int[] {2, 3, 1}, t.unsqueeze(-1).shape());
        assertThrows(ShapeMismatchException.class, () -> t.squeeze(0));
    }

    @Test
    void viewsThatWouldReadOutOfBoundsAreRefusedWhenBuilt() {
        MemorySegment seg = Arena.ofAuto().allocate(4 * 10);
        assertThrows(ShapeMismatchException.class, () -> Tensor.wrap(seg, DType.F32, 3, 4));
        Tensor ok = Tensor.wrap(seg, DType.F32, 2, 5);
        assertThrows(ShapeMismatchException.class, () -> ok.slice(1, 2, 6));
        assertThrows(ShapeMismatchException.class, () -> ok.select(0, 2));
        assertThrows(IndexOutOfBoundsException.class, () -> ok.getFloat(2, 0));
    }

    @Test
    void halfPrecisionConversionsRoundToNearestEven() {
        assertEquals(1.0f, HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(1.0f)));
        // 1 + 2^-8 is exactly half-way between two bf16 values: ties to even (1.0).
        assertEquals(1.0f, HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(1f + 0x1p-8f)));
        // 1 + 3·2^-8 is half-way too: ties to even rounds up to 1 + 2^-6.
        assertEquals(1f + 0x1p-6f, HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(1f + 3 * 0x1p-8f)));
        assertTrue(Float.isNaN(HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(Float.NaN))));
        assertEquals(Float.POSITIVE_INFINITY, HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(Float.POSITIVE_INFINITY)));
        assertEquals(0.333251953125f, HalfFloats.f16ToFloat(HalfFloats.floatToF16(1f / 3)));

        Tensor t = Tensor.of(new float[] {0.1f, -2.5f, 1e-3f, 65504f}, 4);
        Tensor bf = t.to(DType.BF16);
        Tensor back = bf.to(DType.F32);
        float[] v = back.toFloatArray();
        for (int i = 0; i < 4; i++) {
            assertEquals(t.floatAt(i), v[i], Math.abs(t.floatAt(i)) * 0x1p-8f);
        }
        assertArrayEquals(
                new float[] {0.1f, -2.5f, 1e-3f, 65504f},
                t.to(DType.F16).to(DType.F32).toFloatArray(),
                1e-4f * 65504f);
    }

    @Test
    void toStringSummarises() {
        Tensor t = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2);
        String s = t.toString();
        assertTrue(s.startsWith("Tensor[f32 [2, 2] cpu contiguous]"), s);
        assertTrue(s.contains("mean=2.5"), s);
        assertTrue(s.contains("max=4"), s);
    }

    @Test
    void copyFromConvertsAndBroadcasts() {
        Tensor dst = Tensor.zeros(DType.F32, 3, 2);
        dst.copyFrom(Tensor.of(new float[] {7, 8}, 1, 2).expand(3, 2));
        assertArrayEquals(new float[] {7, 8, 7, 8, 7, 8}, dst.toFloatArray());
        assertThrows(ShapeMismatchException.class, () -> dst.copyFrom(Tensor.zeros(DType.F32, 2, 3)));
    }

    @Test
    void broadcastShapes() {
        assertArrayEquals(new int[] {4, 3, 5}, Shapes.broadcast("add", new int[] {3, 1}, new int[] {4, 1, 5}));
        ShapeMismatchException e = assertThrows(
                ShapeMismatchException.class, () -> Shapes.broadcast("add", new int[] {3, 2}, new int[] {4}));
        assertTrue(e.getMessage().startsWith("add: shapes [3, 2] and [4]"), e.getMessage());
    }
}
