package org.tessera.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessera.testing.RepoFiles;

class CliRunCheckInspectTest {
    @TempDir
    Path tmp;

    private static CliRun run(String... args) {
        return CliRun.of(args);
    }

    @Test
    void runWritesTheOutputsAndListsThem() {
        Path out = tmp.resolve("out");
        CliRun r = run(
                "run", RepoFiles.sample("dit-tiny-forward.tess").toString(), "--out", out.toString(), "--threads", "2");
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.isRegularFile(out.resolve("dit_tiny_forward.safetensors")));
        assertTrue(r.out().contains("dit_tiny_forward.safetensors"), r.out());
        assertTrue(r.err().contains("compiled dit_tiny_forward"), r.err());
    }

    /** {@code --out .}: the working folder (here the module's), whose path normalizes to the empty one. */
    @Test
    void runWritesIntoTheWorkingFolder() throws Exception {
        Path written = Path.of("dit_tiny_forward.safetensors");
        try {
            CliRun r = run("run", RepoFiles.sample("dit-tiny-forward.tess").toString(), "--out", ".", "--threads", "2");
            assertEquals(0, r.code(), r.err());
            assertTrue(Files.isRegularFile(written), r.err());
        } finally {
            Files.deleteIfExists(written);
        }
    }

    @Test
    void samplingWithOverriddenStepsShowsProgressAndWritesPngs() {
        Path out = tmp.resolve("s");
        CliRun r = run(
                "run",
                RepoFiles.sample("dit-tiny-sample.tess").toString(),
                "--out",
                out.toString(),
                "--seed",
                "3",
                "--set",
                "sampler=ddim(steps = 4)",
                "--threads",
                "1");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("sampling: step 4/4"), r.err());
        assertTrue(Files.isRegularFile(out.resolve("grid.png")));
        assertTrue(Files.isRegularFile(out.resolve("latents.safetensors")));
        // the picture says how it was made
        CliRun inspect = run("inspect", out.resolve("grid.png").toString());
        assertEquals(0, inspect.code(), inspect.err());
        for (String line : new String[] {
            "PNG, ",
            "pipeline  dit_tiny_sample",
            "seed      3",
            "sampler   ddim(",
            "steps     4",
            "guidance  cfg(scale = 4.0, form = \"dit\")"
        }) {
            assertTrue(inspect.out().contains(line), line + " in\n" + inspect.out());
        }
    }

    @Test
    void unwritableOutputFolderFailsBeforeRunningAndWritesNothing() throws Exception {
        Path blocker = tmp.resolve("a-file");
        Files.writeString(blocker, "not a folder");
        CliRun r = run(
                "run",
                RepoFiles.sample("dit-tiny-forward.tess").toString(),
                "--out",
                blocker.resolve("out").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().startsWith("tessera: error: cannot write to"), r.err());
        assertFalse(r.err().contains("Exception"), r.err());
    }

    @Test
    void brokenScriptIsACompileErrorWithExitTwo() throws Exception {
        Path bad = tmp.resolve("bad.tess");
        Files.writeString(bad, "import \"dit.tess\"\npipeline p {\n    model = DiT_S_8(input_size = 16\n}\n");
        CliRun r = run("run", bad.toString(), "--out", tmp.resolve("o").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains(bad + ":4:1: error: syntax error"), r.err());
        assertTrue(r.err().strip().endsWith("1 error"), r.err());
        assertFalse(Files.exists(tmp.resolve("o").resolve("samples.png")));
    }

    @Test
    void checkTheWholeStandardLibraryAndTheSamples() {
        Path stdlib = RepoFiles.root().resolve("dsl/src/main/resources/org/tessera/dsl/stdlib");
        CliRun r = run(
                "check",
                stdlib.resolve("layers.tess").toString(),
                stdlib.resolve("dit.tess").toString(),
                stdlib.resolve("vae.tess").toString(),
                stdlib.resolve("latte.tess").toString(),
                RepoFiles.sample("dit-tiny-forward.tess").toString(),
                RepoFiles.sample("dit-xl-2-random.tess").toString(),
                RepoFiles.sample("dit-xl-2-256.tess").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("7 files checked") && r.out().contains("0 errors"), r.out());
    }

    @Test
    void checkReportsEveryErrorAndExitsTwo() throws Exception {
        Path bad = tmp.resolve("two-errors.tess");
        Files.writeString(bad, """
                model M() {
                    weight w: [4, 3]
                    forward(x: [B, 4]) {
                        let a = silo(x)
                        return linear(x, w) + y
                    }
                }
                """);
        CliRun r = run("check", bad.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains(bad + ":4:17: error: unknown function 'silo'"), r.err());
        assertTrue(r.err().contains(bad + ":5:16: error: linear"), r.err());
        assertTrue(r.err().contains(bad + ":5:31: error: unknown name 'y'"), r.err());
        assertTrue(r.err().contains("3 errors"), r.err());
    }

    @Test
    void inspectListsTensorsAndParameterCount() {
        CliRun r = run("inspect", RepoFiles.golden("dit_tiny.safetensors").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("pos_embed"), r.out());
        assertTrue(r.out().matches("(?s).*blocks\\.1\\.attn\\.qkv\\.weight +f32 +\\[192, 64\\].*"), r.out());
        assertTrue(r.out().contains("32 tensors"), r.out());
    }

    @Test
    void inspectOfATruncatedFileIsAClearError() throws Exception {
        byte[] all = Files.readAllBytes(RepoFiles.golden("dit_tiny.safetensors"));
        Path cut = tmp.resolve("cut.safetensors");
        Files.write(cut, Arrays.copyOf(all, all.length / 2));
        CliRun r = run("inspect", cut.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().startsWith("tessera: error: "), r.err());
        assertTrue(r.err().contains("cut.safetensors"), r.err());
        assertFalse(r.err().contains("\tat "), r.err());
        // run meets the same file in a script: the same exit code, the message at the script's line
        Path script = tmp.resolve("cut.tess");
        Files.writeString(
                script,
                "import \"dit.tess\"\npipeline p {\n"
                        + "    model = DiT(input_size = 8, patch_size = 2, hidden_size = 64, depth = 2, num_heads = 4, num_classes = 10)\n"
                        + "    weights = \"cut.safetensors\"\n    output \"s.safetensors\" = tensors(samples)\n}\n");
        CliRun ran =
                run("run", script.toString(), "--out", tmp.resolve("cut-out").toString());
        assertEquals(2, ran.code(), ran.err());
        assertTrue(ran.err().contains(script + ":4:15: error: cannot load weights: "), ran.err());
        assertTrue(run("inspect", tmp.resolve("missing.safetensors").toString()).code() == 2);
    }

    @Test
    void anOutputNeverReplacesAnInputOfThePipeline() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("own-weights"));
        Path weights = Files.copy(RepoFiles.golden("dit_tiny.safetensors"), dir.resolve("w.safetensors"));
        Path script = dir.resolve("p.tess");
        Files.writeString(
                script,
                "import \"dit.tess\"\npipeline p {\n"
                        + "    model = DiT(input_size = 8, patch_size = 2, hidden_size = 64, depth = 2, num_heads = 4, num_classes = 10)\n"
                        + "    weights = \"w.safetensors\"\n    sampler = ddim(steps = 2)\n"
                        + "    output \"w.safetensors\" = tensors(samples)\n}\n");
        byte[] before = Files.readAllBytes(weights);
        CliRun r = run("run", script.toString(), "--out", dir.toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(
                r.err()
                        .contains(script + ":6:5: output \"w.safetensors\" would overwrite " + weights
                                + ", the weights of stage samples"),
                r.err());
        assertTrue(java.util.Arrays.equals(before, Files.readAllBytes(weights)));
    }

    @Test
    void aNanInASamplerStepStopsWithTheStepAndWritesNothing() throws Exception {
        Path script = tmp.resolve("nan.tess");
        Files.writeString(
                script,
                "import \"dit.tess\"\npipeline p {\n"
                        + "    model = DiT(input_size = 8, patch_size = 2, hidden_size = 64, depth = 1, num_heads = 4, num_classes = 10)\n"
                        + "    weights = random(seed = 1, std = 1e30)\n"
                        + "    sampler = ddim(steps = 3)\n"
                        + "    output \"s.safetensors\" = tensors(samples)\n}\n");
        Path out = tmp.resolve("nan-out");
        CliRun r = run("run", script.toString(), "--out", out.toString(), "--threads", "1");
        assertEquals(1, r.code(), r.err());
        assertTrue(
                r.err().contains("tessera: error: " + script + ":5:15: ddim: step 0 of 3 (timestep 999) produced"),
                r.err());
        assertFalse(r.err().contains("\tat "), r.err());
        assertFalse(Files.exists(out.resolve("s.safetensors")));
    }

    @Test
    void cudaWithoutAGpuIsAClearError() throws Exception {
        org.tessera.ffi.Cuda.Status cuda = org.tessera.ffi.Cuda.probe();
        org.junit.jupiter.api.Assumptions.assumeFalse(cuda.available(), "this machine has a GPU");
        CliRun r = run(
                "run",
                RepoFiles.sample("dit-tiny-forward.tess").toString(),
                "--out",
                tmp.resolve("c").toString(),
                "--device",
                "cuda");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--device cuda: CUDA is not available: " + cuda.problem()), r.err());
        assertFalse(r.err().contains("\tat "), r.err());
        assertFalse(Files.exists(tmp.resolve("c"))
                && Files.list(tmp.resolve("c")).findAny().isPresent());
        CliRun bad = run("run", RepoFiles.sample("dit-tiny-forward.tess").toString(), "--device", "tpu");
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("--device must be cpu, cuda or auto"), bad.err());
    }
}
