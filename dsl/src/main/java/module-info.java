/**
 * The compiler: {@code .tess} text to checked pipeline definitions and engine graphs. Exported:
 * the front door ({@code Script}, {@code ModelDefinition}, {@code PipelineDefinition}), the
 * diagnostics and the pipeline settings. The parser, the AST and the semantic passes stay inside.
 */
module org.tessera.dsl {
    requires transitive org.tessera.engine;
    requires org.antlr.antlr4.runtime;

    exports org.tessera.dsl;
    exports org.tessera.dsl.diag;
    exports org.tessera.dsl.pipeline;
}
