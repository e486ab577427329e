package org.tessera.dsl.sema;

/** A function the language provides: its signature and how it lowers. */
interface Builtin {
    Signature signature();

    /** Lowers a call whose arguments are already bound to the signature's parameters. */
    CompileValue apply(LoweringContext ctx, BoundArgs args);

    /** A built-in from a signature and a lowering function. */
    static Builtin of(Signature sig, java.util.function.BiFunction<LoweringContext, BoundArgs, CompileValue> body) {
        return new Builtin() {
            @Override
            public Signature signature() {
                return sig;
            }

            @Override
            public CompileValue apply(LoweringContext ctx, BoundArgs args) {
                return body.apply(ctx, args);
            }
        };
    }
}
