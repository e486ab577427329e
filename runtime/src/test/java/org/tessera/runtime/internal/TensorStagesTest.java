package org.tessera.runtime.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/** Upsampling and concatenation between stages, against their definitions element by element. */
class TensorStagesTest {
    private static Tensor counting(int... shape) {
        Tensor t = Tensor.zeros(DType.F32, shape);
        float[] v = new float[(int) t.numel()];
        for (int i = 0; i < v.length; i++) {
            v[i] = i;
        }
        return Tensor.of(v, shape);
    }

    @Test
    void upsamplingRepeatsEachValueOverAnFxFBlock() {
        Tensor x = counting(2, 3, 2, 5);
        Tensor up = TensorStages.upsample(x, 3, "s");
        assertArrayEquals(new int[] {2, 3, 6, 15}, up.shape());
        for (int n = 0; n < 2; n++) {
            for (int c = 0; c < 3; c++) {
                for (int y = 0; y < 6; y++) {
                    for (int xx = 0; xx < 15; xx++) {
                        assertEquals(x.getFloat(n, c, y / 3, xx / 3), up.getFloat(n, c, y, xx));
                    }
                }
            }
        }
    }

    @Test
    void videoLatentsUpsampleInSpaceOnly() {
        Tensor x = counting(1, 2, 3, 2, 2);
        Tensor up = TensorStages.upsample(x, 2, "s");
        assertArrayEquals(new int[] {1, 2, 3, 4, 4}, up.shape());
        for (int f = 0; f < 3; f++) {
            assertEquals(x.getFloat(0, 1, f, 1, 0), up.getFloat(0, 1, f, 3, 1));
        }
    }

    @Test
    void videoLatentsUpsampleInTimeByRepeatingFrames() {
        Tensor x = counting(2, 3, 2, 2, 2); // [N, F, C, H, W]: 3 frames of 2 channels
        Tensor up = TensorStages.upsample(x, 2, "time", "s");
        assertArrayEquals(new int[] {2, 6, 2, 2, 2}, up.shape());
        for (int n = 0; n < 2; n++) {
            for (int f = 0; f < 6; f++) {
                for (int c = 0; c < 2; c++) {
                    assertEquals(x.getFloat(n, f / 2, c, 1, 0), up.getFloat(n, f, c, 1, 0));
                }
            }
        }
        Tensor both = TensorStages.upsample(x, 2, "spacetime", "s");
        assertArrayEquals(new int[] {2, 6, 2, 4, 4}, both.shape());
        assertEquals(x.getFloat(1, 2, 1, 1, 0), both.getFloat(1, 5, 1, 3, 1));
        assertThrows(IllegalArgumentException.class, () -> TensorStages.upsample(counting(1, 2, 4, 4), 2, "time", "s"));
    }

    @Test
    void concatenationStacksAlongTheAxis() {
        Tensor a = counting(2, 1, 2, 2);
        Tensor b = counting(2, 3, 2, 2);
        Tensor ab = TensorStages.concat(List.of(a, b), 1, "s");
        assertArrayEquals(new int[] {2, 4, 2, 2}, ab.shape());
        assertEquals(a.getFloat(1, 0, 1, 1), ab.getFloat(1, 0, 1, 1));
        assertEquals(b.getFloat(1, 2, 0, 1), ab.getFloat(1, 3, 0, 1));
        assertThrows(
                IllegalArgumentException.class, () -> TensorStages.concat(List.of(a, counting(3, 1, 2, 2)), 1, "s"));
        assertThrows(IllegalArgumentException.class, () -> TensorStages.upsample(counting(2, 3, 4), 2, "s"));
    }
}
