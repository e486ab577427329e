/**
 * Panama bindings to the CUDA runtime, cuBLAS(Lt) and NVRTC. The generated bindings
 * ({@code org.tessera.ffi.bindings}) stay inside; only the checked wrappers are exported, and only
 * to the engine (which drives the GPU) and the command line (whose {@code doctor} reports what
 * was found).
 */
module org.tessera.ffi {
    exports org.tessera.ffi to
            org.tessera.engine,
            org.tessera.cli;
}
