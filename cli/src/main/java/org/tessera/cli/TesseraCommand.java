package org.tessera.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.util.Properties;
import org.tessera.dsl.CompilationException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code tessera} command. Exit codes: 0 ok, 1 runtime error, 2 usage or compile error.
 * Errors are printed as one line, never as a stack trace (set TESSERA_DEBUG=1 to see one).
 */
@Command(
        name = "tessera",
        mixinStandardHelpOptions = true,
        versionProvider = TesseraCommand.Version.class,
        description = "Tessera: a Java engine and language for diffusion transformers.",
        subcommands = {
            RunCommand.class,
            TrainCommand.class,
            CheckCommand.class,
            InspectCommand.class,
            ConvertCommand.class,
            MotionCommand.class,
            BenchCommand.class,
            DoctorCommand.class,
            CommandLine.HelpCommand.class
        })
public final class TesseraCommand implements Runnable {
    public static final int EXIT_OK = 0;
    public static final int EXIT_RUNTIME = 1;
    public static final int EXIT_USAGE = 2;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    public static void main(String[] args) {
        PrintWriter out = new PrintWriter(System.out, true);
        PrintWriter err = new PrintWriter(System.err, true);
        int code = execute(args, out, err);
        out.flush(); // autoflush covers println only; a command's last print() must not be lost
        err.flush();
        System.exit(code);
    }

    /** Runs the command line with the given streams and returns the exit code (for tests and embedding). */
    public static int execute(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cl = new CommandLine(new TesseraCommand());
        cl.setOut(out);
        cl.setErr(err);
        cl.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            if (System.getenv("TESSERA_DEBUG") != null) {
                e.printStackTrace(commandLine.getErr());
            }
            if (e instanceof CompilationException ce) {
                int n = ce.diagnostics().errorCount();
                commandLine.getErr().println(ce.getMessage());
                commandLine.getErr().println(n + " error" + (n == 1 ? "" : "s"));
                return EXIT_USAGE;
            }
            commandLine.getErr().println("tessera: error: " + describe(e));
            return e instanceof IllegalArgumentException
                            && !(e instanceof org.tessera.engine.tensor.ShapeMismatchException)
                    ? EXIT_USAGE
                    : EXIT_RUNTIME;
        });
        try {
            return cl.execute(args);
        } catch (OutOfMemoryError | StackOverflowError e) { // picocli hands errors on; they end here, as one line
            if (System.getenv("TESSERA_DEBUG") != null) {
                e.printStackTrace(err);
            }
            err.println("tessera: error: " + describe(e));
            return EXIT_RUNTIME;
        }
    }

    static String describe(Throwable e) {
        if (e instanceof OutOfMemoryError) {
            return "out of memory: " + e.getMessage() + " (give the JVM more with TESSERA_JAVA_OPTS=-Xmx…)";
        }
        if (e instanceof StackOverflowError) {
            return "nested too deeply to run (the stack overflowed)";
        }
        if (e instanceof java.nio.file.NoSuchFileException n) {
            return "no such file: " + n.getFile();
        }
        if (e instanceof java.nio.file.AccessDeniedException a) {
            return "permission denied: " + a.getFile();
        }
        String msg = e.getMessage();
        return msg == null || msg.isBlank() ? e.getClass().getSimpleName() : msg;
    }

    /** Reads the version Maven stamped into version.properties. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() throws IOException {
            Properties p = new Properties();
            try (InputStream in = TesseraCommand.class.getResourceAsStream("version.properties")) {
                if (in != null) {
                    p.load(in);
                }
            }
            return new String[] {
                "tessera " + p.getProperty("version", "unknown"),
                "Java " + Runtime.version() + " (" + System.getProperty("java.vm.name") + "), "
                        + Runtime.getRuntime().availableProcessors() + " processors"
            };
        }
    }
}
