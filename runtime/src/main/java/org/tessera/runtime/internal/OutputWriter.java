package org.tessera.runtime.internal;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;
import org.tessera.dsl.pipeline.PipelineSettings;
import org.tessera.engine.io.ImageOutput;
import org.tessera.engine.io.LatentPreview;
import org.tessera.engine.io.OutputSet;
import org.tessera.engine.io.SafetensorsWriter;
import org.tessera.engine.io.VideoOutput;
import org.tessera.engine.tensor.Tensor;

/** Writes a pipeline's outputs: all of them appear, each whole, or none. */
public final class OutputWriter {
    private OutputWriter() {}

    /**
     * Fails early, before any long computation, when {@code dir} cannot be created or written.
     *
     * @throws IOException naming the folder and the reason
     */
    public static void checkWritable(Path dir) throws IOException {
        try {
            Files.createDirectories(dir);
            Path probe = Files.createTempFile(dir, ".tessera-probe", ".tmp");
            Files.delete(probe);
        } catch (AccessDeniedException e) {
            throw new IOException("cannot write to " + dir + ": permission denied", e);
        } catch (FileSystemException e) {
            throw new IOException(
                    "cannot write to " + dir + ": " + (e.getReason() == null ? "not a writable folder" : e.getReason()),
                    e);
        }
    }

    /**
     * Refuses, before anything runs, an output that would replace one of the pipeline's own input
     * files (a checkpoint, a {@code load(...)}ed tensor file): {@code --out} pointed at the folder
     * that holds them, with an output of the same name.
     *
     * @throws IllegalArgumentException naming the output, the input and what it is
     */
    public static void refuseInputs(PipelineSettings settings, Path outDir) {
        refuseInputs(settings, outDir, List.of());
    }

    /** {@link #refuseInputs(PipelineSettings, Path)}, counting {@code more} files (a run's checkpoints) as outputs too. */
    public static void refuseInputs(PipelineSettings settings, Path outDir, List<Path> more) {
        Map<Path, String> inputs = new LinkedHashMap<>();
        for (PipelineSettings.Stage st : settings.stages()) {
            switch (st) {
                case PipelineSettings.SampleStage s -> {
                    weights(inputs, s.weights(), s.name());
                    if (s.sampling().noise() != null) {
                        inputs.put(s.sampling().noise().path(), "the starting noise of stage " + s.name());
                    }
                    if (s.sampling().context() != null && s.sampling().context().clips() != null) {
                        inputs.put(s.sampling().context().clips().path(), "the clips stage " + s.name() + " continues");
                    }
                }
                case PipelineSettings.ForwardStage f -> {
                    weights(inputs, f.weights(), f.name());
                    inputs.put(f.inputs().path(), "the inputs of stage " + f.name());
                }
                case PipelineSettings.ApplyStage a -> weights(inputs, a.weights(), a.name());
                case PipelineSettings.ImageStage im -> inputs.put(im.path(), "the image of stage " + im.name());
                case PipelineSettings.TrainStage t -> {
                    weights(inputs, t.weights(), t.name());
                    for (PipelineSettings.Dataset d : java.util.Arrays.asList(
                            t.training().data(), t.training().test())) {
                        dataInputs(d, t.name(), outDir, inputs);
                    }
                }
                default -> {}
            }
        }
        for (PipelineSettings.Output o : settings.outputs()) {
            Path file = outDir.resolve(o.file());
            for (Map.Entry<Path, String> in : inputs.entrySet()) {
                if (same(file, in.getKey())) {
                    throw new IllegalArgumentException(o.span() + ": output \"" + o.file() + "\" would overwrite "
                            + in.getKey() + ", " + in.getValue() + "; choose another --out folder or output name");
                }
            }
        }
        for (Path file : more) {
            for (Map.Entry<Path, String> in : inputs.entrySet()) {
                if (same(file, in.getKey())) {
                    throw new IllegalArgumentException(
                            file + " would overwrite " + in.getValue() + "; choose another --out folder");
                }
            }
        }
    }

    private static void weights(Map<Path, String> inputs, PipelineSettings.Weights w, String stage) {
        if (w instanceof PipelineSettings.Checkpoint c) {
            inputs.put(c.path(), "the weights of stage " + stage);
        }
    }

    /** The same file: by path, or (both existing) by identity, so links and {@code ./} do not hide it. */
    private static boolean same(Path a, Path b) {
        if (a.toAbsolutePath().normalize().equals(b.toAbsolutePath().normalize())) {
            return true;
        }
        try {
            return Files.exists(a) && Files.exists(b) && Files.isSameFile(a, b);
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Writes every output from {@code results} (by name) under {@code outDir}; returns the files.
     * They appear together, when the last is written, or not at all (see {@link OutputSet}).
     */
    public static List<Path> write(
            List<PipelineSettings.Output> outputs,
            Map<String, Tensor> results,
            Map<String, long[]> classes,
            Path outDir,
            Map<String, String> metadata)
            throws IOException {
        return write(outputs, results, classes, Map.of(), outDir, metadata);
    }

    /**
     * {@link #write(List, Map, Map, Path, Map)} where a packed stage's samples of several sizes
     * come padded to the largest: {@code sizes} gives each one's own, by stage. A png is cut to
     * it; tensors write the padded batch and {@code NAME.sizes} beside it; a grid shows the
     * padding (−1, black).
     */
    public static List<Path> write(
            List<PipelineSettings.Output> outputs,
            Map<String, Tensor> results,
            Map<String, long[]> classes,
            Map<String, int[][]> sizes,
            Path outDir,
            Map<String, String> metadata)
            throws IOException {
        checkWritable(outDir);
        try (OutputSet set = OutputSet.open()) {
            for (PipelineSettings.Output o : outputs) {
                // absolute first: "." normalizes to the empty path, which no file starts with
                Path file = outDir.toAbsolutePath().resolve(o.file()).normalize();
                if (!file.startsWith(
                        outDir.toAbsolutePath().normalize())) { // the compiler refuses such names; never write there
                    throw new IOException("output " + o.file() + " is outside the output folder " + outDir);
                }
                switch (o.format()) {
                    case "tensors" -> {
                        SequencedMap<String, Tensor> named = new LinkedHashMap<>();
                        for (String n : o.names()) {
                            named.put(n, results.get(n));
                            // a stage's parts beside it (a pack stage's segments and positions)
                            results.forEach((k, v) -> {
                                if (k.startsWith(n + ".")) {
                                    named.put(k, v);
                                }
                            });
                            if (sizes.containsKey(n)) {
                                named.put(n + ".sizes", sizesTensor(sizes.get(n)));
                            }
                        }
                        SafetensorsWriter.write(file, named, metadata, set);
                    }
                    case "png" ->
                        ImageOutput.perSample(
                                image(results, o), sizes.get(o.names().get(0)), file, set, metadata);
                    case "grid" -> {
                        // clips [N, F, C, H, W]: a contact sheet, one clip a row of its frames
                        Tensor t = results.get(o.names().get(0));
                        boolean clips = t.rank() == 5;
                        Tensor frames = clips
                                ? t.contiguous().reshape(t.size(0) * t.size(1), t.size(2), t.size(3), t.size(4))
                                : image(results, o);
                        int columns = o.columns() > 0 || !clips ? o.columns() : t.size(1);
                        ImageOutput.grid(
                                frames,
                                file,
                                set,
                                columns,
                                o.scale(),
                                labels(o, classes, clips ? t.size(1) : 1),
                                metadata);
                    }
                    case "preview" ->
                        ImageOutput.grid(latentPreview(results, o), file, set, o.columns(), o.scale(), metadata);
                    case "video" -> VideoOutput.write(video(results, o), file, o.fps(), o.scale(), set);
                    default -> throw new IllegalStateException("unknown output format " + o.format());
                }
            }
            List<Path> written = new ArrayList<>();
            for (Path p : set.commit()) { // as the caller named them, not absolute
                written.add(outDir.resolve(outDir.toAbsolutePath().normalize().relativize(p))
                        .normalize());
            }
            return written;
        }
    }

    /** Each sample's own size as I64 [N, 2] (or [N, 3] with frames). */
    private static Tensor sizesTensor(int[][] sizes) {
        int rank = sizes[0].length;
        long[] v = new long[sizes.length * rank];
        for (int i = 0; i < sizes.length; i++) {
            for (int d = 0; d < rank; d++) {
                v[i * rank + d] = sizes[i][d];
            }
        }
        return Tensor.ofLongs(java.lang.foreign.Arena.ofAuto(), v, sizes.length, rank);
    }

    private static Tensor latentPreview(Map<String, Tensor> results, PipelineSettings.Output o) {
        Tensor t = image(results, o);
        if (t.size(1) != 4) {
            throw new IllegalArgumentException(o.span() + ": preview("
                    + o.names().get(0)
                    + ") shows 4-channel Stable Diffusion VAE latents, got " + java.util.Arrays.toString(t.shape())
                    + "; grid(...) shows any tensor");
        }
        return LatentPreview.rgb(t);
    }

    private static Tensor video(Map<String, Tensor> results, PipelineSettings.Output o) {
        Tensor t = results.get(o.names().get(0));
        if (t.rank() != 4 && t.rank() != 5) {
            throw new IllegalArgumentException(o.span() + ": video(" + o.names().get(0)
                    + ") needs videos [N, F, C, H, W] or images [N, C, H, W], got "
                    + java.util.Arrays.toString(t.shape()));
        }
        return t;
    }

    /**
     * A grid's label for each tile (a clip's only under its first frame), or null: the class each
     * sample was sampled for, as a number or by its name in {@code o.labels()}.
     */
    private static List<String> labels(PipelineSettings.Output o, Map<String, long[]> classes, int framesPerSample) {
        if (o.labels() == null) {
            return null;
        }
        long[] cls = classes.get(o.names().get(0));
        if (cls == null) {
            throw new IllegalArgumentException(o.span() + ": grid(" + o.names().get(0)
                    + ", labels = ...) labels the classes a sample stage sampled; '"
                    + o.names().get(0)
                    + "' is not one");
        }
        List<String> out = new ArrayList<>();
        for (long c : cls) {
            String label = o.labels().isEmpty()
                    ? Long.toString(c)
                    : c < o.labels().size() ? o.labels().get((int) c) : Long.toString(c);
            for (int f = 0; f < framesPerSample; f++) {
                out.add(f == 0 ? label : "");
            }
        }
        return out;
    }

    private static Tensor image(Map<String, Tensor> results, PipelineSettings.Output o) {
        Tensor t = results.get(o.names().get(0));
        if (t.rank() != 4) {
            throw new IllegalArgumentException(
                    o.span() + ": " + o.format() + "(" + o.names().get(0)
                            + ") needs a [N, C, H, W] tensor, got " + java.util.Arrays.toString(t.shape())
                            + (t.rank() == 5
                                    ? " (clips: grid(...) draws each as a row of frames, video(...) animates them)"
                                    : ""));
        }
        return t;
    }

    /** The files data set {@code d} of stage {@code stage} reads, into {@code inputs}; a folder must not hold {@code outDir}. */
    private static void dataInputs(PipelineSettings.Dataset d, String stage, Path outDir, Map<Path, String> inputs) {
        switch (d) {
            case PipelineSettings.IdxData idx -> {
                inputs.put(idx.images(), "the images of stage " + stage);
                inputs.put(idx.labels(), "the labels of stage " + stage);
            }
            case PipelineSettings.MovingMnistData m -> {
                inputs.put(m.images(), "the digits of stage " + stage);
                inputs.put(m.labels(), "the labels of stage " + stage);
            }
            case PipelineSettings.ImageFolderData f -> {
                // a grid written among the images would be trained on by the next run
                Path folder = f.folder().toAbsolutePath().normalize();
                if (outDir.toAbsolutePath().normalize().startsWith(folder)) {
                    throw new IllegalArgumentException("--out " + outDir + " is inside " + folder
                            + ", the images of stage " + stage + "; choose a folder outside it");
                }
            }
            case PipelineSettings.MixedData mix -> {
                for (PipelineSettings.Dataset part : mix.parts()) {
                    dataInputs(part, stage, outDir, inputs);
                }
            }
            case null -> {}
        }
    }
}
