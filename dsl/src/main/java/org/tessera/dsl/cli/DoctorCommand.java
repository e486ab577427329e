package org.tessera.dsl.cli;

import java.io.PrintWriter;
import java.util.Locale;
import org.tessera.engine.backend.Backends;
import org.tessera.ffi.Cuda;
import org.tessera.ffi.CudaLibraries;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code tessera doctor}: what this machine offers Tessera — JDK, CPU backend, CUDA libraries, driver, GPUs. */
@Command(name = "doctor", mixinStandardHelpOptions = true,
        description = {"Report the JDK, the CPU backend that would be chosen and why,",
            "the CUDA 13 libraries found, the driver and the GPUs, or why CUDA is not available."})
final class DoctorCommand implements java.util.concurrent.Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        out.printf(Locale.ROOT, "java     %s (%s), %d processors%n", Runtime.version(), System.getProperty("java.vm.name"),
                Runtime.getRuntime().availableProcessors());
        out.println("cpu      " + Backends.describeCpu());
        Cuda.Status cuda = Cuda.probe();
        for (CudaLibraries.Found f : cuda.libraries()) {
            out.printf(Locale.ROOT, "%-8s %s%n", f.name(), f.ok() ? f.path() : f.file() + ": " + f.problem());
        }
        if (cuda.runtimeVersion() != 0) {
            out.printf(Locale.ROOT, "runtime  CUDA %s; driver supports CUDA %s%n", Cuda.versionText(cuda.runtimeVersion()),
                    Cuda.versionText(cuda.driverVersion()));
        }
        for (Cuda.Device d : cuda.devices()) {
            out.printf(Locale.ROOT, "gpu %d    %s, %s, %s, %d SMs%n", d.index(), d.name(), d.arch(),
                    Sizes.bytes(d.totalMemory()), d.multiprocessors());
        }
        // The backend that runs on these is issue 5's next step; say so rather than imply it exists.
        out.println(cuda.available()
                ? "cuda     libraries, driver and GPU present; the CUDA backend itself is not built yet"
                : "cuda     not available: " + cuda.problem());
        return TesseraCommand.EXIT_OK;
    }
}
