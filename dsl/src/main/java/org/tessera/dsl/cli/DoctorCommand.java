package org.tessera.dsl.cli;

import java.io.PrintWriter;
import java.util.Locale;
import org.tessera.engine.backend.Backends;
import org.tessera.ffi.CudaLibraries;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code tessera doctor}: what this machine offers Tessera — JDK, CPU backend, CUDA libraries. */
@Command(name = "doctor", mixinStandardHelpOptions = true,
        description = {"Report the JDK, the CPU backend that would be chosen and why,",
            "and which CUDA 13 libraries were found (the CUDA backend itself is not built yet)."})
final class DoctorCommand implements java.util.concurrent.Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        out.printf(Locale.ROOT, "java     %s (%s), %d processors%n", Runtime.version(), System.getProperty("java.vm.name"),
                Runtime.getRuntime().availableProcessors());
        out.println("cpu      " + Backends.describeCpu());
        boolean all = true;
        for (CudaLibraries.Found f : CudaLibraries.locate()) {
            all &= f.ok();
            out.printf(Locale.ROOT, "%-8s %s%n", f.name(), f.ok() ? f.path() : f.file() + ": " + f.problem());
        }
        out.println("cuda     not available: the CUDA backend is not part of this build yet"
                + (all ? " (all its libraries were found)" : ""));
        return TesseraCommand.EXIT_OK;
    }
}
