package org.tessera.dsl.sema;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tessera.dsl.ast.Ast;
import org.tessera.dsl.diag.Diagnostics;
import org.tessera.dsl.parser.TesseraParserFacade;

/** Compile-time evaluation: Python's arithmetic, names, conditionals, and errors at the expression. */
class EvaluatorTest {
    private final Diagnostics diagnostics = new Diagnostics();

    /** Evaluates {@code expr} (one line of source) with {@code names} in scope. */
    private CompileValue eval(String expr, Map<String, CompileValue> names) {
        Ast.SourceFile f = TesseraParserFacade.parse("e.tess", "pipeline p {\n    v = " + expr + "\n}\n", diagnostics);
        assertTrue(!diagnostics.hasErrors(), diagnostics.render());
        Ast.Expr e = ((Ast.AssignSetting)
                        ((Ast.PipelineDecl) f.declarations().get(0)).settings().get(0))
                .value();
        return Evaluator.constantsOnly(diagnostics).eval(e, Scope.of(names));
    }

    private CompileValue eval(String expr) {
        return eval(expr, Map.of());
    }

    private static CompileValue.IntV i(long v) {
        return new CompileValue.IntV(v);
    }

    @Test
    void integerArithmeticFollowsPython() {
        assertEquals(i(7), eval("1 + 2 * 3"));
        assertEquals(i(9), eval("(1 + 2) * 3"));
        assertEquals(i(-4), eval("-7 // 2"), "floor division rounds towards −∞");
        assertEquals(i(1), eval("-7 % 2"), "the remainder takes the divisor's sign");
        assertEquals(new CompileValue.FloatV(3.5), eval("7 / 2"), "/ always gives a float");
        assertEquals(i(512), eval("2 ** 3 ** 2"), "** is right-associative");
        assertEquals(new CompileValue.FloatV(0.25), eval("2 ** -2"));
    }

    @Test
    void mixedNumbersWidenToFloat() {
        assertEquals(new CompileValue.FloatV(4.5), eval("1.5 * 3"));
        assertEquals(new CompileValue.BoolV(true), eval("2 < 2.5 and not (1 == 2)"));
    }

    @Test
    void listsAndStringsConcatenate() {
        assertEquals(new CompileValue.ListV(List.of(i(1), i(2), i(3))), eval("[1] + [2, 3]"));
        assertEquals(new CompileValue.StrV("ab"), eval("\"a\" + \"b\""));
    }

    @Test
    void listsAreIndexedAsInPython() {
        Map<String, CompileValue> names = Map.of("widths", eval("[128, 256, 512]"));
        assertEquals(i(128), eval("widths[0]", names));
        assertEquals(i(512), eval("widths[-1]", names), "negative indices count from the end");
        assertEquals(i(256), eval("widths[len(widths) - 2]", names));
        assertInstanceOf(CompileValue.Poison.class, eval("widths[3]", names));
        assertTrue(
                diagnostics.render().contains("e.tess:2:9: error: index 3 is out of range for a list of 3"),
                diagnostics.render());
    }

    @Test
    void onlyListsTakeAnIndex() {
        assertInstanceOf(CompileValue.Poison.class, eval("7[0]"));
        assertTrue(diagnostics.render().contains("only a list can be indexed"), diagnostics.render());
    }

    @Test
    void namesComeFromTheScope() {
        assertEquals(i(1152 / 16), eval("hidden // heads", Map.of("hidden", i(1152), "heads", i(16))));
        assertEquals(
                i(4), eval("if learn then c * 2 else c", Map.of("learn", new CompileValue.BoolV(true), "c", i(2))));
    }

    @Test
    void errorsAreReportedAtTheExpressionAndPoisonIt() {
        assertInstanceOf(CompileValue.Poison.class, eval("3 // 0"));
        String text = diagnostics.render();
        assertTrue(text.contains("e.tess:2:9: error: division by zero"), text);
    }

    @Test
    void integerOverflowIsAnErrorNotAWrongSize() {
        assertInstanceOf(CompileValue.Poison.class, eval("9223372036854775807 + 1"));
        assertTrue(diagnostics.render().contains("e.tess:2:9: error:"), diagnostics.render());
    }

    @Test
    void operatorsCheckTheirOperands() {
        assertInstanceOf(CompileValue.Poison.class, eval("[1] * \"x\""));
        assertTrue(diagnostics.render().contains("operator '*' does not apply to list"), diagnostics.render());
    }

    @Test
    void aConditionMustBeABool() {
        assertInstanceOf(CompileValue.Poison.class, eval("if 3 then 1 else 2"));
        assertTrue(
                diagnostics.render().contains("the condition of 'if' must be a bool, got int 3"), diagnostics.render());
    }

    @Test
    void unknownNamesAreReportedOnce() {
        assertInstanceOf(CompileValue.Poison.class, eval("missing + missing * 2"));
        assertTrue(diagnostics.render().contains("unknown name 'missing'"), diagnostics.render());
    }
}
