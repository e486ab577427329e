/**
 * Tensors, backends, the op-graph IR and executor, the diffusion mathematics and weight I/O.
 *
 * <p>Not exported: the SIMD kernels ({@code cpu}, the one package that imports
 * {@code jdk.incubator.vector}, loaded reflectively so that the engine runs without it) and the
 * scalar reference kernels ({@code reference}). The CUDA backend is chosen through
 * {@code device}; its package is open only to the command line's GPU benchmark and self-test.
 */
module org.tessera.engine {
    requires static jdk.incubator.vector;
    requires org.tessera.ffi;
    requires java.desktop; // ImageIO, for PNG and GIF outputs
    requires jcodec; // H.264 for MP4 outputs (an automatic module: the jar names no module)

    exports org.tessera.engine.backend;
    exports org.tessera.engine.bench;
    exports org.tessera.engine.device;
    exports org.tessera.engine.diffusion;
    exports org.tessera.engine.graph;
    exports org.tessera.engine.io;
    exports org.tessera.engine.io.torch;
    exports org.tessera.engine.packing;
    exports org.tessera.engine.parallel;
    exports org.tessera.engine.random;
    exports org.tessera.engine.tensor;
    exports org.tessera.engine.train;
    exports org.tessera.engine.cuda to
            org.tessera.cli;
}
