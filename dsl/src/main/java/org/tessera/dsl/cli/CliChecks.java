package org.tessera.dsl.cli;

/** Option checks shared by the commands; a bad value is a usage error (exit 2). */
final class CliChecks {
    private CliChecks() {}

    static void precision(String precision) {
        if (!precision.equals("fp32") && !precision.equals("tf32") && !precision.equals("bf16")) {
            throw new IllegalArgumentException("--precision must be fp32, tf32 or bf16, got '" + precision + "'");
        }
    }

    static void device(String device) {
        if (!device.equals("cpu") && !device.equals("cuda") && !device.equals("auto")) {
            throw new IllegalArgumentException("--device must be cpu, cuda or auto, got '" + device + "'");
        }
    }

    static void threads(int threads) {
        if (threads < 0) {
            throw new IllegalArgumentException("--threads must be 0 (all processors) or more, got " + threads);
        }
    }
}
