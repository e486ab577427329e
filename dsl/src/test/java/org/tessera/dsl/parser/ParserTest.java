package org.tessera.dsl.parser;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tessera.dsl.ast.Ast;
import org.tessera.dsl.diag.Diagnostics;

class ParserTest {

    private static String stdlib(String name) throws IOException {
        try (InputStream in = ParserTest.class.getResourceAsStream("/org/tessera/dsl/stdlib/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"layers.tess", "dit.tess"})
    void standardLibraryParsesCleanly(String name) throws IOException {
        Diagnostics d = new Diagnostics();
        Ast.SourceFile f = TesseraParserFacade.parse(name, stdlib(name), d);
        assertFalse(d.hasErrors(), d.render());
        assertFalse(f.declarations().isEmpty());
    }

    @Test
    void buildsTypedAstWithSpans() {
        Diagnostics d = new Diagnostics();
        String src = """
                block Lin(n: int, bias: bool = true) {
                    weight w: [n, n]
                    sub blocks = repeat(2) Other(n)
                    forward(x: [B, n]) {
                        let a, b = chunk(linear(x, w), 2, dim = -1)
                        for i, blk in blocks { a = blk(a) }
                        return a * (1 + b) ** 2
                    }
                }
                model Big = Lin(n = 8)
                """;
        Ast.SourceFile f = TesseraParserFacade.parse("t.tess", src, d);
        assertFalse(d.hasErrors(), d.render());
        Ast.BlockDecl b = assertInstanceOf(Ast.BlockDecl.class, f.declarations().get(0));
        assertEquals("Lin", b.name());
        assertEquals(2, b.params().size());
        Ast.SubMember sub = assertInstanceOf(Ast.SubMember.class, b.members().get(1));
        assertEquals("Other", sub.call().dotted());
        Ast.ForwardMember fwd =
                assertInstanceOf(Ast.ForwardMember.class, b.members().get(2));
        assertEquals(4, fwd.span().line());
        assertEquals(5, fwd.span().column());
        Ast.Let let = assertInstanceOf(Ast.Let.class, fwd.body().get(0));
        assertEquals(java.util.List.of("a", "b"), let.names());
        Ast.For loop = assertInstanceOf(Ast.For.class, fwd.body().get(1));
        assertEquals("i", loop.index());
        Ast.Return ret = assertInstanceOf(Ast.Return.class, fwd.body().get(2));
        Ast.Binary mul = assertInstanceOf(Ast.Binary.class, ret.value());
        assertEquals("*", mul.op());
        assertEquals("**", assertInstanceOf(Ast.Binary.class, mul.right()).op()); // ** binds tighter than *
        assertInstanceOf(Ast.AliasDecl.class, f.declarations().get(1));
    }

    @Test
    void syntaxErrorsCarryLineAndColumnAndCaret() {
        Diagnostics d = new Diagnostics();
        TesseraParserFacade.parse("bad.tess", "block A() {\n    weight w: [3, 4\n}\n", d);
        assertTrue(d.hasErrors());
        String text = d.render();
        assertTrue(text.startsWith("bad.tess:3:1: error: syntax error:"), text);
        assertTrue(text.contains("\n    }\n    ^"), text);
    }

    @Test
    void strayCharacterIsNamed() {
        Diagnostics d = new Diagnostics();
        TesseraParserFacade.parse("bad.tess", "block A() {\n  let x = 3 $ 4\n}\n", d);
        assertTrue(d.render().contains("bad.tess:2:13: error: syntax error: unexpected character '$'"), d.render());
    }
}
