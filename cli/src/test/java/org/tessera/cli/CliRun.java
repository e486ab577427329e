package org.tessera.cli;

import java.io.PrintWriter;
import java.io.StringWriter;

/** One invocation of the tessera command line in-process: exit code and both streams. */
record CliRun(int code, String out, String err) {
    static CliRun of(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = TesseraCommand.execute(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new CliRun(code, out.toString(), err.toString());
    }
}
