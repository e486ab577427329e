package org.tessera.cli;

import java.io.PrintWriter;
import java.util.Locale;
import org.tessera.engine.backend.Backends;
import org.tessera.ffi.Cuda;
import org.tessera.ffi.CudaLibraries;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code tessera doctor}: what this machine offers Tessera — JDK, CPU backend, CUDA libraries, driver, GPUs. */
@Command(
        name = "doctor",
        mixinStandardHelpOptions = true,
        header = "Report the JDK, the CPU backend, the CUDA libraries, the driver and the GPUs.",
        description = {
            "Report the JDK, the CPU backend that would be chosen and why,",
            "the CUDA 13 libraries found, the driver and the GPUs, or why CUDA is not available.",
            "With --gpu, also run every CUDA op against the CPU reference on GPU 0."
        })
final class DoctorCommand implements java.util.concurrent.Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @CommandLine.Option(names = "--gpu", description = "Check every CUDA op against the CPU reference (needs a GPU).")
    boolean gpu;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        out.printf(
                Locale.ROOT,
                "java     %s (%s), %d processors%n",
                Runtime.version(),
                System.getProperty("java.vm.name"),
                Runtime.getRuntime().availableProcessors());
        out.println("cpu      " + Backends.describeCpu());
        Cuda.Status cuda = Cuda.probe();
        for (CudaLibraries.Found f : cuda.libraries()) {
            out.printf(Locale.ROOT, "%-8s %s%n", f.name(), f.ok() ? f.path() : f.file() + ": " + f.problem());
        }
        if (cuda.runtimeVersion() != 0) {
            out.printf(
                    Locale.ROOT,
                    "runtime  CUDA %s; driver supports CUDA %s%n",
                    Cuda.versionText(cuda.runtimeVersion()),
                    Cuda.versionText(cuda.driverVersion()));
        }
        for (Cuda.Device d : cuda.devices()) {
            out.printf(
                    Locale.ROOT,
                    "gpu %d    %s, %s, %s, %d SMs%n",
                    d.index(),
                    d.name(),
                    d.arch(),
                    Sizes.bytes(d.totalMemory()),
                    d.multiprocessors());
        }
        if (!cuda.available()) {
            out.println("cuda     not available: " + cuda.problem());
            if (gpu) {
                spec.commandLine()
                        .getErr()
                        .println("tessera: error: doctor --gpu: no GPU to check (CUDA is not available: "
                                + cuda.problem() + ")");
                return TesseraCommand.EXIT_RUNTIME;
            }
            return TesseraCommand.EXIT_OK;
        }
        out.println("cuda     available: --device auto runs on GPU 0");
        if (!gpu) {
            return TesseraCommand.EXIT_OK;
        }
        try (var dev = org.tessera.engine.cuda.CudaDevice.open(0)) {
            var results = org.tessera.engine.cuda.CudaSelfTest.run(dev);
            results.forEach(r -> out.println("  " + r));
            long failed = results.stream().filter(r -> !r.ok()).count();
            out.println(
                    failed == 0
                            ? "gpu check: all " + results.size() + " ops agree with the CPU reference"
                            : "gpu check: " + failed + " of " + results.size() + " ops FAILED");
            return failed == 0 ? TesseraCommand.EXIT_OK : TesseraCommand.EXIT_RUNTIME;
        }
    }
}
