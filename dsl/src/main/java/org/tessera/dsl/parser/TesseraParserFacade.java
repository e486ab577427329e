package org.tessera.dsl.parser;

import org.antlr.v4.runtime.BaseErrorListener;
import org.antlr.v4.runtime.CharStreams;
import org.antlr.v4.runtime.CommonTokenStream;
import org.antlr.v4.runtime.RecognitionException;
import org.antlr.v4.runtime.Recognizer;
import org.antlr.v4.runtime.Token;
import org.tessera.dsl.ast.Ast;
import org.tessera.dsl.diag.Diagnostics;
import org.tessera.dsl.diag.Span;

/**
 * The one door to the generated parser: text in, {@link Ast.SourceFile} out, syntax errors as
 * {@code file:line:col} diagnostics (ANTLR's console listeners are removed).
 */
public final class TesseraParserFacade {
    private TesseraParserFacade() {}

    /** Parses {@code text} (named {@code file} in messages); errors go to {@code diagnostics}. */
    public static Ast.SourceFile parse(String file, String text, Diagnostics diagnostics) {
        diagnostics.addSource(file, text);
        ErrorListener errors = new ErrorListener(file, diagnostics);
        TesseraLexer lexer = new TesseraLexer(CharStreams.fromString(text, file));
        lexer.removeErrorListeners();
        lexer.addErrorListener(errors);
        TesseraParser parser = new TesseraParser(new CommonTokenStream(lexer));
        parser.removeErrorListeners();
        parser.addErrorListener(errors);
        try {
            TesseraParser.FileContext tree = parser.file();
            if (errors.count > 0) {
                return new Ast.SourceFile(file, java.util.List.of());
            }
            return new AstBuilder(file, diagnostics).file(tree);
        } catch (StackOverflowError e) {
            // The parser and the AST builder recurse once per level of nesting.
            diagnostics.error(new Span(file, 1, 1, 1, 1), TOO_DEEP);
            return new Ast.SourceFile(file, java.util.List.of());
        }
    }

    /** The message for a script nested deeper than the compiler's recursion reaches (thousands of levels). */
    public static final String TOO_DEEP = "nested too deeply to compile (thousands of levels of parentheses, operators"
            + " or blocks): split the expression with let";

    private static final class ErrorListener extends BaseErrorListener {
        private final String file;
        private final Diagnostics diagnostics;
        private int count;

        ErrorListener(String file, Diagnostics diagnostics) {
            this.file = file;
            this.diagnostics = diagnostics;
        }

        @Override
        public void syntaxError(
                Recognizer<?, ?> recognizer,
                Object offendingSymbol,
                int line,
                int col,
                String msg,
                RecognitionException e) {
            count++;
            int width = 1;
            String message = msg;
            if (offendingSymbol instanceof Token t) {
                width = Math.max(1, t.getText() == null ? 1 : t.getText().length());
                if (t.getType() == TesseraLexer.ERROR_CHAR) {
                    message = "unexpected character '" + t.getText() + "'";
                } else if (t.getType() == Token.EOF) {
                    message = "unexpected end of file: " + tidy(msg);
                } else {
                    message = tidy(msg);
                }
            }
            diagnostics.error(new Span(file, line, col + 1, line, col + 1 + width), "syntax error: " + message);
        }

        /** ANTLR's messages list token names like {@code 'let'}; keep them but drop internal rule names. */
        private static String tidy(String msg) {
            return msg.replace("<EOF>", "end of file")
                    .replace("extraneous input", "unexpected")
                    .replace("mismatched input", "unexpected");
        }
    }
}
