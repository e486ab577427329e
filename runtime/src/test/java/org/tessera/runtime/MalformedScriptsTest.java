package org.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.tessera.dsl.CompilationException;
import org.tessera.testing.RepoFiles;

/**
 * Broken scripts, each with the diagnostic it must produce: {@code line:col: error: message}
 * (the file name is the temp file, so only the suffix is compared). A case passes when the
 * rendered diagnostics contain that exact headline suffix.
 */
class MalformedScriptsTest {
    @TempDir
    static Path dir;

    /** A small valid pipeline around a user block, to wrap the cases that need compiling. */
    private static String pipeline(String blocks, String model, String forwardInput) {
        return blocks + "\n"
                + "pipeline p {\n"
                + "    model = " + model + "\n"
                + "    weights = random(seed = 1)\n"
                + "    inputs = load(\"inputs.safetensors\", " + forwardInput + ")\n"
                + "    output \"o.safetensors\" = tensors(out)\n"
                + "}\n";
    }

    static Stream<Arguments> cases() {
        String lin = "import \"layers.tess\"\n";
        return Stream.of(
                // 1-4: syntax
                Arguments.of("unclosed list", "block A() {\n    weight w: [3, 4\n}\n", "3:1: error: syntax error"),
                Arguments.of(
                        "stray character",
                        "block A() {\n    let x = 3 $ 4\n}\n",
                        "2:15: error: syntax error: unexpected character '$'"),
                Arguments.of(
                        "missing brace",
                        "block A() {\n    forward(x) {\n        return x\n}\n",
                        "5:1: error: syntax error: unexpected end of file"),
                Arguments.of("let without a name", "block A() {\n    let = 3\n}\n", "2:9: error: syntax error"),
                // 5-9: names and calls in forward bodies
                Arguments.of(
                        "unknown name",
                        pipeline(
                                "model M() {\n    forward(x: [B, 4]) {\n        return y + 1\n    }\n}",
                                "M()",
                                "x = \"x\""),
                        "3:16: error: unknown name 'y'"),
                Arguments.of(
                        "misspelled built-in",
                        pipeline(
                                "model M() {\n    forward(x: [B, 4]) {\n        return silo(x)\n    }\n}",
                                "M()",
                                "x = \"x\""),
                        "3:16: error: unknown function 'silo'; did you mean 'silu'?"),
                Arguments.of(
                        "missing argument",
                        pipeline(
                                "model M() {\n    weight w: [4, 4]\n    forward(x: [B, 4]) {\n        return linear(x)\n    }\n}",
                                "M()",
                                "x = \"x\""),
                        "4:16: error: linear is missing argument 'weight'"),
                Arguments.of(
                        "too many arguments",
                        pipeline(
                                "model M() {\n    forward(x: [B, 4]) {\n        return gelu(x, 2)\n    }\n}",
                                "M()",
                                "x = \"x\""),
                        "3:16: error: gelu takes at most 1 argument but 2 were given"),
                Arguments.of(
                        "unknown keyword",
                        pipeline(
                                "model M() {\n    forward(x: [B, 4]) {\n        return layernorm(x, epsilon = 1e-6)\n    }\n}",
                                "M()",
                                "x = \"x\""),
                        "3:16: error: layernorm has no parameter 'epsilon'"),
                // 10-14: blocks and their parameters
                Arguments.of(
                        "unknown block",
                        pipeline(
                                lin
                                        + "model M() {\n    sub fc = Linearr(4, 4)\n    forward(x: [B, 4]) {\n        return fc(x)\n    }\n}",
                                "M()",
                                "x = \"x\""),
                        "3:14: error: unknown block 'Linearr'; did you mean 'Linear'?"),
                Arguments.of(
                        "parameter type",
                        pipeline(
                                lin
                                        + "model M() {\n    sub fc = Linear(3.5, 4)\n    forward(x: [B, 4]) {\n        return fc(x)\n    }\n}",
                                "M()",
                                "x = \"x\""),
                        "3:21: error: Linear: parameter 'in_features' is int but got float 3.5"),
                Arguments.of(
                        "missing block parameter",
                        pipeline(
                                lin
                                        + "model M() {\n    sub fc = Linear(4)\n    forward(x: [B, 4]) {\n        return fc(x)\n    }\n}",
                                "M()",
                                "x = \"x\""),
                        "3:14: error: Linear is missing parameter 'out_features: int'"),
                Arguments.of(
                        "unknown block parameter",
                        pipeline(
                                lin
                                        + "model M() {\n    sub fc = Linear(4, 4, hasbias = false)\n    forward(x: [B, 4]) {\n        return fc(x)\n    }\n}",
                                "M()",
                                "x = \"x\""),
                        "3:27: error: Linear has no parameter 'hasbias'; did you mean 'has_bias'?"),
                Arguments.of(
                        "wrong forward arity",
                        pipeline(
                                lin
                                        + "model M() {\n    sub fc = Linear(4, 4)\n    forward(x: [B, 4]) {\n        return fc(x, x)\n    }\n}",
                                "M()",
                                "x = \"x\""),
                        "5:16: error: Linear.forward takes 1 input (x) but 2 were given"),
                // 15-19: shapes
                Arguments.of(
                        "linear width mismatch",
                        pipeline(
                                lin
                                        + "model M() {\n    sub fc = Linear(16, 4)\n    forward(x: [B, 4]) {\n        return fc(x)\n    }\n}",
                                "M()",
                                "x = \"x\""),
                        "5:16: error: linear"),
                Arguments.of(
                        "broadcast mismatch",
                        pipeline(
                                "model M() {\n    weight b: [3]\n    forward(x: [B, 4]) {\n        return x + b\n    }\n}",
                                "M()",
                                "x = \"x\""),
                        "4:16: error: add: a [2, 4] and b [3] do not broadcast"),
                Arguments.of(
                        "input annotation mismatch",
                        pipeline(
                                "block Inner() {\n    forward(h: [B, 16]) {\n        return h\n    }\n}\n"
                                        + "model M() {\n    sub inner = Inner()\n    forward(x: [B, 4]) {\n        return inner(x)\n    }\n}",
                                "M()",
                                "x = \"x\""),
                        "9:16: error: Inner.forward: input 'h' should be [B, 16] but is [2, 4]"),
                Arguments.of(
                        "rearrange axis missing",
                        pipeline(
                                "model M() {\n    forward(x: [B, 4]) {\n        return rearrange(x, \"b (h d) -> b h\", h = 2)\n    }\n}",
                                "M()",
                                "x = \"x\""),
                        "3:16: error: rearrange: axis 'd' is on the left of \"b (h d) -> b h\" but not on the right"),
                Arguments.of(
                        "unpack count",
                        pipeline(
                                "model M() {\n    forward(x: [B, 4]) {\n        let a, b = chunk(x, 4, dim = 1)\n        return a\n    }\n}",
                                "M()",
                                "x = \"x\""),
                        "3:9: error: cannot unpack 4 values into 2 names (a, b)"),
                Arguments.of(
                        "attention mask shape",
                        pipeline(
                                "model M() {\n    weight m: [5, 3]\n    forward(x: [B, 4]) {\n"
                                        + "        let q = rearrange(x, \"b (h n d) -> b h n d\", h = 1, n = 2)\n"
                                        + "        return attention(q, q, q, mask = m)\n    }\n}",
                                "M()",
                                "x = \"x\""),
                        "5:16: error: attention: mask f32[5, 3] must be f32 and broadcast to [B, H, Nq, Nk] = [2, 1, 2, 2]"),
                // 20-25: declarations, pipelines, weights and imports
                Arguments.of(
                        "duplicate block",
                        "block A() {\n}\nblock A() {\n}\n",
                        "3:1: error: 'A' is already declared at"),
                Arguments.of(
                        "unknown setting",
                        "import \"dit.tess\"\npipeline p {\n    model = DiT_S_8(input_size = 16)\n"
                                + "    weights = random()\n    sampler_steps = 5\n}\n",
                        "5:5: error: unknown pipeline setting 'sampler_steps'"),
                Arguments.of(
                        "missing weights file",
                        "import \"dit.tess\"\npipeline p {\n    model = DiT_S_8(input_size = 16)\n"
                                + "    weights = \"no-such.safetensors\"\n    output \"s.png\" = png(samples)\n}\n",
                        "4:15: error: cannot load weights:"),
                Arguments.of(
                        "weights that do not fit",
                        "import \"dit.tess\"\npipeline p {\n"
                                + "    model = DiT(input_size = 8, patch_size = 2, hidden_size = 32, depth = 2, num_heads = 4, num_classes = 10)\n"
                                + "    weights = \"" + "GOLDEN" + "\"\n    output \"s.png\" = png(samples)\n}\n",
                        "4:15: error: weights dit_tiny.safetensors do not fit DiT:"),
                Arguments.of("unknown import", "import \"nothing.tess\"\n", "1:1: error: cannot find \"nothing.tess\""),
                Arguments.of(
                        "if needs a bool",
                        "block A(n: int) {\n    if n {\n        weight w: [n]\n    }\n}\n"
                                + "model M() {\n    sub a = A(3)\n    forward(x: [B, 4]) {\n        return x\n    }\n}\n"
                                + "pipeline p {\n    model = M()\n    weights = random()\n    inputs = load(\"inputs.safetensors\", x = \"x\")\n}\n",
                        "2:8: error: the condition of 'if' must be a bool, got int 3"),
                Arguments.of(
                        "assign before let",
                        pipeline(
                                "model M() {\n    forward(x: [B, 4]) {\n        z = x\n        return x\n    }\n}",
                                "M()",
                                "x = \"x\""),
                        "3:9: error: 'z' is not defined; use 'let z = ...'"),
                Arguments.of("no pipeline", "block A() {\n}\n", "1:1: error: no pipeline in"),
                Arguments.of(
                        "output outside the folder",
                        pipeline(
                                        "model M() {\n    forward(x: [B, 4]) {\n        return x\n    }\n}",
                                        "M()",
                                        "x = \"x\"")
                                .replace("output \"o.safetensors\"", "output \"../o.safetensors\""),
                        "10:5: error: output \"../o.safetensors\" must stay inside the output folder"),
                Arguments.of(
                        "absolute output",
                        pipeline(
                                        "model M() {\n    forward(x: [B, 4]) {\n        return x\n    }\n}",
                                        "M()",
                                        "x = \"x\"")
                                .replace("output \"o.safetensors\"", "output \"/tmp/o.safetensors\""),
                        "10:5: error: output \"/tmp/o.safetensors\" must stay inside the output folder"),
                Arguments.of(
                        "a block that contains itself",
                        "block A() {\n    sub b = B()\n}\nblock B() {\n    sub a = A()\n}\n"
                                + "model M() {\n    sub a = A()\n    forward(x: [B, 4]) {\n        return x\n    }\n}\n"
                                + "pipeline p {\n    model = M()\n    weights = random()\n    inputs = load(\"inputs.safetensors\", x = \"x\")\n}\n",
                        "5:13: error: block A contains itself: A → B → A"),
                Arguments.of(
                        "import of a file that is not a script",
                        "import \"/etc/passwd\"\n",
                        "1:1: error: import \"/etc/passwd\": only .tess scripts can be imported"),
                Arguments.of(
                        "a negative size",
                        "import \"dit.tess\"\npipeline p {\n    model = DiT_S_8(input_size = -16)\n"
                                + "    weights = random()\n    output \"s.png\" = png(samples)\n}\n",
                        // the position table's grid is the first size the model meets
                        "3:13: error: sincos_2d(-2, -2): the grid must be at least 1 × 1 (in DiT_S_8, at stdlib/dit.tess:"),
                Arguments.of(
                        "an absurd depth",
                        "import \"dit.tess\"\npipeline p {\n    model = DiT_S_8(input_size = 16, depth = 2800000)\n"
                                + "    weights = random()\n    output \"s.png\" = png(samples)\n}\n",
                        "3:13: error: repeat count 2800000 is more blocks than a model may hold (10000)"),
                Arguments.of(
                        "too many blocks in all",
                        "block Leaf() {\n    weight w: [1]\n}\nblock Row(n: int) {\n    sub l = repeat(n) Leaf()\n}\n"
                                + "model M(n: int = 200) {\n    sub rows = repeat(n) Row(n)\n"
                                + "    forward(x: [B, 4]) {\n        return x\n    }\n}\n"
                                + "pipeline p {\n    model = M()\n    weights = random()\n    inputs = load(\"inputs.safetensors\", x = \"x\")\n}\n",
                        "5:23: error: a model holds at most 10000 block instances"),
                Arguments.of(
                        "a weight too large to exist",
                        pipeline(
                                "model M() {\n    weight w: [100000, 100000, 100000]\n    forward(x: [B, 4]) {\n        return x\n    }\n}",
                                "M()",
                                "x = \"x\""),
                        "2:15: error: weight w: [100000, 100000, 100000] has more than 2^36 elements"),
                Arguments.of(
                        "a constant initialisation without its value",
                        pipeline(
                                "model M() {\n    weight w: [4] = constant()\n    forward(x: [B, 4]) {\n        return x * w\n    }\n}",
                                "M()",
                                "x = \"x\""),
                        "2:21: error: constant(value) needs the value, e.g. constant(0.5)"),
                Arguments.of(
                        "a result too large to exist",
                        pipeline(
                                "model M() {\n    forward(x: [B, 4]) {\n"
                                        + "        return repeat(x, \"b c -> b c h w\", h = 100000, w = 100000)\n    }\n}",
                                "M()",
                                "x = \"x\""),
                        "3:16: error: expand: the result [2, 4, 100000, 100000] has more than 2^36 elements"),
                Arguments.of(
                        "a class the model does not have",
                        "import \"dit.tess\"\npipeline p {\n    model = DiT_S_8(input_size = 16, num_classes = 10)\n"
                                + "    weights = random()\n    classes = [3, 10]\n    output \"s.png\" = png(samples)\n}\n",
                        "5:15: error: class 10 is outside 0..9 of DiT"),
                Arguments.of(
                        "weights that are a folder",
                        "import \"dit.tess\"\npipeline p {\n    model = DiT_S_8(input_size = 16)\n"
                                + "    weights = \".\"\n    output \"s.png\" = png(samples)\n}\n",
                        "4:15: error: cannot load weights: "));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void reportsTheExpectedDiagnostic(String name, String script, String expected) throws Exception {
        Path inputs = dir.resolve("inputs.safetensors");
        if (!Files.exists(inputs)) {
            var x = org.tessera.engine.tensor.Tensor.zeros(org.tessera.engine.tensor.DType.F32, 2, 4);
            var map = new java.util.LinkedHashMap<String, org.tessera.engine.tensor.Tensor>();
            map.put("x", x);
            org.tessera.engine.io.SafetensorsWriter.write(inputs, map);
        }
        Path file = dir.resolve(name.replace(' ', '-') + ".tess");
        Files.writeString(
                file,
                script.replace(
                        "GOLDEN", RepoFiles.golden("dit_tiny.safetensors").toString()));
        String rendered;
        try {
            Tessera.compile(file, CompileOptions.defaults().withThreads(1).withOverrides(Map.of()))
                    .close();
            fail("expected a compilation error for '" + name + "'");
            return;
        } catch (CompilationException e) {
            rendered = e.getMessage();
        }
        String headline = file + ":" + expected;
        assertTrue(rendered.contains(headline), "expected\n  " + headline + "\nin\n" + rendered);
    }
}
