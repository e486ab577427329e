package org.tessera.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.tessera.runtime.CheckReport;
import org.tessera.runtime.Tessera;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code tessera check FILE...}: every diagnostic, no compute; exit 0 when clean, 2 otherwise. */
@Command(
        name = "check",
        mixinStandardHelpOptions = true,
        header = "Check .tess files without running them; exit 0 when clean, 2 otherwise.",
        description = {
            "Check .tess files without running them: syntax, names, arity, block parameters,",
            "and the shapes of every model's forward pass (batch 2 where it is symbolic).",
            "Prints every diagnostic; exits 0 when clean and 2 otherwise."
        })
final class CheckCommand implements java.util.concurrent.Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(arity = "1..*", paramLabel = "FILE", description = "Scripts to check.")
    List<Path> files;

    @Override
    public Integer call() {
        long t0 = System.nanoTime();
        CheckReport report = Tessera.check(files);
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (!report.messages().isEmpty()) {
            err.print(report.rendered());
            err.flush(); // print() does not flush, and with no errors the summary goes to stdout
        }
        int errors = report.errors();
        int warnings = report.warnings();
        String summary = String.format(
                Locale.ROOT,
                "%d file%s checked in %.2fs: %d error%s, %d warning%s",
                files.size(),
                files.size() == 1 ? "" : "s",
                (System.nanoTime() - t0) / 1e9,
                errors,
                errors == 1 ? "" : "s",
                warnings,
                warnings == 1 ? "" : "s");
        (errors == 0 ? out : err).println(summary);
        return errors == 0 ? TesseraCommand.EXIT_OK : TesseraCommand.EXIT_USAGE;
    }
}
