package org.tessera.engine.backend;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.tessera.engine.tensor.Device;
import org.tessera.engine.tensor.Tensor;

/** Host memory: the CPU backends' {@link MemoryOps}. Allocations are 64-byte aligned shared arenas. */
public final class HostMemory implements MemoryOps {
    public static final HostMemory INSTANCE = new HostMemory();

    private HostMemory() {}

    @Override
    public Device device() {
        return Device.CPU;
    }

    @Override
    public Allocation allocate(long bytes, String what) {
        Arena arena = Arena.ofShared();
        MemorySegment seg = arena.allocate(Math.max(bytes, 64), 64);
        return new Allocation() {
            @Override
            public MemorySegment segment() {
                return seg;
            }

            @Override
            public void close() {
                arena.close();
            }
        };
    }

    @Override
    public Tensor place(Tensor host) {
        return host;
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        dst.copyFrom(src);
    }

    @Override
    public void gather(Tensor table, Tensor ids, Tensor out) {
        new EmbeddingGather(table, ids, out).run();
    }

    @Override
    public void synchronize() {}
}
