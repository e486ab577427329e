package org.tessera.dsl.sema;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.tessera.dsl.ast.Ast;
import org.tessera.dsl.diag.Diagnostics;
import org.tessera.dsl.pipeline.PipelineSettings;

/**
 * An {@code output "file" = format(results, ...)} line: the format and its options, and a file
 * name that stays inside the output folder and that the locale can spell.
 */
final class OutputReader {
    private static final Set<String> FORMATS = Set.of("tensors", "png", "grid", "preview", "video", "weights");
    private final Diagnostics diagnostics;
    private final ArgReader values;

    OutputReader(Diagnostics diagnostics, ArgReader values) {
        this.diagnostics = diagnostics;
        this.values = values;
    }

    PipelineSettings.Output read(Ast.OutputSetting o) {
        if (!(o.value() instanceof Ast.Call c) || c.callee().size() != 1 || !FORMATS.contains(c.dotted())) {
            diagnostics.error(
                    o.value().span(),
                    "an output is tensors(...), png(...), grid(...), preview(...), video(...) or weights(...)");
            return null;
        }
        List<String> names = new ArrayList<>();
        boolean tiled = c.dotted().equals("grid") || c.dotted().equals("preview");
        boolean video = c.dotted().equals("video");
        int columns = 0;
        int scale = 1;
        int fps = video ? 8 : 0;
        List<String> labels = null;
        boolean averaged = true;
        for (Ast.Arg a : c.args()) {
            if (c.dotted().equals("grid") && "labels".equals(a.name())) {
                // labels = true: each sample's class number; labels = ["T-shirt", ...]: names by class
                if (a.value() instanceof Ast.BoolLit b) {
                    labels = b.value() ? List.of() : null;
                } else if (a.value() instanceof Ast.ListLit l
                        && l.items().stream().allMatch(Ast.StringLit.class::isInstance)) {
                    labels = l.items().stream()
                            .map(x -> ((Ast.StringLit) x).value())
                            .toList();
                } else {
                    diagnostics.error(
                            a.value().span(),
                            "labels = true (the class numbers) or a list of names by class, [\"T-shirt\", ...]");
                    return null;
                }
            } else if (tiled && "columns".equals(a.name())) {
                columns = (int) values.count(a.value(), "columns", 1, 4096);
            } else if ((tiled || video) && "scale".equals(a.name())) {
                scale = (int) values.count(a.value(), "scale", 1, 16);
            } else if (video && "fps".equals(a.name())) {
                fps = (int) values.count(a.value(), "fps", 1, 100);
            } else if (c.dotted().equals("weights") && "ema".equals(a.name())) {
                if (!(a.value() instanceof Ast.BoolLit b)) {
                    diagnostics.error(
                            a.value().span(),
                            "ema = true (the moving average, the default) or false (the weights the run ends with)");
                    return null;
                }
                averaged = b.value();
            } else if (a.name() != null || !(a.value() instanceof Ast.Name n)) {
                diagnostics.error(
                        a.span(),
                        c.dotted() + "(...) takes result names, e.g. " + c.dotted() + "(samples)"
                                + (tiled ? ", and columns = N and scale = N (pixels per sample pixel)" : "")
                                + (c.dotted().equals("grid") ? ", and labels = true or [names by class]" : "")
                                + (video ? ", and fps = N (default 8) and scale = N (pixels per sample pixel)" : "")
                                + (c.dotted().equals("weights")
                                        ? ", and ema = false for the weights the run ends with"
                                        : ""));
                return null;
            } else {
                names.add(n.dotted());
            }
        }
        if (names.isEmpty() || (!c.dotted().equals("tensors") && names.size() != 1)) {
            diagnostics.error(
                    c.span(),
                    c.dotted() + "(...) takes "
                            + (c.dotted().equals("tensors") ? "one or more result names" : "exactly one result name"));
            return null;
        }
        String expectedExt = Set.of("tensors", "weights").contains(c.dotted()) ? ".safetensors" : ".png";
        if (video
                && !o.file().endsWith(".gif")
                && !o.file().endsWith(".mp4")
                && !o.file().endsWith(".png")) {
            diagnostics.error(
                    o.span(),
                    "video(...) writes an animated .gif, an H.264 .mp4 or numbered .png frames, but the output is"
                            + " named \"" + o.file() + "\"");
            return null;
        }
        if (!video && !o.file().endsWith(expectedExt)) {
            diagnostics.error(
                    o.span(),
                    c.dotted() + "(...) writes a " + expectedExt + " file, but the output is named \"" + o.file()
                            + "\"");
            return null;
        }
        if (!fileNameEncodable(o.file())) {
            // Found now, not when the outputs are written after the whole computation.
            diagnostics.error(
                    o.span(),
                    "output \"" + o.file() + "\" cannot be a file name in this locale's character set ("
                            + System.getProperty("sun.jnu.encoding", "unknown")
                            + "); use a UTF-8 locale (e.g. LANG=C.UTF-8) or an ASCII name");
            return null;
        }
        if (!insideOutputFolder(o.file())) {
            diagnostics.error(
                    o.span(),
                    "output \"" + o.file() + "\" must stay inside the output folder: a relative path without '..'");
            return null;
        }
        return new PipelineSettings.Output(
                o.file(), c.dotted(), names, columns, scale, fps, labels, averaged, o.span());
    }

    /**
     * Whether an output name stays under {@code --out}: relative, no {@code ..} part, not empty.
     * An absolute path or one that climbs out could overwrite anything, the pipeline's own
     * weights included.
     */
    static boolean insideOutputFolder(String file) {
        if (file.isEmpty() || file.startsWith("/") || file.startsWith("\\") || file.contains("\0")) {
            return false;
        }
        try {
            java.nio.file.Path p = java.nio.file.Path.of(file);
            if (p.isAbsolute() || p.getRoot() != null) {
                return false;
            }
            for (java.nio.file.Path part : p) {
                if (part.toString().equals("..")) {
                    return false;
                }
            }
            return true;
        } catch (java.nio.file.InvalidPathException e) {
            return false;
        }
    }

    /** Whether the file system's encoding (the locale's) can spell {@code file}. */
    static boolean fileNameEncodable(String file) {
        if (file.contains("\0")) {
            return true; // not an encoding matter: insideOutputFolder refuses it
        }
        try {
            java.nio.file.Path.of(file);
            return true;
        } catch (java.nio.file.InvalidPathException e) {
            return false;
        }
    }
}
