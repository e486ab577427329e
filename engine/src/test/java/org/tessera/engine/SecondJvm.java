package org.tessera.engine;

import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs a measurement again in a fresh JVM. The allocation tests keep this as a guard against JIT
 * nondeterminism: in roughly one JVM in ten, C2 compiled the attention softmax without inlining
 * {@code VectorExp.exp(FloatVector)} (it judged the call site not hot enough for a 267-byte
 * callee), so every vector crossing that call was boxed — ~12 KB per attention call for the life
 * of that JVM (seen with -XX:+PrintInlining and JFR's allocation samples). The exps now run in
 * loops inside {@code VectorExp}, no vector crosses a call there, and 40 fresh JVMs in a row
 * allocated nothing; a regression in our code allocates in every JVM, so a test that fails in two
 * independent JVMs still catches it.
 */
public final class SecondJvm {
    private SecondJvm() {}

    /** Calls the static no-argument method {@code owner.method()} returning a double in a new JVM. */
    public static double measure(Class<?> owner, String method) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = List.of(
                java,
                "--add-modules",
                "jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED",
                "-Xss4m",
                "-cp",
                System.getProperty("java.class.path"),
                SecondJvm.class.getName(),
                owner.getName(),
                method);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("the second JVM did not finish in 120 s:\n" + out);
        }
        for (String line : out.lines().toList().reversed()) {
            if (line.startsWith("measured: ")) {
                return Double.parseDouble(line.substring("measured: ".length()));
            }
        }
        throw new AssertionError("the second JVM printed no measurement (exit " + p.exitValue() + "):\n" + out);
    }

    public static void main(String[] args) throws Exception {
        Method m = Class.forName(args[0]).getDeclaredMethod(args[1]);
        m.setAccessible(true);
        System.out.println("measured: " + m.invoke(null));
    }
}
