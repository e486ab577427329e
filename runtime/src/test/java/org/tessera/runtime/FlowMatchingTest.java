package org.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessera.dsl.CompilationException;
import org.tessera.engine.diffusion.FlowSchedule;

/** Flow matching: the rectified-flow schedule and the stdlib's flow_euler sampler. */
class FlowMatchingTest {
    // The exact velocity field of a flow whose data is the single point c: on the path
    // x_σ = (1 − σ) c + σ ε, v = ε − c = (x − c) / σ, with σ = t / 1000.
    private static final String POINT_MASS = """
            model PointMass(c: float = 0.5) {
                contract {
                    latent = x
                    timestep = t
                    predicts = "flow"
                }
                forward(x: [B, 4, 8, 8], t: [B]) {
                    return (x - c) / reshape(t, [-1, 1, 1, 1]) * 1000.0
                }
            }
            """;

    private static Path script(Path dir, String settings) throws Exception {
        Path file = dir.resolve("flow.tess");
        Files.writeString(
                file,
                POINT_MASS + "pipeline p {\n    model = PointMass(c = 0.25)\n    weights = random()\n" + settings
                        + "    classes = [0, 0]\n    output \"s.safetensors\" = tensors(samples)\n}\n");
        return file;
    }

    @Test
    void theLevelsAreDiffusersFlowMatchEulerLevels() {
        // diffusers' FlowMatchEulerDiscreteScheduler(shift = 3).set_timesteps(4), in float64.
        assertArrayEquals(
                new double[] {1.0, 0.8576923076923075, 0.6021505376344084, 0.00892857142857143, 0.0},
                FlowSchedule.of(1000, 4, 3.0).sigmas(),
                1e-12);
        assertArrayEquals(
                new double[] {1.0, 0.667, 0.334, 0.001, 0.0},
                FlowSchedule.of(1000, 4, 1.0).sigmas(),
                1e-12);
        assertEquals(667.0, FlowSchedule.of(1000, 4, 1.0).modelTimestep(1), 1e-9);
    }

    @Test
    void eulerFollowsAnExactVelocityFieldToItsPoint(@TempDir Path dir) throws Exception {
        Path file = script(dir, "    schedule = flow(1000, shift = 3.0)\n    sampler = flow_euler(steps = 6)\n");
        assertTrue(
                !Tessera.check(java.util.List.of(file)).hasErrors(),
                Tessera.check(java.util.List.of(file)).rendered());
        try (Pipeline p =
                Tessera.compile(file, CompileOptions.defaults().withThreads(1).withDevice("cpu"))) {
            SampleResult r = p.sample(SampleRequest.seed(4));
            // Euler is exact on straight paths: every sample lands on c.
            for (float v : r.samples().toFloatArray()) {
                assertEquals(0.25f, v, 1e-5f);
            }
            assertEquals(1000, r.timesteps()[0]);
            assertEquals(6, r.steps());
        }
    }

    @Test
    void diffusionAndFlowAreNotMixed(@TempDir Path dir) throws Exception {
        Path ddim = script(dir, "    schedule = flow(1000)\n    sampler = ddim(steps = 4)\n");
        CompilationException e = assertThrows(
                CompilationException.class, () -> Tessera.compile(ddim).close());
        assertTrue(e.getMessage().contains("unknown name 'alpha_bar"), e.getMessage());
        Path linear = script(dir, "    schedule = linear(1000)\n    sampler = flow_euler(steps = 4)\n");
        e = assertThrows(
                CompilationException.class, () -> Tessera.compile(linear).close());
        assertTrue(e.getMessage().contains("unknown name 'sigma"), e.getMessage());
        Path flowModel = script(dir, "    schedule = linear(1000)\n    sampler = ddim(steps = 4)\n");
        e = assertThrows(
                CompilationException.class, () -> Tessera.compile(flowModel).close());
        assertTrue(
                e.getMessage()
                        .contains("PointMass predicts a flow's velocity (its contract); give it schedule = flow(1000)"),
                e.getMessage());
        Path spaced = script(dir, "    schedule = flow(1000)\n    sampler = flow_euler(spacing = \"ddim4\")\n");
        e = assertThrows(
                CompilationException.class, () -> Tessera.compile(spaced).close());
        assertTrue(e.getMessage().contains("a flow schedule places its levels itself"), e.getMessage());
    }
}
