package org.tessera.dsl.parser;

import java.util.ArrayList;
import java.util.List;
import org.antlr.v4.runtime.ParserRuleContext;
import org.antlr.v4.runtime.Token;
import org.tessera.dsl.ast.Ast;
import org.tessera.dsl.diag.Diagnostics;
import org.tessera.dsl.diag.Span;

/** Turns ANTLR's parse tree into {@link Ast} records with spans. */
final class AstBuilder {
    private final String file;
    private final Diagnostics diagnostics;

    AstBuilder(String file, Diagnostics diagnostics) {
        this.file = file;
        this.diagnostics = diagnostics;
    }

    Ast.SourceFile file(TesseraParser.FileContext ctx) {
        List<Ast.Decl> decls = new ArrayList<>();
        for (TesseraParser.DeclarationContext d : ctx.declaration()) {
            if (d.importDecl() != null) {
                decls.add(new Ast.Import(unquote(d.importDecl().STRING().getSymbol()), span(d)));
            } else if (d.blockDecl() != null) {
                decls.add(block(d.blockDecl()));
            } else if (d.aliasDecl() != null) {
                decls.add(new Ast.AliasDecl(
                        d.aliasDecl().name.getText(), call(d.aliasDecl().call()), span(d)));
            } else if (d.pipelineDecl() != null) {
                decls.add(pipeline(d.pipelineDecl()));
            }
        }
        return new Ast.SourceFile(file, decls);
    }

    private Ast.BlockDecl block(TesseraParser.BlockDeclContext ctx) {
        List<Ast.Param> params = new ArrayList<>();
        if (ctx.params() != null) {
            for (TesseraParser.ParamContext p : ctx.params().param()) {
                params.add(new Ast.Param(
                        p.name.getText(), p.type.getText(), p.expr() == null ? null : expr(p.expr()), span(p)));
            }
        }
        return new Ast.BlockDecl(
                switch (ctx.kind.getType()) {
                    case TesseraParser.MODEL -> Ast.BlockKind.MODEL;
                    case TesseraParser.SAMPLER -> Ast.BlockKind.SAMPLER;
                    default -> Ast.BlockKind.BLOCK;
                },
                ctx.name.getText(),
                params,
                members(ctx.member()),
                span(ctx));
    }

    private List<Ast.Member> members(List<TesseraParser.MemberContext> list) {
        List<Ast.Member> out = new ArrayList<>();
        for (TesseraParser.MemberContext m : list) {
            out.add(member(m));
        }
        return out;
    }

    private Ast.Member member(TesseraParser.MemberContext ctx) {
        return switch (ctx) {
            case TesseraParser.LetMemberContext c -> new Ast.LetMember(c.ident().getText(), expr(c.expr()), span(c));
            case TesseraParser.SubMemberContext c ->
                new Ast.SubMember(
                        path(c.path()),
                        c.count == null ? null : expr(c.count),
                        c.index == null ? null : c.index.getText(),
                        call(c.call()),
                        span(c));
            case TesseraParser.WeightMemberContext c ->
                new Ast.WeightMember(
                        path(c.path()),
                        expr(c.shape),
                        c.FIXED() != null,
                        c.init == null ? null : expr(c.init),
                        span(c));
            case TesseraParser.IfMemberContext c -> {
                List<TesseraParser.MemberContext> all = c.member();
                int thenCount =
                        countBefore(c, c.ELSE() == null ? null : c.ELSE().getSymbol());
                yield new Ast.IfMember(
                        expr(c.expr()),
                        members(all.subList(0, thenCount)),
                        members(all.subList(thenCount, all.size())),
                        span(c));
            }
            case TesseraParser.ForwardMemberContext c ->
                new Ast.ForwardMember(inputs(c.inputs()), body(c.body()), span(c));
            case TesseraParser.ContractMemberContext c ->
                new Ast.ContractMember(
                        c.contractEntry().stream()
                                .map(e -> new Ast.ContractEntry(e.ident().getText(), expr(e.expr()), span(e)))
                                .toList(),
                        span(c));
            default -> throw new IllegalStateException("unknown member " + ctx.getClass());
        };
    }

    private List<Ast.Input> inputs(TesseraParser.InputsContext ctx) {
        List<Ast.Input> out = new ArrayList<>();
        if (ctx != null) {
            for (TesseraParser.InputContext in : ctx.input()) {
                out.add(new Ast.Input(in.ident().getText(), in.expr() == null ? null : expr(in.expr()), span(in)));
            }
        }
        return out;
    }

    /** Members of an if-member that come before its {@code else} token. */
    private static int countBefore(TesseraParser.IfMemberContext c, Token elseToken) {
        if (elseToken == null) {
            return c.member().size();
        }
        int n = 0;
        for (TesseraParser.MemberContext m : c.member()) {
            if (m.getStart().getTokenIndex() < elseToken.getTokenIndex()) {
                n++;
            }
        }
        return n;
    }

    private List<Ast.Stmt> body(TesseraParser.BodyContext ctx) {
        List<Ast.Stmt> out = new ArrayList<>();
        for (TesseraParser.StatementContext s : ctx.statement()) {
            out.add(statement(s));
        }
        return out;
    }

    private Ast.Stmt statement(TesseraParser.StatementContext ctx) {
        return switch (ctx) {
            case TesseraParser.LetStmtContext c -> new Ast.Let(names(c.idents()), expr(c.expr()), span(c));
            case TesseraParser.AssignStmtContext c -> new Ast.Assign(names(c.idents()), expr(c.expr()), span(c));
            case TesseraParser.ForStmtContext c -> {
                List<TesseraParser.IdentContext> ids = c.ident();
                String index = ids.size() == 2 ? ids.get(0).getText() : null;
                String item = ids.get(ids.size() - 1).getText();
                yield new Ast.For(index, item, path(c.path()), body(c.body()), span(c));
            }
            case TesseraParser.IfStmtContext c ->
                new Ast.If(expr(c.expr()), body(c.body(0)), c.body().size() > 1 ? body(c.body(1)) : List.of(), span(c));
            case TesseraParser.ReturnStmtContext c -> new Ast.Return(expr(c.expr()), span(c));
            default -> throw new IllegalStateException("unknown statement " + ctx.getClass());
        };
    }

    private Ast.PipelineDecl pipeline(TesseraParser.PipelineDeclContext ctx) {
        List<Ast.Setting> settings = new ArrayList<>();
        for (TesseraParser.SettingContext s : ctx.setting()) {
            settings.add(
                    switch (s) {
                        case TesseraParser.AssignSettingContext c ->
                            new Ast.AssignSetting(c.ident().getText(), expr(c.expr()), span(c));
                        case TesseraParser.StageSettingContext c ->
                            new Ast.StageSetting(c.ident().getText(), expr(c.expr()), span(c));
                        case TesseraParser.OutputSettingContext c ->
                            new Ast.OutputSetting(unquote(c.STRING().getSymbol()), expr(c.expr()), span(c));
                        default -> throw new IllegalStateException("unknown setting " + s.getClass());
                    });
        }
        return new Ast.PipelineDecl(ctx.name.getText(), settings, span(ctx));
    }

    Ast.Expr expr(TesseraParser.ExprContext ctx) {
        return switch (ctx) {
            case TesseraParser.PrimaryExprContext c -> primary(c.primary());
            case TesseraParser.PowExprContext c -> new Ast.Binary("**", expr(c.expr(0)), expr(c.expr(1)), span(c));
            case TesseraParser.UnaryExprContext c -> new Ast.Unary(c.op.getText(), expr(c.expr()), span(c));
            case TesseraParser.IndexExprContext c -> new Ast.Index(expr(c.expr(0)), expr(c.index), span(c));
            case TesseraParser.BinaryExprContext c ->
                new Ast.Binary(c.op.getText(), expr(c.expr(0)), expr(c.expr(1)), span(c));
            case TesseraParser.CondExprContext c ->
                new Ast.Cond(expr(c.expr(0)), expr(c.expr(1)), expr(c.expr(2)), span(c));
            default -> throw new IllegalStateException("unknown expression " + ctx.getClass());
        };
    }

    private Ast.Expr primary(TesseraParser.PrimaryContext ctx) {
        return switch (ctx) {
            case TesseraParser.IntLitContext c -> intLit(c);
            case TesseraParser.FloatLitContext c ->
                new Ast.FloatLit(Double.parseDouble(c.getText().replace("_", "")), span(c));
            case TesseraParser.StringLitContext c ->
                new Ast.StringLit(unquote(c.STRING().getSymbol()), span(c));
            case TesseraParser.BoolLitContext c -> new Ast.BoolLit(c.TRUE() != null, span(c));
            case TesseraParser.ListLitContext c -> {
                List<Ast.Expr> items = new ArrayList<>();
                for (TesseraParser.ExprContext e : c.expr()) {
                    items.add(expr(e));
                }
                yield new Ast.ListLit(items, span(c));
            }
            case TesseraParser.CallExprContext c -> call(c.call());
            case TesseraParser.NameExprContext c -> new Ast.Name(path(c.path()), span(c));
            case TesseraParser.ParenExprContext c -> expr(c.expr());
            default -> throw new IllegalStateException("unknown primary " + ctx.getClass());
        };
    }

    private Ast.Expr intLit(TesseraParser.IntLitContext c) {
        try {
            return new Ast.IntLit(Long.parseLong(c.getText().replace("_", "")), span(c));
        } catch (NumberFormatException e) {
            diagnostics.error(span(c), "integer literal " + c.getText() + " is too large");
            return new Ast.IntLit(0, span(c));
        }
    }

    private Ast.Call call(TesseraParser.CallContext ctx) {
        List<Ast.Arg> args = new ArrayList<>();
        if (ctx.args() != null) {
            for (TesseraParser.ArgContext a : ctx.args().arg()) {
                args.add(new Ast.Arg(a.ident() == null ? null : a.ident().getText(), expr(a.expr()), span(a)));
            }
        }
        return new Ast.Call(path(ctx.path()), args, span(ctx));
    }

    private static List<String> path(TesseraParser.PathContext ctx) {
        List<String> parts = new ArrayList<>();
        for (int i = 0; i < ctx.getChildCount(); i += 2) {
            parts.add(ctx.getChild(i).getText());
        }
        return parts;
    }

    private static List<String> names(TesseraParser.IdentsContext ctx) {
        List<String> out = new ArrayList<>();
        for (TesseraParser.IdentContext id : ctx.ident()) {
            out.add(id.getText());
        }
        return out;
    }

    private static String unquote(Token t) {
        String s = t.getText();
        StringBuilder sb = new StringBuilder();
        for (int i = 1; i < s.length() - 1; i++) {
            char ch = s.charAt(i);
            if (ch == '\\' && i + 1 < s.length() - 1) {
                char n = s.charAt(++i);
                sb.append(
                        switch (n) {
                            case 'n' -> '\n';
                            case 't' -> '\t';
                            default -> n;
                        });
            } else {
                sb.append(ch);
            }
        }
        return sb.toString();
    }

    private Span span(ParserRuleContext ctx) {
        Token start = ctx.getStart();
        Token stop = ctx.getStop() == null ? start : ctx.getStop();
        int stopLen = stop.getStopIndex() >= stop.getStartIndex() ? stop.getStopIndex() - stop.getStartIndex() + 1 : 0;
        return new Span(
                file,
                start.getLine(),
                start.getCharPositionInLine() + 1,
                stop.getLine(),
                stop.getCharPositionInLine() + 1 + stopLen);
    }
}
