package org.tessera.dsl.sema;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.tessera.dsl.ast.Ast;
import org.tessera.dsl.diag.Diagnostics;
import org.tessera.dsl.diag.Span;
import org.tessera.dsl.parser.TesseraParserFacade;

/**
 * Reads a root file and its imports. An import resolves relative to the importing file (unless
 * that is the importing file itself), then in
 * the standard library shipped in the jar ({@code stdlib/*.tess}); each file loads once.
 */
public final class Loader {
    /** Classpath folder of the standard library. */
    public static final String STDLIB = "/org/tessera/dsl/stdlib/";
    /** Standard library files every program sees without importing them: the samplers. */
    private static final List<String> PRELUDE = List.of("samplers.tess");
    /** The name stdlib files carry in messages. */
    private static final String STDLIB_PREFIX = "stdlib/";

    private final Diagnostics diagnostics;
    private final List<Ast.SourceFile> files = new ArrayList<>();
    private final Set<String> loaded = new HashSet<>();

    private Loader(Diagnostics diagnostics) {
        this.diagnostics = diagnostics;
    }

    /** Loads {@code path} and its imports. */
    public static Program load(Path path, Diagnostics diagnostics) {
        Loader l = new Loader(diagnostics);
        String display = path.toString();
        String text;
        try {
            if (Files.exists(path) && !Files.isRegularFile(path)) {
                // A folder, a FIFO (which would block the read forever) or a device is no script.
                throw new IOException("not a regular file");
            }
            text = Files.readString(path, StandardCharsets.UTF_8);
        } catch (IOException e) {
            diagnostics.error(new Span(display, 1, 1, 1, 1), "cannot read " + display + ": " + reason(e));
            return Program.index(new Ast.SourceFile(display, List.of()), List.of(), diagnostics);
        }
        Ast.SourceFile root = l.parse(display, text, path.toAbsolutePath().getParent());
        l.prelude(root);
        return Program.index(root, l.files, diagnostics);
    }

    /** Loads source text held in memory (named {@code name}); imports resolve against {@code dir} and the stdlib. */
    public static Program loadText(String name, String text, Path dir, Diagnostics diagnostics) {
        Loader l = new Loader(diagnostics);
        Ast.SourceFile root = l.parse(name, text, dir);
        l.prelude(root);
        return Program.index(root, l.files, diagnostics);
    }

    private Ast.SourceFile parse(String display, String text, Path dir) {
        loaded.add(display);
        Ast.SourceFile file = TesseraParserFacade.parse(display, text, diagnostics);
        files.add(file);
        for (Ast.Decl d : file.declarations()) {
            if (d instanceof Ast.Import imp) {
                importFile(imp, dir);
            }
        }
        return file;
    }

    /** Loads the prelude from the standard library, as if {@code root} imported it. */
    private void prelude(Ast.SourceFile root) {
        for (String file : PRELUDE) {
            importFile(new Ast.Import(file, new Span(root.path(), 1, 1, 1, 1)), null);
        }
    }

    private void importFile(Ast.Import imp, Path dir) {
        String target = imp.path();
        if (!target.endsWith(".tess")) {
            // Only scripts: a syntax error in any other file would quote its lines (a system file's, say).
            diagnostics.error(imp.span(), "import \"" + target + "\": only .tess scripts can be imported");
            return;
        }
        if (dir != null) {
            Path local;
            try {
                local = dir.resolve(target).normalize();
            } catch (java.nio.file.InvalidPathException e) { // a NUL, or a character the locale cannot spell
                diagnostics.error(
                        imp.span(),
                        "import \"" + target.replace("\0", "\\0") + "\": not a valid file name here (" + e.getReason()
                                + ")");
                return;
            }
            // A script named like a standard library file (latte.tess importing "latte.tess") means
            // the library's: a file importing itself would import nothing.
            boolean self = local.toString().equals(imp.span().file());
            if (!self && Files.isRegularFile(local)) {
                String display = local.toString();
                if (loaded.contains(display)) {
                    return;
                }
                try {
                    parse(display, Files.readString(local, StandardCharsets.UTF_8), local.getParent());
                } catch (IOException e) {
                    diagnostics.error(imp.span(), "cannot read imported file " + display + ": " + reason(e));
                }
                return;
            }
        }
        String display = STDLIB_PREFIX + target;
        if (loaded.contains(display)) {
            return;
        }
        try (InputStream in = Loader.class.getResourceAsStream(STDLIB + target)) {
            if (in == null) {
                diagnostics.error(
                        imp.span(),
                        "cannot find \"" + target + "\": not next to this file" + (dir == null ? "" : " (" + dir + ")")
                                + " and not in the standard library");
                return;
            }
            parse(display, new String(in.readAllBytes(), StandardCharsets.UTF_8), null);
        } catch (IOException e) {
            diagnostics.error(imp.span(), "cannot read standard library file " + target + ": " + reason(e));
        }
    }

    private static String reason(IOException e) {
        if (e instanceof java.nio.charset.CharacterCodingException) {
            return "not UTF-8 text";
        }
        return e instanceof java.nio.file.NoSuchFileException ? "no such file" : String.valueOf(e.getMessage());
    }
}
