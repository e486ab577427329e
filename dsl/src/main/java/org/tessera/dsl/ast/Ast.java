package org.tessera.dsl.ast;

import java.util.List;
import org.tessera.dsl.diag.Span;

/**
 * The typed syntax tree of a {@code .tess} file: records with source spans, built from the parse
 * tree by {@code AstBuilder} (the only class besides the parser facade that sees ANTLR's classes).
 */
public final class Ast {
    private Ast() {}

    /** A parsed file. */
    public record SourceFile(String path, List<Decl> declarations) {}

    /** A top-level declaration. */
    public sealed interface Decl permits Import, BlockDecl, AliasDecl, PipelineDecl {
        Span span();
    }

    /** {@code import "other.tess"}: a file path, relative to the importing file or the stdlib. */
    public record Import(String path, Span span) implements Decl {}

    /** What a block declaration declares. */
    public enum BlockKind {
        /** {@code block}: a building block. */
        BLOCK,
        /** {@code model}: a top-level network (checked on its own by {@code tessera check}). */
        MODEL,
        /** {@code sampler}: one reverse step, instantiated per step with the step's schedule values. */
        SAMPLER
    }

    /** {@code block Name(params) { members }}; {@code model} and {@code sampler} are the same with another kind. */
    public record BlockDecl(BlockKind kind, String name, List<Param> params, List<Member> members, Span span)
            implements Decl {
        public boolean isModel() {
            return kind == BlockKind.MODEL;
        }

        public boolean isSampler() {
            return kind == BlockKind.SAMPLER;
        }
    }

    /** {@code model Name = Block(args)}: a named configuration of a block (new defaults). */
    public record AliasDecl(String name, Call target, Span span) implements Decl {}

    /** {@code pipeline name { settings }}. */
    public record PipelineDecl(String name, List<Setting> settings, Span span) implements Decl {}

    /** A typed block parameter with an optional default. */
    public record Param(String name, String type, Expr defaultValue, Span span) {}

    /** A member of a block body. */
    public sealed interface Member permits LetMember, SubMember, WeightMember, IfMember, ForwardMember, ContractMember {
        Span span();
    }

    /** {@code let name = expr}: a compile-time constant of the block. */
    public record LetMember(String name, Expr value, Span span) implements Member {}

    /**
     * {@code sub path = Block(args)} or {@code sub path = repeat(n) Block(args)}; the path becomes
     * the weight-key prefix ({@code blocks.3.attn.qkv.weight}).
     */
    /**
     * {@code sub path = Block(...)}, or {@code repeat(n)} copies of it; with {@code as i} the
     * copies' arguments see {@code index} bound to the copy's number (null when not named).
     */
    public record SubMember(List<String> path, Expr repeat, String index, Call call, Span span) implements Member {}

    /** {@code weight path: [dims]}, a learned tensor; {@code fixed} marks a buffer that is not trained. */
    /** {@code weight path: [shape] fixed = init}: {@code init} (how it starts) may be null. */
    public record WeightMember(List<String> path, Expr shape, boolean fixed, Expr init, Span span) implements Member {}

    /** Compile-time {@code if} over members. */
    public record IfMember(Expr condition, List<Member> then, List<Member> otherwise, Span span) implements Member {}

    /** {@code forward(inputs) { body }}. */
    public record ForwardMember(List<Input> inputs, List<Stmt> body, Span span) implements Member {}

    /**
     * {@code contract { latent = x  timestep = t ... }}: the model's roles for a pipeline; entries
     * in source order.
     */
    public record ContractMember(List<ContractEntry> entries, Span span) implements Member {}

    /** One {@code key = value} of a contract. */
    public record ContractEntry(String key, Expr value, Span span) {}

    /** A forward input; {@code shape} (may be null) is a list expression whose unknown names are symbolic sizes. */
    public record Input(String name, Expr shape, Span span) {}

    /** A statement of a forward body. */
    public sealed interface Stmt permits Let, Assign, For, If, Return {
        Span span();
    }

    /** {@code let a, b = expr} (a tuple result is destructured). */
    public record Let(List<String> names, Expr value, Span span) implements Stmt {}

    /** {@code a = expr}: rebinds existing names. */
    public record Assign(List<String> names, Expr value, Span span) implements Stmt {}

    /** {@code for i, blk in blocks { ... }} over a list of sub-blocks; {@code index} may be null. */
    public record For(String index, String item, List<String> collection, List<Stmt> body, Span span) implements Stmt {}

    /** Compile-time {@code if} in a forward body. */
    public record If(Expr condition, List<Stmt> then, List<Stmt> otherwise, Span span) implements Stmt {}

    /** {@code return expr}. */
    public record Return(Expr value, Span span) implements Stmt {}

    /** A pipeline setting. */
    public sealed interface Setting permits AssignSetting, StageSetting, OutputSetting {
        Span span();
    }

    /** {@code key = expr}. */
    public record AssignSetting(String key, Expr value, Span span) implements Setting {}

    /** {@code let name = sample(...)}: a stage of a pipeline program. */
    public record StageSetting(String name, Expr value, Span span) implements Setting {}

    /** {@code output "file" = expr}. */
    public record OutputSetting(String file, Expr value, Span span) implements Setting {}

    /** An expression. */
    public sealed interface Expr
            permits IntLit, FloatLit, StringLit, BoolLit, ListLit, Name, Call, Unary, Binary, Cond, Index {
        Span span();
    }

    public record IntLit(long value, Span span) implements Expr {}

    public record FloatLit(double value, Span span) implements Expr {}

    public record StringLit(String value, Span span) implements Expr {}

    public record BoolLit(boolean value, Span span) implements Expr {}

    /** {@code [a, b, c]}: a list, a shape, or a tuple of values. */
    public record ListLit(List<Expr> items, Span span) implements Expr {}

    /** A (possibly dotted) name: a variable, a parameter, a weight, a sub-block path. */
    public record Name(List<String> path, Span span) implements Expr {
        public String dotted() {
            return String.join(".", path);
        }
    }

    /** A call of a built-in op, a block constructor, or a sub-block instance. */
    public record Call(List<String> callee, List<Arg> args, Span span) implements Expr {
        public String dotted() {
            return String.join(".", callee);
        }
    }

    /** {@code name = value} or a positional {@code value} (name null). */
    public record Arg(String name, Expr value, Span span) {}

    /** {@code -x}, {@code not x}. */
    public record Unary(String op, Expr operand, Span span) implements Expr {}

    /** Arithmetic, comparison and logic; {@code op} is the source token. */
    public record Binary(String op, Expr left, Expr right, Span span) implements Expr {}

    /** {@code if c then a else b}. */
    public record Cond(Expr condition, Expr then, Expr otherwise, Span span) implements Expr {}

    /** {@code xs[i]}: an item of a compile-time list (a shape's size); negative counts from the end. */
    public record Index(Expr target, Expr index, Span span) implements Expr {}
}
