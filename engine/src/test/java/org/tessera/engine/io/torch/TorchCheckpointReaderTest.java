package org.tessera.engine.io.torch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.SequencedMap;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tessera.engine.io.SafetensorsReader;
import org.tessera.engine.io.WeightFile;
import org.tessera.engine.io.WeightsFormatException;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Tensor;

/**
 * PyTorch checkpoints read without Python: files torch.save wrote (engine/src/test/python/
 * torch_checkpoints.py, PyTorch 1.13) in the zip archive and the legacy format, compared with the
 * same tensors written as safetensors by the same script; DiT-style training checkpoints; a
 * malicious pickle; and archives written by {@link TorchZipWriter}.
 */
class TorchCheckpointReaderTest {
    static Path resource(String name) throws Exception {
        return Path.of(
                TorchCheckpointReaderTest.class.getResource("/torch/" + name).toURI());
    }

    /** Every tensor of the state dict, with the engine dtype each storage type becomes. */
    @ParameterizedTest
    @ValueSource(strings = {"tiny.pt", "tiny-legacy.pt", "tiny-legacy-p4.pt"})
    void torchSaveFilesMatchTheirTensors(String file) throws Exception {
        try (WeightFile pt = WeightFile.open(resource(file));
                SafetensorsReader expected = SafetensorsReader.open(resource("expected.safetensors"))) {
            assertInstanceOf(TorchCheckpointReader.class, pt);
            assertEquals(
                    expected.names(), pt.names(), "every tensor, in the dict's order; the int 'step' is no tensor");
            for (String name : expected.names()) {
                Tensor want = expected.tensor(name);
                Tensor got = pt.tensor(name);
                assertArrayEquals(want.shape(), got.shape(), name);
                if (want.dtype() == DType.I64) {
                    assertArrayEquals(longs(want), longs(got), name);
                } else {
                    assertArrayEquals(want.toFloatArray(), got.toFloatArray(), name);
                }
            }
            assertEquals(DType.F16, pt.dtype("f16"));
            assertEquals(DType.BF16, pt.dtype("bf16"));
            assertEquals(DType.F64, pt.dtype("f64"));
            assertEquals(DType.I64, pt.dtype("i64"));
            assertEquals(DType.I32, pt.dtype("u8"), "narrow integers widen to I32");
            assertArrayEquals(new int[0], pt.shape("scalar"));
        }
    }

    private static long[] longs(Tensor t) {
        long[] out = new long[(int) t.numel()];
        Tensor c = t.contiguous();
        for (int i = 0; i < out.length; i++) {
            out[i] = switch (c.dtype()) {
                case I64 -> c.storage().get(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, c.byteOffset() + 8L * i);
                case I32 -> c.storage().get(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, c.byteOffset() + 4L * i);
                default -> throw new AssertionError(c.dtype());
            };
        }
        return out;
    }

    @Test
    void contiguousTensorsAreViewsOfTheMapping() throws Exception {
        try (WeightFile pt = WeightFile.open(resource("tiny.pt"))) {
            assertTrue(pt.tensor("f32").storage().isMapped());
            assertTrue(pt.tensor("shared.second").storage().isMapped(), "a view at an offset of a shared storage");
            assertFalse(pt.tensor("transposed").storage().isMapped(), "a strided view is copied to row-major");
            assertEquals("pytorch zip archive", pt.metadata().get("format"));
        }
    }

    /** DiT's sample.py: a checkpoint holding {"model", "ema", "opt", "args"} gives its EMA weights. */
    @Test
    void aTrainingCheckpointGivesItsEmaWeights() throws Exception {
        try (WeightFile pt = WeightFile.open(resource("train.pt"));
                SafetensorsReader ema = SafetensorsReader.open(resource("train-ema.safetensors"))) {
            assertEquals(ema.names(), pt.names());
            assertEquals("ema", pt.metadata().get("state_dict"));
            for (String name : ema.names()) {
                assertArrayEquals(
                        ema.tensor(name).toFloatArray(), pt.tensor(name).toFloatArray(), name);
            }
        }
        try (WeightFile model = TorchCheckpointReader.open(resource("train.pt"), "model");
                SafetensorsReader ema = SafetensorsReader.open(resource("train-ema.safetensors"))) {
            assertEquals(ema.names(), model.names());
            assertFalse(java.util.Arrays.equals(
                    ema.tensor("0.weight").toFloatArray(),
                    model.tensor("0.weight").toFloatArray()));
        }
        WeightsFormatException e = assertThrows(
                WeightsFormatException.class, () -> TorchCheckpointReader.open(resource("train.pt"), "opt"));
        assertTrue(e.getMessage().contains("the state dict holds no tensors"), e.getMessage());
    }

    /** A pickle whose payload would call os.system is refused at the global, before anything is built. */
    @Test
    void aGlobalThatRunsCodeIsRefusedByName() throws Exception {
        WeightsFormatException e =
                assertThrows(WeightsFormatException.class, () -> WeightFile.open(resource("evil.pt")));
        assertTrue(e.getMessage().contains("refused global posix.system"), e.getMessage());
        assertTrue(e.getMessage().contains("evil.pt"), e.getMessage());
    }

    @Test
    void anArchiveWrittenInTorchsLayoutRoundTrips(@TempDir Path dir) throws Exception {
        SplittableRandom random = new SplittableRandom(3);
        SequencedMap<String, TorchZipWriter.Tensor> tensors = new LinkedHashMap<>();
        for (int[] shape : List.of(new int[] {3, 5}, new int[] {7}, new int[] {2, 1, 4}, new int[] {0, 3})) {
            float[] v = new float[java.util.Arrays.stream(shape).reduce(1, (a, b) -> a * b)];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) random.nextGaussian();
            }
            tensors.put("blocks." + tensors.size() + ".weight", new TorchZipWriter.Tensor(shape, v));
        }
        Path file = dir.resolve("w.pt");
        TorchZipWriter.write(file, tensors);
        try (WeightFile pt = WeightFile.open(file)) {
            assertEquals(tensors.keySet(), pt.names());
            for (var e : tensors.entrySet()) {
                assertArrayEquals(e.getValue().shape(), pt.shape(e.getKey()));
                assertArrayEquals(e.getValue().values(), pt.tensor(e.getKey()).toFloatArray(), e.getKey());
            }
        }
    }
}
