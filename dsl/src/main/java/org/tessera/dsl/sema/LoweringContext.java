package org.tessera.dsl.sema;

import org.tessera.engine.graph.GraphBuilder;
import org.tessera.engine.graph.Value;

/** What a built-in may use while lowering: the graph under construction and value conversions. */
interface LoweringContext {
    GraphBuilder graph();

    /** The tensor behind a value (a weight becomes a graph constant on first use). */
    Value tensor(CompileValue v, String what);
}
