package org.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessera.engine.diffusion.StepCallback;
import org.tessera.engine.io.SafetensorsReader;
import org.tessera.engine.tensor.Tensor;
import org.tessera.testing.RepoFiles;
import org.tessera.testing.TensorDifference;

/**
 * The stdlib DiT, built by samples/dit-tiny-forward.tess with the reference checkpoint, against
 * the output of the public facebookresearch/DiT code on the same inputs.
 */
class DitGoldenTest {

    @Test
    void tinyDitForwardMatchesTheReferenceImplementation(@TempDir Path out) throws Exception {
        try (Pipeline p = Tessera.compile(
                        RepoFiles.sample("dit-tiny-forward.tess"),
                        CompileOptions.defaults().withThreads(2));
                SafetensorsReader ref = SafetensorsReader.open(RepoFiles.golden("dit_tiny_reference.safetensors"))) {
            Map<String, Tensor> result = p.runForward();
            // The inputs among the results are the caller's copies: writing them changes no later run.
            result.get("x")
                    .copyFrom(Tensor.zeros(
                            result.get("x").dtype(), result.get("x").shape()));
            result = p.runForward();
            Tensor expected = ref.tensor("forward.out");
            Tensor actual = result.get("out");
            double worst = TensorDifference.maxAbs(expected, actual);
            assertTrue(worst <= 1e-5, "max |difference| to the reference = " + worst);
            float[] a = actual.toFloatArray();

            // The same through execute(): the output file holds the same tensor.
            List<Path> files = p.execute(out, 0, StepCallback.NONE);
            assertEquals(1, files.size());
            try (SafetensorsReader written = SafetensorsReader.open(files.get(0))) {
                assertArrayEquals(a, written.tensor("out").toFloatArray());
            }
        }
    }

    /**
     * The same on the GPU: the first run launches kernel by kernel, the second is captured into a
     * CUDA graph, the third replays it; all three must match the reference.
     */
    @Test
    void tinyDitForwardOnCudaMatchesTheReference() throws Exception {
        String problem = org.tessera.engine.device.Devices.cudaProblem();
        org.junit.jupiter.api.Assumptions.assumeTrue(problem == null, "no CUDA here: " + problem);
        try (Pipeline p = Tessera.compile(
                        RepoFiles.sample("dit-tiny-forward.tess"),
                        CompileOptions.defaults().withDevice("cuda"));
                SafetensorsReader ref = SafetensorsReader.open(RepoFiles.golden("dit_tiny_reference.safetensors"))) {
            float[] e = ref.tensor("forward.out").toFloatArray();
            for (int run = 0; run < 3; run++) {
                double worst =
                        TensorDifference.maxAbs(e, p.runForward().get("out").toFloatArray());
                System.out.println("cuda golden run " + run + ": max |difference| " + worst);
                assertTrue(worst <= 1e-4, "run " + run + ": max |difference| to the reference = " + worst);
            }
        }
    }

    @Test
    void guidedDdimSamplingRunsAndIsReproducible(@TempDir Path out) throws Exception {
        try (Pipeline p = Tessera.compile(
                RepoFiles.sample("dit-tiny-sample.tess"),
                CompileOptions.defaults().withThreads(2).withOverrides(Map.of("sampler", "ddim(steps = 5)")))) {
            int[] calls = {0};
            Tensor a = p.sample(3, (step, total, t, x, x0) -> calls[0]++);
            Tensor b = p.sample(3, StepCallback.NONE);
            assertEquals(5, calls[0]);
            assertArrayEquals(new int[] {2, 4, 8, 8}, a.shape());
            assertArrayEquals(a.toFloatArray(), b.toFloatArray());
            List<Path> files = p.execute(out, 3, StepCallback.NONE);
            assertEquals(2, files.size());
            assertTrue(Files.size(out.resolve("grid.png")) > 0);
        }
    }
}
