/** JMH benchmarks of the engine's kernels, through the engine's public API only. */
module org.tessera.benchmarks {
    requires org.tessera.engine;
    requires jmh.core;

    // JMH's generated harness (package jmh_generated) and its runner reach the benchmarks reflectively.
    opens org.tessera.benchmarks;
}
