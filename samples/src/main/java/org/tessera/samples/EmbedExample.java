package org.tessera.samples;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.tessera.runtime.CompileOptions;
import org.tessera.runtime.Pipeline;
import org.tessera.runtime.SampleRequest;
import org.tessera.runtime.SampleResult;
import org.tessera.runtime.Tessera;

/**
 * A small application that embeds Tessera through the public API package alone: it compiles a
 * pipeline script once, samples from it with a progress callback, samples again with a request
 * that changes the batch, the steps and the guidance, and then samples with two seeds at the
 * same time from two threads, which one compiled pipeline allows.
 *
 * <pre>
 *   java --add-modules jdk.incubator.vector -jar samples/target/tessera-samples.jar [script.tess]
 * </pre>
 */
public final class EmbedExample {
    private EmbedExample() {}

    public static void main(String[] args) throws Exception {
        Path script = Path.of(args.length > 0 ? args[0] : "samples/dit-tiny-sample.tess");
        try (Pipeline pipeline =
                Tessera.compile(script, CompileOptions.defaults().withThreads(2))) {
            System.out.printf(
                    Locale.ROOT,
                    "compiled %s: model %s on %s, %.2f GFLOP per forward%n",
                    pipeline.name(),
                    pipeline.modelName(),
                    pipeline.deviceName(),
                    pipeline.graph().flops() / 1e9);

            SampleResult first = pipeline.sample(
                    SampleRequest.seed(7),
                    (step, total, timestep, x, x0) ->
                            System.out.printf(Locale.ROOT, "  step %d/%d (t = %d)%n", step + 1, total, timestep));
            System.out.println("samples: " + first);

            // Three classes instead of the script's two, 10 DDIM steps, weaker guidance: a plan for
            // the new batch is compiled once, on this call.
            SampleResult custom = pipeline.sample(
                    SampleRequest.seed(7).withClasses(1, 2, 3).withSteps(10).withGuidance(1.5));
            System.out.println("custom:  " + custom + " at timesteps " + Arrays.toString(custom.timesteps()));

            // One compiled pipeline, two concurrent callers: each gets its own buffers.
            ExecutorService callers = Executors.newFixedThreadPool(2);
            try {
                Future<SampleResult> a = callers.submit(() -> pipeline.sample(SampleRequest.seed(1)));
                Future<SampleResult> b = callers.submit(() -> pipeline.sample(SampleRequest.seed(2)));
                System.out.println("seed 1: " + a.get());
                System.out.println("seed 2: " + b.get());
                boolean same = Arrays.equals(
                        first.samples().toFloatArray(),
                        pipeline.sample(SampleRequest.seed(7)).samples().toFloatArray());
                System.out.println("same seed reproduces: " + same);
            } finally {
                callers.shutdown();
            }
        }
    }
}
