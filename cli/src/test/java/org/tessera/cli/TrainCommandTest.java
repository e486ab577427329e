package org.tessera.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessera.engine.io.SafetensorsReader;

/** tessera train on a small generated IDX dataset: outputs, checkpoints, resume, and the errors. */
class TrainCommandTest {
    @TempDir
    Path dir;

    private static CliRun run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = TesseraCommand.execute(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new CliRun(code, out.toString(), err.toString());
    }

    /** 40 images of 12×12: class 0 a bright left half, class 1 a bright top half, with noise. */
    private void dataset() throws IOException {
        Random r = new Random(3);
        int n = 40;
        ByteBuffer images = ByteBuffer.allocate(16 + n * 144)
                .putInt(0x0803)
                .putInt(n)
                .putInt(12)
                .putInt(12);
        ByteBuffer labels = ByteBuffer.allocate(8 + n).putInt(0x0801).putInt(n);
        for (int i = 0; i < n; i++) {
            int label = i % 2;
            labels.put((byte) label);
            for (int y = 0; y < 12; y++) {
                for (int x = 0; x < 12; x++) {
                    boolean on = label == 0 ? x < 6 : y < 6;
                    images.put((byte) Math.max(0, Math.min(255, (on ? 220 : 30) + r.nextInt(20) - 10)));
                }
            }
        }
        try (OutputStream o = new GZIPOutputStream(Files.newOutputStream(dir.resolve("images.gz")))) {
            o.write(images.array());
        }
        Files.write(dir.resolve("labels"), labels.array());
    }

    private Path script(int steps) throws IOException {
        dataset();
        return Files.writeString(
                dir.resolve("t.tess"),
                "import \"dit.tess\"\npipeline t {\n    let dit = train(\n"
                        + "        model = DiT(input_size = 16, patch_size = 4, in_channels = 1, hidden_size = 32, depth = 1,"
                        + " num_heads = 2, num_classes = 2, learn_sigma = false),\n"
                        + "        weights = random(seed = 1),\n"
                        + "        data = idx(\"images.gz\", labels = \"labels\", pad = 2, flip = true),\n"
                        + "        optimizer = adamw(lr = 1e-3, warmup = 5),\n"
                        + "        batch = 4, steps = " + steps + ", checkpoint = 10, sample_every = 10, seed = 5)\n"
                        + "    output \"t.safetensors\" = weights(dit)\n"
                        + "    output \"last.safetensors\" = weights(dit, ema = false)\n}\n");
    }

    /** Six 28×28 "digits" in MNIST's IDX format: a bright bar whose place tells the class (0 or 1). */
    private void digits() throws IOException {
        int n = 6;
        ByteBuffer images = ByteBuffer.allocate(16 + n * 784)
                .putInt(0x0803)
                .putInt(n)
                .putInt(28)
                .putInt(28);
        ByteBuffer labels = ByteBuffer.allocate(8 + n).putInt(0x0801).putInt(n);
        for (int i = 0; i < n; i++) {
            labels.put((byte) (i % 2));
            for (int y = 0; y < 28; y++) {
                for (int x = 0; x < 28; x++) {
                    boolean on = y >= 8 && y < 20 && x >= 8 + 4 * (i % 2) && x < 16 + 4 * (i % 2);
                    images.put((byte) (on ? 240 : 0));
                }
            }
        }
        Files.write(dir.resolve("digits"), images.array());
        Files.write(dir.resolve("digit-labels"), labels.array());
    }

    private Path packedScript(String name, String model, String extra) throws IOException {
        return Files.writeString(
                dir.resolve(name + ".tess"),
                "import \"dit.tess\"\nimport \"packed.tess\"\npipeline t {\n    let dit = train(\n"
                        + "        model = " + model
                        + "(input_size = 16, patch_size = 4, in_channels = 1, hidden_size = 32,"
                        + " depth = 1, num_heads = 2, num_classes = 2, learn_sigma = false),\n"
                        + "        weights = init(seed = 1),\n"
                        + "        data = idx(\"images.gz\", labels = \"labels\", pad = 2),\n"
                        + "        optimizer = adamw(lr = 1e-3, warmup = 2),\n"
                        + "        batch = 4, steps = 3, seed = 5,\n"
                        + "        " + extra + ")\n"
                        + "    output \"t.safetensors\" = weights(dit)\n"
                        + "    output \"last.safetensors\" = weights(dit, ema = false)\n}\n");
    }

    /**
     * Patch n' Pack from a script: PackedDiT trains on three sizes packed per batch, patches
     * dropped at random; what it cannot do is refused with the line and a reason.
     */
    @Test
    void aPackedModelTrainsOnSeveralSizesFromAScript() throws Exception {
        dataset();
        Path good = packedScript(
                "packed", "PackedDiT", "sizes = [[16, 16], [16, 24], [24, 16]], pack = 40, drop = random(0.25)");
        CliRun ok = run("train", good.toString(), "--out", dir.resolve("out").toString(), "--threads", "1");
        assertEquals(0, ok.code(), ok.err());
        assertTrue(
                ok.err()
                        .contains("each at one of 16×16, 16×24, 24×16, into rows of 40 tokens, each patch left out at"
                                + " random with probability 0.25"),
                ok.err());
        assertTrue(Files.exists(dir.resolve("out/t.safetensors")));

        String[][] refused = {
            {"PackedDiT", "sizes = [[16, 16]], drop = similar(0.9)", "4:15: ", "images have no frame before"},
            {"PackedDiT", "sizes = [[2, 16, 16]]", "7:16: ", "these data are images"},
            {"PackedDiT", "drop = random(1.5)", "10:23: ", "a drop rate is in [0, 1), got 1.5"},
            {"PackedDiT", "drop = similar(0.9, share = 0)", "10:37: ", "share is the part of the clips similarity thins"
            },
            {"PackedDiT", "drop = 0.5", "10:16: ", "drop is random(rate)"},
            {"DiT", "pack = 40", "4:15: ", "pack is for a packed model"},
            {"DiT", "drop = random(0.25)", "4:15: ", "drop is for a packed model"},
            {"PackedDiT", "objective = \"hybrid\"", "4:15: ", "does not take the hybrid loss"},
            {"PackedDiT", "objective = \"classify\", sizes = [[16, 16]]", "10:41: ", "a classifier"},
        };
        for (String[] r : refused) {
            Path bad = packedScript("bad", r[0], r[1]);
            CliRun no = run("train", bad.toString(), "--out", dir.resolve("bad").toString(), "--threads", "1");
            assertEquals(2, no.code(), r[1] + ": " + no.err()); // a script error, found before training
            assertTrue(no.err().contains(r[2]) && no.err().contains(r[3]), r[1] + ": " + no.err());
        }
    }

    /**
     * Patch n' Pack on clips: a PackedDiT with rotary (t, h, w) positions trains on Moving MNIST
     * clips of 3 and 2 frames and on single frames, packed per batch, the patches that repeat the
     * frame before left out; a model whose positions cannot tell frames apart is refused.
     */
    @Test
    void aPackedModelTrainsOnClipsAndFramesTogether() throws Exception {
        digits();
        String script = "import \"packed.tess\"\npipeline t {\n    let dit = train(\n"
                + "        model = PackedDiT(input_size = 32, patch_size = 8, in_channels = 1, hidden_size = 32,"
                + " depth = 1, num_heads = 2, num_classes = 2, learn_sigma = false, POSITIONS),\n"
                + "        weights = init(seed = 1),\n"
                + "        data = moving_mnist(\"digits\", labels = \"digit-labels\", digits = 2),\n"
                + "        batch = 3, steps = 3, seed = 5,\n"
                + "        SIZES)\n"
                + "    output \"t.safetensors\" = weights(dit)\n}\n";
        String rope = "positions = \"rope\", rope_sections = [4, 6, 6]";
        Path good = Files.writeString(
                dir.resolve("clips.tess"),
                script.replace("POSITIONS", rope)
                        .replace(
                                "SIZES",
                                "sizes = [[3, 32, 32], [2, 32, 24], [32, 32]], drop = similar(0.95, share = 0.5)"));
        CliRun ok = run("train", good.toString(), "--out", dir.resolve("out").toString(), "--threads", "1");
        assertEquals(0, ok.code(), ok.err());
        assertTrue(
                ok.err()
                        .contains("each at one of 3×32×32, 2×32×24, 32×32, into rows of 48 tokens, in a share of 0.5 of"
                                + " the clips, patches left out where their cosine similarity to the patch last kept at"
                                + " their place exceeds 0.95"),
                ok.err());
        assertTrue(ok.err().contains("train dit: step 3/3"), ok.err());
        assertTrue(Files.exists(dir.resolve("out/t.safetensors")));

        // images and clips from two data sets in one batch: the digits as images, and as clips
        Path mixed = Files.writeString(
                dir.resolve("mix.tess"),
                script.replace("POSITIONS", rope)
                        .replace("num_classes = 2", "num_classes = 4")
                        .replace(
                                "moving_mnist(\"digits\", labels = \"digit-labels\", digits = 2)",
                                "mix(idx(\"digits\", labels = \"digit-labels\", pad = 2),"
                                        + " moving_mnist(\"digits\", labels = \"digit-labels\", digits = 1))")
                        .replace("SIZES", "sizes = [[3, 32, 32], [32, 24]]"));
        CliRun mix =
                run("train", mixed.toString(), "--out", dir.resolve("mixed").toString(), "--threads", "1");
        assertEquals(0, mix.code(), mix.err());
        assertTrue(Files.exists(dir.resolve("mixed/t.safetensors")));
        CliRun few = run(
                "train",
                Files.writeString(
                                dir.resolve("few.tess"),
                                Files.readString(mixed).replace("num_classes = 4", "num_classes = 2"))
                        .toString(),
                "--out",
                dir.resolve("few").toString(),
                "--threads",
                "1");
        assertEquals(2, few.code(), few.err());
        assertTrue(
                few.err()
                        .contains(
                                "numbers its classes on from part to part, 0..3, more than the 2 classes of PackedDiT: give it"
                                        + " num_classes = 4"),
                few.err());

        String[][] refused = {
            {"positions = \"sincos\"", "sizes = [[3, 32, 32]]", "3:15: ", "place tokens in a frame only"},
            {rope, "drop = similar(0.9)", "3:15: ", "sizes = [[F, H, W], ...]"},
        };
        for (String[] r : refused) {
            Path bad = Files.writeString(
                    dir.resolve("bad.tess"), script.replace("POSITIONS", r[0]).replace("SIZES", r[1]));
            CliRun no = run("train", bad.toString(), "--out", dir.resolve("bad").toString(), "--threads", "1");
            assertEquals(2, no.code(), r[1] + ": " + no.err());
            assertTrue(no.err().contains(r[2]) && no.err().contains(r[3]), r[1] + ": " + no.err());
        }
    }

    /**
     * Video LDM's prediction mode from scripts: a VideoLDMContextDiT trains on Moving MNIST clips
     * given 0 or 1 of their first frames, then continues the data's clips in two segments; what
     * cannot work is refused with its place.
     */
    @Test
    void aContextModelTrainsAndThenContinuesClips() throws Exception {
        digits();
        String model = "VideoLDMContextDiT(input_size = 32, patch_size = 8, in_channels = 1, hidden_size = 32,"
                + " depth = 1, num_heads = 2, num_frames = 3, num_classes = 2, learn_sigma = false, predicts = \"v\")";
        String train = "import \"video.tess\"\npipeline t {\n    let ldm = train(\n"
                + "        model = MODEL,\n"
                + "        weights = init(seed = 1),\n"
                + "        data = moving_mnist(\"digits\", labels = \"digit-labels\", digits = 2),\n"
                + "        batch = 2, steps = 2, seed = 5, FRAMES)\n"
                + "    output \"t.safetensors\" = weights(ldm)\n}\n";
        Path good = Files.writeString(
                dir.resolve("ctx.tess"), train.replace("MODEL", model).replace("FRAMES", "context_frames = [0, 1]"));
        CliRun ok = run("train", good.toString(), "--out", dir.resolve("out").toString(), "--threads", "1");
        assertEquals(0, ok.code(), ok.err());
        assertTrue(ok.err().contains("each example is given its first 0, 1 frames, drawn uniformly"), ok.err());
        Path sample = Files.writeString(dir.resolve("continue.tess"), """
                import "video.tess"
                pipeline s {
                    model    = %s
                    weights  = "out/t.safetensors"
                    sampler  = ddim(steps = 2)
                    guidance = cfg(scale = 2.0, form = "standard")
                    classes  = [0, 0, 0]
                    context  = moving_mnist("digits", labels = "digit-labels", digits = 2)
                    context_frames = 1
                    segments = 2
                    output "clips.safetensors" = tensors(samples)
                }
                """.formatted(model));
        CliRun sampled = run("run", sample.toString(), "--out", dir.resolve("s").toString(), "--threads", "1");
        assertEquals(0, sampled.code(), sampled.err());
        assertTrue(sampled.err().contains("segment 2/2"), sampled.err());
        try (var f = org.tessera.engine.io.SafetensorsReader.open(dir.resolve("s/clips.safetensors"))) {
            assertArrayEquals(new int[] {3, 5, 1, 32, 32}, f.shape("samples"), "3 + 2 frames");
        }

        String[][] refused = {
            {
                model.replace("VideoLDMContextDiT", "VideoLDMDiT"),
                "context_frames = [0, 1]",
                "3:15: ",
                "VideoLDMDiT takes none"
            },
            {model, "context_frames = [0, 3]", "3:15: ", "3 context frames leave nothing to generate in a clip of 3"},
            {model, "context_frames = 2", "7:58: ", "context_frames is a list"},
        };
        for (String[] r : refused) {
            Path bad = Files.writeString(
                    dir.resolve("bad.tess"), train.replace("MODEL", r[0]).replace("FRAMES", r[1]));
            CliRun no = run("train", bad.toString(), "--out", dir.resolve("bad").toString(), "--threads", "1");
            assertEquals(2, no.code(), r[1] + ": " + no.err());
            assertTrue(no.err().contains(r[2]) && no.err().contains(r[3]), r[1] + ": " + no.err());
        }
    }

    /**
     * A tiny Latte on Moving MNIST made from generated 28×28 "digits" (a bright square per
     * class, in the IDX format MNIST uses): clips of 3 frames of 32×32 with two moving digits.
     */
    @Test
    void aLatteTrainsOnMovingMnistClips() throws Exception {
        digits();
        Path script = Files.writeString(
                dir.resolve("mm.tess"),
                "import \"latte.tess\"\npipeline mm {\n    let latte = train(\n"
                        + "        model = Latte(input_size = 32, patch_size = 8, in_channels = 1, hidden_size = 32,"
                        + " depth = 2, num_heads = 2, num_frames = 3, num_classes = 2, extras = 2, learn_sigma = false),\n"
                        + "        weights = init(seed = 1),\n"
                        + "        data = moving_mnist(\"digits\", labels = \"digit-labels\", digits = 2),\n"
                        + "        batch = 2, steps = 3, checkpoint = 3, sample_every = 3, seed = 5)\n"
                        + "    output \"mm.safetensors\" = weights(latte)\n}\n");
        CliRun r = run("train", script.toString(), "--out", dir.resolve("out").toString(), "--threads", "1");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("train latte: step 3/3"), r.err());
        assertTrue(Files.exists(dir.resolve("out/mm.safetensors")));
        // the samples of a clip model: one animated GIF, both classes side by side, all 3 frames
        Path gif = dir.resolve("out/latte.samples-3.gif");
        assertTrue(Files.exists(gif), r.err());
        javax.imageio.ImageReader reader =
                javax.imageio.ImageIO.getImageReadersByFormatName("gif").next();
        try (var in = javax.imageio.ImageIO.createImageInputStream(gif.toFile())) {
            reader.setInput(in);
            assertEquals(3, reader.getNumImages(true));
            assertEquals(2 * 2 * 32, reader.read(0).getWidth()); // two classes of 32 px, scale 2
        } finally {
            reader.dispose();
        }
        // a model that does not take grey square clips is told what the data gives
        Files.writeString(script, Files.readString(script).replace("in_channels = 1", "in_channels = 3"));
        CliRun wrong =
                run("train", script.toString(), "--out", dir.resolve("out2").toString(), "--threads", "1");
        assertEquals(2, wrong.code(), wrong.err());
        assertTrue(wrong.err().contains("moving_mnist(...) gives grey clips [F, 1, H, H]"), wrong.err());
        // a frame smaller than a digit: the clips are made at frame = 32 and shrunk to 16 × 16
        String small = Files.readString(script)
                .replace("in_channels = 3", "in_channels = 1")
                .replace("input_size = 32", "input_size = 16");
        Files.writeString(script, small);
        CliRun tooSmall =
                run("train", script.toString(), "--out", dir.resolve("out3").toString(), "--threads", "1");
        assertEquals(2, tooSmall.code(), tooSmall.err());
        assertTrue(
                tooSmall.err().contains("give frame = 64 to make them at 64×64 and shrink them to 16×16"),
                tooSmall.err());
        Files.writeString(script, small.replace("digits = 2)", "digits = 2, frame = 40)"));
        CliRun notAMultiple =
                run("train", script.toString(), "--out", dir.resolve("out4").toString(), "--threads", "1");
        assertEquals(2, notAMultiple.code(), notAMultiple.err());
        assertTrue(notAMultiple.err().contains("frame = 40 does not shrink to the model's 16×16"), notAMultiple.err());
        Files.writeString(script, small.replace("digits = 2)", "digits = 2, frame = 32)"));
        CliRun shrunk =
                run("train", script.toString(), "--out", dir.resolve("out5").toString(), "--threads", "1");
        assertEquals(0, shrunk.code(), shrunk.err());
        assertTrue(Files.exists(dir.resolve("out5/mm.safetensors")));
    }

    /**
     * DiT with class_dropout_prob = 0 has no null row in its label table, and so no null label:
     * it trains every label as given (the default label dropout follows the model; it drew the
     * missing row before), and a label dropout asked for is an error at the stage.
     */
    @Test
    void aDitWithoutANullLabelTrainsEveryLabelAsGiven() throws Exception {
        digits();
        String dit = "input_size = 32, patch_size = 8, in_channels = 1, hidden_size = 32, num_heads = 2, depth = 1,"
                + " num_classes = 2, learn_sigma = false, class_dropout_prob = 0.0";
        for (String dropout : new String[] {"", ", label_dropout = 0.5"}) {
            Path script = Files.writeString(
                    dir.resolve("nonull.tess"),
                    "import \"dit.tess\"\npipeline n {\n    let dit = train(\n"
                            + "        model = DiT(" + dit + "),\n        weights = init(seed = 1),\n"
                            + "        data = idx(\"digits\", labels = \"digit-labels\", pad = 2),\n"
                            + "        batch = 6, steps = 4, seed = 5" + dropout + ")\n"
                            + "    output \"n.safetensors\" = weights(dit)\n}\n");
            CliRun r = run(
                    "train", script.toString(), "--out", dir.resolve("nonull").toString(), "--threads", "1");
            if (dropout.isEmpty()) {
                assertEquals(0, r.code(), r.err());
                assertTrue(Files.exists(dir.resolve("nonull/n.safetensors")));
            } else {
                assertEquals(2, r.code(), r.err());
                assertTrue(
                        r.err()
                                .contains("nonull.tess:3:15: error: label_dropout = 0.5 trains labels as the null"
                                        + " label, and DiT has none"),
                        r.err());
            }
        }
    }

    /** An image DiT of {@code dit} (its arguments) trained for three steps on the digits: img/image.safetensors. */
    private void trainImageDit(String dit) throws IOException {
        Path image = Files.writeString(
                dir.resolve("image.tess"),
                "import \"dit.tess\"\npipeline i {\n    let dit = train(\n"
                        + "        model = DiT(" + dit + "),\n        weights = init(seed = 1),\n"
                        + "        data = idx(\"digits\", labels = \"digit-labels\", pad = 2),\n"
                        + "        batch = 2, steps = 3, checkpoint = 3, seed = 5)\n"
                        + "    output \"image.safetensors\" = weights(dit)\n}\n");
        CliRun first =
                run("train", image.toString(), "--out", dir.resolve("img").toString(), "--threads", "1");
        assertEquals(0, first.code(), first.err());
    }

    /**
     * Video LDM's temporal alignment: an image DiT trained first, then a VideoLDMDiT started from
     * its weights (init(from = ...)) with them frozen; after training, the image weights are the
     * file's bit for bit and the temporal layers have moved. One step is enough for them to move:
     * with α starting at 1 their first gradient would be zero (their output is weighed by 1 − α),
     * and AdamW would leave them as they were.
     */
    @Test
    void temporalLayersTrainOnAFrozenImageModel() throws Exception {
        digits();
        String dit = "input_size = 32, patch_size = 8, in_channels = 1, hidden_size = 32, depth = 2, num_heads = 2,"
                + " num_classes = 2, learn_sigma = false";
        trainImageDit(dit);
        Path video = Files.writeString(
                dir.resolve("video.tess"),
                "import \"video.tess\"\npipeline v {\n    let ldm = train(\n"
                        + "        model = VideoLDMDiT(" + dit + ", num_frames = 3),\n"
                        + "        weights = init(seed = 2, from = \"img/image.safetensors\"),\n"
                        + "        data = moving_mnist(\"digits\", labels = \"digit-labels\", digits = 1),\n"
                        + "        freeze = [\"x_embedder.*\", \"t_embedder.*\", \"y_embedder.*\", \"blocks.*\","
                        + " \"final_layer.*\"],\n"
                        + "        batch = 2, steps = 1, checkpoint = 1, ema = 0.0, seed = 5)\n"
                        + "    output \"video.safetensors\" = weights(ldm)\n}\n");
        CliRun second =
                run("train", video.toString(), "--out", dir.resolve("vid").toString(), "--threads", "1");
        assertEquals(0, second.code(), second.err());
        try (SafetensorsReader img = SafetensorsReader.open(dir.resolve("img/image.safetensors"));
                SafetensorsReader vid = SafetensorsReader.open(dir.resolve("vid/video.safetensors"))) {
            for (String key : img.names()) {
                org.junit.jupiter.api.Assertions.assertArrayEquals(
                        img.tensor(key).toFloatArray(), vid.tensor(key).toFloatArray(), key + " moved");
            }
            float[] gate =
                    vid.tensor("temporal.0.block.adaLN_modulation.1.weight").toFloatArray();
            boolean moved = false;
            for (float g : gate) {
                moved |= g != 0f;
            }
            assertTrue(moved, "the temporal layers did not train");
        }
    }

    /**
     * Latte's route from an image model (its paper starts from DiT's weights): the image DiT's
     * blocks renamed to the Latte's spatial blocks (init(from, rename)), the temporal blocks
     * drawn. Frozen, the renamed blocks are the file's bit for bit after a step; two keys renamed
     * onto one name are an error naming both.
     */
    @Test
    void latteStartsFromAnImageModelsBlocksRenamed() throws Exception {
        digits();
        String dims = "input_size = 32, patch_size = 8, in_channels = 1, hidden_size = 32, num_heads = 2,"
                + " num_classes = 2, learn_sigma = false";
        trainImageDit(dims + ", depth = 2");
        String latte = "import \"latte.tess\"\npipeline v {\n    let latte = train(\n"
                + "        model = Latte(" + dims + ", depth = 4, num_frames = 3, extras = 2),\n"
                + "        weights = init(seed = 2, from = \"img/image.safetensors\","
                + " rename = [[\"blocks.1.\", \"blocks.2.\"]]),\n"
                + "        data = moving_mnist(\"digits\", labels = \"digit-labels\", digits = 1),\n"
                + "        freeze = [\"blocks.0.*\", \"blocks.2.*\"],\n"
                + "        batch = 2, steps = 1, checkpoint = 1, ema = 0.0, seed = 5)\n"
                + "    output \"video.safetensors\" = weights(latte)\n}\n";
        Path video = Files.writeString(dir.resolve("latte.tess"), latte);
        CliRun second =
                run("train", video.toString(), "--out", dir.resolve("vid").toString(), "--threads", "1");
        assertEquals(0, second.code(), second.err());
        try (SafetensorsReader img = SafetensorsReader.open(dir.resolve("img/image.safetensors"));
                SafetensorsReader vid = SafetensorsReader.open(dir.resolve("vid/video.safetensors"))) {
            for (String key : img.names()) {
                if (key.startsWith("blocks.")) {
                    String to = key.replace("blocks.1.", "blocks.2.");
                    org.junit.jupiter.api.Assertions.assertArrayEquals(
                            img.tensor(key).toFloatArray(), vid.tensor(to).toFloatArray(), key + " as " + to);
                }
            }
            // the temporal block 1 was drawn, not taken from the image's block 1
            float[] qkv = vid.tensor("blocks.1.attn.qkv.weight").toFloatArray();
            assertFalse(
                    java.util.Arrays.equals(
                            qkv, img.tensor("blocks.1.attn.qkv.weight").toFloatArray()),
                    "blocks.1 is the image's");
        }
        Files.writeString(video, latte.replace("[[\"blocks.1.\", \"blocks.2.\"]]", "[[\"blocks.1.\", \"blocks.0.\"]]"));
        CliRun collide =
                run("train", video.toString(), "--out", dir.resolve("vid2").toString(), "--threads", "1");
        assertEquals(2, collide.code(), collide.err());
        assertTrue(
                collide.err()
                        .contains("'blocks.0.attn.qkv.weight' and 'blocks.1.attn.qkv.weight' would both be read as"
                                + " 'blocks.0.attn.qkv.weight'"),
                collide.err());
        Files.writeString(video, latte.replace("[[\"blocks.1.\", \"blocks.2.\"]]", "[[\"blok.1.\", \"blocks.2.\"]]"));
        CliRun typo =
                run("train", video.toString(), "--out", dir.resolve("vid4").toString(), "--threads", "1");
        assertEquals(2, typo.code(), typo.err());
        assertTrue(typo.err().contains("image.safetensors: no key starts with \"blok.1.\" to rename"), typo.err());
        Files.writeString(video, latte.replace("[[\"blocks.1.\", \"blocks.2.\"]]", "[\"blocks.1.\"]"));
        CliRun malformed =
                run("train", video.toString(), "--out", dir.resolve("vid3").toString(), "--threads", "1");
        assertEquals(2, malformed.code(), malformed.err());
        assertTrue(malformed.err().contains("rename takes pairs of key prefixes"), malformed.err());
    }

    @Test
    void trainsWritesCheckpointsAndResumesWhereItStopped() throws Exception {
        Path script = script(20);
        Path out = dir.resolve("out");
        CliRun first = run("train", script.toString(), "--out", out.toString(), "--threads", "1");
        assertEquals(0, first.code(), first.err());
        assertTrue(first.err().contains("train dit: step 20/20"), first.err());
        assertTrue(Files.exists(out.resolve("dit.checkpoint.safetensors")));
        assertTrue(Files.exists(out.resolve("dit.loss.png")));
        assertTrue(Files.exists(out.resolve("dit.samples-10.png")) && Files.exists(out.resolve("dit.samples-20.png")));
        java.awt.image.BufferedImage grid =
                javax.imageio.ImageIO.read(out.resolve("dit.samples-20.png").toFile());
        assertEquals(2 + 2 * (2 * 16 + 2), grid.getWidth()); // both classes in a row, each 16 px twice over
        try (SafetensorsReader r = SafetensorsReader.open(out.resolve("t.safetensors"))) {
            assertTrue(
                    r.contains("pos_embed") && r.contains("blocks.0.attn.qkv.weight"),
                    r.names().toString());
            assertEquals("ema", r.metadata().get("weights"));
        }
        // weights(dit, ema = false): the weights the run ended with, as its checkpoint holds them
        try (SafetensorsReader ema = SafetensorsReader.open(out.resolve("t.safetensors"));
                SafetensorsReader last = SafetensorsReader.open(out.resolve("last.safetensors"));
                SafetensorsReader ckpt = SafetensorsReader.open(out.resolve("dit.checkpoint.safetensors"))) {
            assertEquals("final", last.metadata().get("weights"));
            assertEquals(ema.names(), last.names());
            String key = "blocks.0.attn.qkv.weight";
            org.junit.jupiter.api.Assertions.assertArrayEquals(
                    ckpt.tensor("model." + key).toFloatArray(), last.tensor(key).toFloatArray());
            assertFalse(java.util.Arrays.equals(
                    ckpt.tensor("model." + key).toFloatArray(), ema.tensor(key).toFloatArray()));
            org.junit.jupiter.api.Assertions.assertArrayEquals(
                    ema.tensor("pos_embed").toFloatArray(),
                    last.tensor("pos_embed").toFloatArray());
        }
        // the same command with more steps continues from step 21
        CliRun more =
                run("train", script.toString(), "--out", out.toString(), "--threads", "1", "--set", "dit.steps=30");
        assertEquals(0, more.code(), more.err());
        assertTrue(more.err().contains("train dit: resuming at step 21 of 30"), more.err());
        // and the weights it wrote load into a sampling pipeline of the same model
        Path sample = Files.writeString(
                dir.resolve("s.tess"),
                "import \"dit.tess\"\npipeline s {\n"
                        + "    model = DiT(input_size = 16, patch_size = 4, in_channels = 1, hidden_size = 32, depth = 1,"
                        + " num_heads = 2, num_classes = 2, learn_sigma = false)\n"
                        + "    weights = \"out/t.safetensors\"\n    sampler = ddim(steps = 5)\n    classes = [0, 1]\n"
                        + "    output \"g.png\" = grid(samples)\n}\n");
        CliRun sampled = run("run", sample.toString(), "--out", dir.resolve("s").toString(), "--threads", "1");
        assertEquals(0, sampled.code(), sampled.err());
    }

    @Test
    void runRefusesATrainingPipelineAndTrainRefusesBadData() throws Exception {
        Path script = script(5);
        CliRun r = run("run", script.toString(), "--out", dir.resolve("o").toString());
        assertEquals(2, r.code());
        assertTrue(
                r.err().contains(script + ":3:5: error: stage 'dit' trains a model: run this pipeline with"), r.err());
        Files.writeString(script, Files.readString(script).replace("pad = 2", "pad = 3"));
        CliRun bad = run("train", script.toString(), "--out", dir.resolve("o").toString());
        assertEquals(2, bad.code());
        assertTrue(
                bad.err().contains("error: the images are [1, 18, 18] (grey, padded by 3), but DiT takes [1, 16, 16]"),
                bad.err());
        assertFalse(bad.err().contains("\tat "));
        // the hybrid loss trains a learned variance, which this DiT (learn_sigma = false) has not
        Files.writeString(
                script,
                Files.readString(script)
                        .replace("pad = 3", "pad = 2")
                        .replace("seed = 5)", "seed = 5, objective = \"hybrid\")"));
        CliRun hybrid =
                run("train", script.toString(), "--out", dir.resolve("o").toString(), "--threads", "1");
        assertEquals(2, hybrid.code(), hybrid.err());
        assertTrue(
                hybrid.err()
                        .contains(":3:15: error: the hybrid loss trains a learned range of variances; DiT has"
                                + " variance = \"fixed_large\" and 1 output channels for 1"),
                hybrid.err());
    }

    @Test
    void aClassifierLearnsTheClassesAndThenJudgesAGeneratorsSamples() throws Exception {
        dataset();
        String vit = "ViT(img_size = 16, patch_size = 4, in_chans = 1, embed_dim = 16, depth = 1, num_heads = 2,"
                + " num_classes = 2)";
        Path script = Files.writeString(
                dir.resolve("c.tess"),
                "import \"vit.tess\"\npipeline c {\n    let judge = train(\n"
                        + "        model = " + vit + ",\n"
                        + "        objective = \"classify\",\n"
                        + "        weights = init(seed = 2),\n"
                        + "        data = idx(\"images.gz\", labels = \"labels\", pad = 2, flip = true),\n"
                        + "        test = idx(\"images.gz\", labels = \"labels\", pad = 2),\n"
                        + "        optimizer = adamw(lr = 3e-3, warmup = 5),\n"
                        + "        batch = 8, steps = 60, ema = 0.9, checkpoint = 30, seed = 5)\n"
                        + "    output \"judge.safetensors\" = weights(judge)\n}\n");
        Path out = dir.resolve("out");
        CliRun trained = run("train", script.toString(), "--out", out.toString(), "--threads", "1");
        assertEquals(0, trained.code(), trained.err());
        // two classes this far apart are learnt completely; 40 held-out examples in one padded batch
        assertTrue(
                trained.err().contains("train judge: test accuracy 100.00% (40 of 40 held-out examples"),
                trained.err());
        try (SafetensorsReader r = SafetensorsReader.open(out.resolve("judge.safetensors"))) {
            assertEquals("1.0000 (40 of 40)", r.metadata().get("test_accuracy"));
            assertTrue(
                    r.contains("head.weight") && r.contains("blocks.0.attn.qkv.weight"),
                    r.names().toString());
        }
        // a random generator's samples, judged: the report names the stage and counts every sample
        Path judge = Files.writeString(
                dir.resolve("j.tess"),
                "import \"dit.tess\"\nimport \"vit.tess\"\npipeline j {\n"
                        + "    let s = sample(model = DiT(input_size = 16, patch_size = 4, in_channels = 1,"
                        + " hidden_size = 32, depth = 1, num_heads = 2, num_classes = 2, learn_sigma = false),"
                        + " weights = random(seed = 1), sampler = ddim(steps = 2), classes = range(2) * 3)\n"
                        + "    let judged = classify(s, model = " + vit + ", weights = \"out/judge.safetensors\")\n"
                        + "    output \"j.safetensors\" = tensors(judged)\n}\n");
        CliRun judged = run("run", judge.toString(), "--out", dir.resolve("j").toString(), "--threads", "1");
        assertEquals(0, judged.code(), judged.err());
        assertTrue(
                judged.err()
                        .matches("(?s).*stage judged: \\d of 6 samples \\(\\d+\\.\\d%\\) are labelled with the class"
                                + " they were sampled for; by class 0: \\d+%, 1: \\d+%.*"),
                judged.err());
        try (SafetensorsReader r = SafetensorsReader.open(dir.resolve("j/j.safetensors"))) {
            assertEquals("[6, 2]", java.util.Arrays.toString(r.shape("judged")));
        }
    }

    @Test
    void aClassifierNeedsLogitsAndLabelsItCanTellApart() throws Exception {
        dataset();
        Path script = Files.writeString(
                dir.resolve("c.tess"),
                "import \"vit.tess\"\npipeline c {\n    let judge = train(\n"
                        + "        model = ViT(img_size = 16, patch_size = 4, in_chans = 1, embed_dim = 16, depth = 1,"
                        + " num_heads = 2, num_classes = 1),\n"
                        + "        objective = \"classify\", weights = init(seed = 2),\n"
                        + "        data = idx(\"images.gz\", labels = \"labels\", pad = 2), steps = 2)\n"
                        + "    output \"judge.safetensors\" = weights(judge)\n}\n");
        CliRun r = run("train", script.toString(), "--out", dir.resolve("o").toString(), "--threads", "1");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("c.tess:6:16: error: label 1 is outside 0..0 of ViT"), r.err());
        assertFalse(r.err().contains("\tat "), r.err());
    }

    @Test
    void aFlowTrainsAndShowsItsSamples() throws Exception {
        dataset();
        Path script = Files.writeString(
                dir.resolve("f.tess"),
                "import \"dit.tess\"\npipeline f {\n    let flow = train(\n"
                        + "        model = DiT(input_size = 16, patch_size = 4, in_channels = 1, hidden_size = 32, depth = 1,"
                        + " num_heads = 2, num_classes = 2, learn_sigma = false, predicts = \"flow\"),\n"
                        + "        weights = init(seed = 1), schedule = flow(1000, shift = 2.0),\n"
                        + "        data = idx(\"images.gz\", labels = \"labels\", pad = 2),\n"
                        + "        batch = 4, steps = 6, sample_every = 3, seed = 5)\n"
                        + "    output \"f.safetensors\" = weights(flow)\n}\n");
        Path out = dir.resolve("out");
        CliRun r = run("train", script.toString(), "--out", out.toString(), "--threads", "1");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("train flow: samples at step 6: "), r.err());
        assertTrue(Files.exists(out.resolve("flow.samples-3.png")) && Files.exists(out.resolve("f.safetensors")));
        // an ε model is not trained as a flow
        Files.writeString(script, Files.readString(script).replace(", predicts = \"flow\"", ""));
        CliRun wrong =
                run("train", script.toString(), "--out", dir.resolve("o2").toString(), "--threads", "1");
        assertEquals(2, wrong.code(), wrong.err());
        assertTrue(
                wrong.err()
                        .contains("a flow schedule trains a model that predicts the flow's velocity; DiT's contract"
                                + " says predicts = \"eps\""),
                wrong.err());
    }

    /** A folder per class of small PNGs and JPEGs, of other sizes than the model's: class "dark" and class "light". */
    private Path folder() throws IOException {
        Path root = dir.resolve("pictures");
        Random r = new Random(4);
        for (String c : new String[] {"light", "dark"}) {
            Files.createDirectories(root.resolve(c));
            for (int i = 0; i < 6; i++) {
                java.awt.image.BufferedImage img =
                        new java.awt.image.BufferedImage(20 + i, 24, java.awt.image.BufferedImage.TYPE_INT_RGB);
                for (int y = 0; y < 24; y++) {
                    for (int x = 0; x < 20 + i; x++) {
                        int v = (c.equals("light") ? 200 : 40) + r.nextInt(30);
                        img.setRGB(x, y, v << 16 | v << 8 | v);
                    }
                }
                javax.imageio.ImageIO.write(
                        img,
                        i % 2 == 0 ? "png" : "jpg",
                        root.resolve(c)
                                .resolve(i + (i % 2 == 0 ? ".png" : ".jpg"))
                                .toFile());
            }
        }
        Files.writeString(root.resolve("dark").resolve("notes.txt"), "not an image: ignored");
        return root;
    }

    @Test
    void aFolderOfImagesIsAClassPerSubFolder() throws Exception {
        Path pictures = folder();
        Path script = Files.writeString(
                dir.resolve("i.tess"),
                "import \"vit.tess\"\npipeline i {\n    let judge = train(\n"
                        + "        model = ViT(img_size = 16, patch_size = 4, in_chans = 3, embed_dim = 16, depth = 1,"
                        + " num_heads = 2, num_classes = 2),\n"
                        + "        objective = \"classify\", weights = init(seed = 2),\n"
                        + "        data = images(\"pictures\", crop = \"random\", flip = true),\n"
                        + "        test = images(\"pictures\", crop = \"center\"),\n"
                        + "        optimizer = adamw(lr = 3e-3), batch = 4, steps = 30, ema = 0.5, seed = 1)\n"
                        + "    output \"judge.safetensors\" = weights(judge)\n}\n");
        CliRun r = run("train", script.toString(), "--out", dir.resolve("o").toString(), "--threads", "1");
        assertEquals(0, r.code(), r.err());
        // "dark" is class 0 and "light" class 1 (name order); twelve images, told apart
        assertTrue(r.err().contains("train judge: test accuracy 100.00% (12 of 12 held-out examples"), r.err());

        // a file that is not an image, under an image's name, is named
        Files.writeString(pictures.resolve("light").resolve("broken.png"), "not a png");
        CliRun broken =
                run("train", script.toString(), "--out", dir.resolve("o2").toString(), "--threads", "1");
        assertEquals(2, broken.code(), broken.err());
        assertTrue(
                broken.err()
                        .contains(
                                "i.tess:6:16: error: cannot read the images: " + pictures.resolve("light/broken.png")),
                broken.err());
        assertFalse(broken.err().contains("\tat "), broken.err());
        // more classes than the model tells apart
        Files.delete(pictures.resolve("light").resolve("broken.png"));
        Files.createDirectories(pictures.resolve("medium"));
        Files.copy(
                pictures.resolve("light").resolve("0.png"),
                pictures.resolve("medium").resolve("0.png"));
        CliRun three =
                run("train", script.toString(), "--out", dir.resolve("o3").toString(), "--threads", "1");
        assertEquals(2, three.code(), three.err());
        assertTrue(
                three.err().contains("error: label 2 is outside 0..1 of ViT (its classes: dark, light, medium)"),
                three.err());
    }
}
