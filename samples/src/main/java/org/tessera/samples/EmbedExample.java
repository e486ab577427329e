package org.tessera.samples;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.tessera.dsl.CompileOptions;
import org.tessera.dsl.Pipeline;
import org.tessera.dsl.Tessera;
import org.tessera.engine.diffusion.StepCallback;
import org.tessera.engine.tensor.Tensor;

/**
 * A small application that embeds Tessera: it compiles a pipeline script once, samples from it
 * with a progress callback, then samples with two seeds at the same time from two threads, which
 * one compiled pipeline allows.
 *
 * <pre>
 *   java --add-modules jdk.incubator.vector -jar samples/target/tessera-samples.jar [script.tess]
 * </pre>
 */
public final class EmbedExample {
    private EmbedExample() {}

    public static void main(String[] args) throws Exception {
        Path script = Path.of(args.length > 0 ? args[0] : "samples/dit-tiny-sample.tess");
        try (Pipeline pipeline = Tessera.compile(script, CompileOptions.defaults().withThreads(2))) {
            System.out.printf(Locale.ROOT, "compiled %s: model %s, %.2f GFLOP per forward%n",
                    pipeline.settings().name(), pipeline.modelName(), pipeline.graph().flops() / 1e9);

            StepCallback progress = (step, total, timestep, x, x0) ->
                    System.out.printf(Locale.ROOT, "  step %d/%d (t = %d)%n", step + 1, total, timestep);
            Tensor samples = pipeline.sample(7, progress);
            System.out.println("samples: " + samples);

            // One compiled pipeline, two concurrent callers: each gets its own buffers.
            ExecutorService callers = Executors.newFixedThreadPool(2);
            try {
                Future<Tensor> a = callers.submit(() -> pipeline.sample(1, StepCallback.NONE));
                Future<Tensor> b = callers.submit(() -> pipeline.sample(2, StepCallback.NONE));
                System.out.println("seed 1: " + a.get());
                System.out.println("seed 2: " + b.get());
                System.out.println("same seed reproduces: "
                        + Arrays.equals(samples.toFloatArray(), pipeline.sample(7, StepCallback.NONE).toFloatArray()));
            } finally {
                callers.shutdown();
            }
        }
    }
}
