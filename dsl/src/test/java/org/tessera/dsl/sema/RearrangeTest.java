package org.tessera.dsl.sema;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tessera.engine.graph.GraphBuilder;
import org.tessera.engine.graph.Value;
import org.tessera.engine.tensor.DType;

/** einops patterns: parsing, the shapes they produce, and what they refuse. */
class RearrangeTest {
    @Test
    void parsesGroupsOnBothSides() {
        Rearrange.Pattern p = Rearrange.parse("rearrange", "b n (three h d) -> three b h n d");
        assertEquals(
                List.of(List.of("b"), List.of("n"), List.of("three", "h", "d")),
                p.left().groups());
        assertEquals(List.of("three", "b", "h", "n", "d"), p.right().axes());
    }

    @Test
    void splitsAndMergesAxes() {
        GraphBuilder g = new GraphBuilder();
        Value x = g.input("x", DType.F32, 2, 256, 3 * 16 * 72);
        Value qkv = Rearrange.apply(
                g, x, "rearrange", "b n (three h d) -> three b h n d", Map.of("three", 3L, "h", 16L), false);
        assertArrayEquals(new int[] {3, 2, 16, 256, 72}, qkv.shape());
        Value merged = Rearrange.apply(
                g, g.input("y", DType.F32, 2, 16, 256, 72), "rearrange", "b h n d -> b n (h d)", Map.of(), false);
        assertArrayEquals(new int[] {2, 256, 16 * 72}, merged.shape());
    }

    @Test
    void videoTokensRegroupBetweenSpaceAndTime() {
        GraphBuilder g = new GraphBuilder();
        Value x = g.input("x", DType.F32, 2 * 8, 64, 32);
        Value t = Rearrange.apply(g, x, "rearrange", "(b f) t d -> (b t) f d", Map.of("f", 8L), false);
        assertArrayEquals(new int[] {2 * 64, 8, 32}, t.shape());
    }

    @Test
    void repeatAddsSizedAxes() {
        GraphBuilder g = new GraphBuilder();
        Value c = g.input("c", DType.F32, 2, 32);
        assertArrayEquals(
                new int[] {2, 4, 32},
                Rearrange.apply(g, c, "repeat", "b d -> b t d", Map.of("t", 4L), true)
                        .shape());
    }

    @Test
    void refusesMalformedPatterns() {
        assertTrue(assertThrows(CompileError.class, () -> Rearrange.parse("rearrange", "a b c"))
                .getMessage()
                .contains("needs exactly one '->'"));
        assertTrue(assertThrows(CompileError.class, () -> Rearrange.parse("rearrange", "(a (b)) -> a b"))
                .getMessage()
                .contains("nested parentheses"));
        assertTrue(assertThrows(CompileError.class, () -> Rearrange.parse("rearrange", "a b) -> a b"))
                .getMessage()
                .contains("unbalanced ')'"));
        assertTrue(assertThrows(CompileError.class, () -> Rearrange.parse("rearrange", "a 2b -> a"))
                .getMessage()
                .contains("'2b' is not an axis name"));
    }

    @Test
    void refusesShapesThatDoNotFit() {
        GraphBuilder g = new GraphBuilder();
        Value x = g.input("x", DType.F32, 2, 10);
        assertTrue(assertThrows(
                        CompileError.class, () -> Rearrange.apply(g, x, "rearrange", "b n d -> b d n", Map.of(), false))
                .getMessage()
                .contains("the input has 2 dimensions"));
        assertTrue(assertThrows(
                        CompileError.class,
                        () -> Rearrange.apply(g, x, "rearrange", "b (h d) -> b h d", Map.of(), false))
                .getMessage()
                .contains("cannot infer both 'h' and 'd'"));
        assertTrue(assertThrows(
                        CompileError.class, () -> Rearrange.apply(g, x, "rearrange", "b d -> b d t", Map.of(), false))
                .getMessage()
                .contains("'t'"));
    }
}
