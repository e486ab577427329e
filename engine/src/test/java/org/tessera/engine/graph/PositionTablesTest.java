package org.tessera.engine.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.ShapeMismatchException;
import org.tessera.engine.tensor.Tensor;

/** The video position encodings: the tables' formulas, and rotary embeddings' defining properties. */
class PositionTablesTest {

    @Test
    void theSeparable3dTableIsThe1dTableOfEachAxis() {
        int dim = 12;
        Tensor t3 = PositionTables.sinCos3d(2, 3, 4, dim);
        Tensor t1 = PositionTables.sinCos1d(4, dim / 3);
        assertEquals(24, t3.size(0));
        // token (t = 1, h = 2, w = 3) is row 1·12 + 2·4 + 3 = 23: [1-D(1) | 1-D(2) | 1-D(3)]
        for (int i = 0; i < dim / 3; i++) {
            assertEquals(t1.getFloat(1, i), t3.getFloat(23, i));
            assertEquals(t1.getFloat(2, i), t3.getFloat(23, dim / 3 + i));
            assertEquals(t1.getFloat(3, i), t3.getFloat(23, 2 * dim / 3 + i));
        }
        // MAE's 1-D: sin first, ω_0 = 1
        assertEquals((float) Math.sin(3), t1.getFloat(3, 0));
        assertEquals((float) Math.cos(3), t1.getFloat(3, dim / 6));
        assertThrows(ShapeMismatchException.class, () -> PositionTables.sinCos3d(2, 3, 4, 10));
    }

    /** rope_3d(x) for x [1, 1, N, d], run on the SIMD backend. */
    private static float[] rope(float[] x, int gt, int gh, int gw, int[] sections) {
        int n = gt * gh * gw;
        int d = x.length / n;
        GraphBuilder g = new GraphBuilder();
        Value in = g.input("x", DType.F32, 1, 1, n, d);
        g.output("y", PositionTables.rope3d(g, in, gt, gh, gw, sections, 10000));
        return GraphTesting.run(g.build(), Planner.Options.DEFAULT, Map.of("x", Tensor.of(x, 1, 1, n, d)))
                .get("y")
                .toFloatArray();
    }

    @Test
    void rotaryScoresDependOnlyOnTheOffsetAlongEachAxis() {
        int gt = 3;
        int gh = 2;
        int gw = 4;
        int n = gt * gh * gw;
        int[] sections = {4, 4, 6};
        int d = 14;
        float[] q = GraphTesting.randn(1, d).toFloatArray();
        float[] k = GraphTesting.randn(2, d).toFloatArray();
        float[] qs = new float[n * d];
        float[] ks = new float[n * d];
        for (int i = 0; i < n; i++) { // the same query and key vector at every position
            System.arraycopy(q, 0, qs, i * d, d);
            System.arraycopy(k, 0, ks, i * d, d);
        }
        float[] rq = rope(qs, gt, gh, gw, sections);
        float[] rk = rope(ks, gt, gh, gw, sections);
        // token (t, h, w) against (t', h', w') equals (t + 1, h, w + 1) against (t' + 1, h', w' + 1)
        int a = index(0, 1, 0, gh, gw);
        int b = index(1, 0, 2, gh, gw);
        int a2 = index(1, 1, 1, gh, gw);
        int b2 = index(2, 0, 3, gh, gw);
        assertEquals(dot(rq, a, rk, b, d), dot(rq, a2, rk, b2, d), 1e-4);
        // rotations keep norms, and position (0, 0, 0) is left as it is
        assertEquals(dot(qs, 5, qs, 5, d), dot(rq, 5, rq, 5, d), 1e-4);
        for (int i = 0; i < d; i++) {
            assertEquals(qs[i], rq[i], 1e-7);
        }
    }

    @Test
    void sectionsThatDoNotFitTheHeadAreNamed() {
        GraphBuilder g = new GraphBuilder();
        Value x = g.input("x", DType.F32, 1, 2, 8, 12);
        ShapeMismatchException e = assertThrows(
                ShapeMismatchException.class, () -> PositionTables.rope3d(g, x, 2, 2, 2, new int[] {4, 4, 2}, 1e4));
        assertEquals("rope_3d: the sections (t, h, w) must sum to the head width 12, got [4, 4, 2]", e.getMessage());
        assertThrows(
                ShapeMismatchException.class, () -> PositionTables.rope3d(g, x, 2, 2, 2, new int[] {3, 5, 4}, 1e4));
    }

    private static int index(int t, int h, int w, int gh, int gw) {
        return (t * gh + h) * gw + w;
    }

    private static double dot(float[] a, int i, float[] b, int j, int d) {
        double s = 0;
        for (int c = 0; c < d; c++) {
            s += (double) a[i * d + c] * b[j * d + c];
        }
        return s;
    }
}
