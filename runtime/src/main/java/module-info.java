/**
 * Pipelines assembled and run, and the embedding API ({@code org.tessera.runtime}: {@code Tessera},
 * {@code Pipeline}, requests and results). The assembly, plan caches and outputs
 * ({@code internal}) are not exported.
 */
module org.tessera.runtime {
    requires transitive org.tessera.dsl;

    exports org.tessera.runtime;
}
