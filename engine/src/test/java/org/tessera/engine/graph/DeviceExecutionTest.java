package org.tessera.engine.graph;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.tessera.engine.backend.AttentionMask;
import org.tessera.engine.backend.AttentionOps;
import org.tessera.engine.backend.Backend;
import org.tessera.engine.backend.Backends;
import org.tessera.engine.backend.ConvOps;
import org.tessera.engine.backend.ElementwiseOps;
import org.tessera.engine.backend.Epilogue;
import org.tessera.engine.backend.GemmOps;
import org.tessera.engine.backend.MemoryOps;
import org.tessera.engine.backend.NormOps;
import org.tessera.engine.backend.PackedMatrix;
import org.tessera.engine.backend.TableOps;
import org.tessera.engine.parallel.WorkerPool;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Device;
import org.tessera.engine.tensor.Tensor;

/**
 * The executor's device path without a GPU: a test double of a device backend whose memory is
 * really host memory labelled {@link Device#CUDA}, and whose op families check that every
 * tensor they get is a device tensor before running the CPU kernels on it. Java reading a
 * device tensor throws, so a step that bypassed the backend would fail here — as it would on
 * a GPU, where it would crash.
 */
class DeviceExecutionTest {
    private static final WorkerPool POOL = new WorkerPool(2);
    private static final Backend CPU = Backends.cpu(POOL, m -> {});

    @AfterAll
    static void close() {
        POOL.close();
    }

    private static Tensor host(Tensor t) {
        if (t == null) {
            return null;
        }
        assertEquals(Device.CUDA, t.device(), "a kernel got a host tensor: " + t);
        return t.as(Device.CPU);
    }

    /** Counts replayable() wrappers and their runs, like CUDA's capture-then-replay. */
    static final class FakeDeviceMemory implements MemoryOps {
        int replays;

        @Override
        public Device device() {
            return Device.CUDA;
        }

        @Override
        public Allocation allocate(long bytes, String what) {
            return org.tessera.engine.backend.HostMemory.INSTANCE.allocate(bytes, what);
        }

        /** Host memory labelled as the device's (Tensor.onDevice would make it unreadable, as on a GPU). */
        @Override
        public Tensor tensor(java.lang.foreign.MemorySegment segment, DType dtype, int... shape) {
            return Tensor.wrap(segment, dtype, shape).as(Device.CUDA);
        }

        @Override
        public Tensor place(Tensor host) {
            Tensor copy = Tensor.zeros(host.dtype(), host.shape());
            copy.copyFrom(host);
            return copy.as(Device.CUDA);
        }

        @Override
        public void copy(Tensor src, Tensor dst) {
            dst.as(Device.CPU).copyFrom(src.as(Device.CPU));
        }

        @Override
        public void gather(Tensor table, Tensor ids, Tensor out) {
            CPU.memory().gather(host(table), host(ids), host(out));
        }

        @Override
        public void synchronize() {}

        @Override
        public Runnable replayable(Runnable steps) {
            return () -> {
                replays++;
                steps.run();
            };
        }
    }

    private static Backend fakeDevice(FakeDeviceMemory memory) {
        GemmOps gemm = new GemmOps() {
            @Override
            public void gemm(Tensor a, Tensor b, Tensor c, float alpha, float beta, Epilogue e) {
                CPU.gemm().gemm(host(a), host(b), host(c), alpha, beta, Epilogue.of(host(e.bias()), e.activation()));
            }

            @Override
            public PackedMatrix pack(Tensor b, Arena arena) {
                return CPU.gemm().pack(b, arena); // packing reads the host weight, as a GPU upload does
            }

            @Override
            public void gemm(Tensor a, PackedMatrix b, Tensor c, float alpha, float beta, Epilogue e) {
                CPU.gemm().gemm(host(a), b, host(c), alpha, beta, Epilogue.of(host(e.bias()), e.activation()));
            }
        };
        AttentionOps attention = new AttentionOps() {
            @Override
            public void attention(Tensor q, Tensor k, Tensor v, Tensor out, AttentionMask mask, float scale) {
                CPU.attention().attention(host(q), host(k), host(v), host(out), mask, scale);
            }

            @Override
            public void attention(Tensor q, Tensor k, Tensor v, Tensor out, Tensor ids, float scale) {
                CPU.attention()
                        .attention(host(q), host(k), host(v), host(out), AttentionMask.Segments.of(host(ids)), scale);
            }
        };
        NormOps norms = new NormOps() {
            public void softmax(Tensor x, Tensor out) {
                CPU.norms().softmax(host(x), host(out));
            }

            public void layerNorm(Tensor x, Tensor w, Tensor b, float eps, Tensor out) {
                CPU.norms().layerNorm(host(x), host(w), host(b), eps, host(out));
            }

            public void layerNormModulate(Tensor x, Tensor shift, Tensor scale, float eps, Tensor out) {
                CPU.norms().layerNormModulate(host(x), host(shift), host(scale), eps, host(out));
            }

            public void groupNorm(Tensor x, int groups, Tensor w, Tensor b, float eps, Tensor out) {
                CPU.norms().groupNorm(host(x), groups, host(w), host(b), eps, host(out));
            }
        };
        ElementwiseOps ew = new ElementwiseOps() {
            public void add(Tensor a, Tensor b, Tensor out) {
                CPU.elementwise().add(host(a), host(b), host(out));
            }

            public void sub(Tensor a, Tensor b, Tensor out) {
                CPU.elementwise().sub(host(a), host(b), host(out));
            }

            public void mul(Tensor a, Tensor b, Tensor out) {
                CPU.elementwise().mul(host(a), host(b), host(out));
            }

            public void div(Tensor a, Tensor b, Tensor out) {
                CPU.elementwise().div(host(a), host(b), host(out));
            }

            public void axpby(float alpha, Tensor x, float beta, Tensor y, Tensor out) {
                CPU.elementwise().axpby(alpha, host(x), beta, host(y), host(out));
            }

            public void gelu(Tensor x, Tensor out) {
                CPU.elementwise().gelu(host(x), host(out));
            }

            public void clamp(Tensor x, float lo, float hi, Tensor out) {
                CPU.elementwise().clamp(host(x), lo, hi, host(out));
            }

            public void silu(Tensor x, Tensor out) {
                CPU.elementwise().silu(host(x), host(out));
            }

            public void modulate(Tensor x, Tensor shift, Tensor scale, Tensor out) {
                CPU.elementwise().modulate(host(x), host(shift), host(scale), host(out));
            }
        };
        TableOps tables = new TableOps() {
            public void timestepEmbedding(Tensor t, double maxPeriod, Tensor out) {
                CPU.tables().timestepEmbedding(host(t), maxPeriod, host(out));
            }

            public void sinCos1d(Tensor positions, Tensor out) {
                CPU.tables().sinCos1d(host(positions), host(out));
            }

            public void sinCos2d(int gridH, int gridW, Tensor out) {
                CPU.tables().sinCos2d(gridH, gridW, host(out));
            }
        };
        ConvOps conv = new ConvOps() {
            public void patchEmbed2d(Tensor x, Tensor w, Tensor b, Tensor out) {
                CPU.conv().patchEmbed2d(host(x), host(w), host(b), host(out));
            }

            public void patchEmbed3d(Tensor x, Tensor w, Tensor b, Tensor out) {
                CPU.conv().patchEmbed3d(host(x), host(w), host(b), host(out));
            }

            public void conv2d(Tensor x, Tensor w, Tensor b, int stride, int padding, Tensor out) {
                CPU.conv().conv2d(host(x), host(w), host(b), stride, padding, host(out));
            }

            public void upsampleNearest2d(Tensor x, int factor, Tensor out) {
                CPU.conv().upsampleNearest2d(host(x), factor, host(out));
            }
        };
        return new Backend(
                "fake-device",
                new WorkerPool(1),
                gemm,
                attention,
                norms,
                ew,
                tables,
                conv,
                org.tessera.engine.backend.BackwardOps.none("fake-device"),
                memory);
    }

    @Test
    void aDeviceBackendRunsTheSamePlanAndMatchesTheCpu() {
        Map<String, Tensor> expected;
        try (Execution e = Planner.compile(SampleGraphs.ditLike(), CPU).newExecution()) {
            Map<String, Tensor> r = e.run(SampleGraphs.ditLikeInputs());
            expected = Map.of("out", copy(r.get("out")), "labels", copy(r.get("labels")));
        }
        FakeDeviceMemory memory = new FakeDeviceMemory();
        CompiledGraph compiled = Planner.compile(SampleGraphs.ditLike(), fakeDevice(memory));
        assertTrue(
                compiled.passLog().stream().anyMatch(l -> l.startsWith("constants: ")),
                compiled.passLog().toString());
        try (Execution e = compiled.newExecution()) {
            for (int run = 0; run < 3; run++) {
                Map<String, Tensor> r = e.run(SampleGraphs.ditLikeInputs());
                assertEquals(Device.CPU, r.get("out").device(), "outputs come back to the host");
                assertArrayEquals(
                        expected.get("out").toFloatArray(), r.get("out").toFloatArray(), 1e-6f, "run " + run);
                assertArrayEquals(
                        expected.get("labels").toFloatArray(), r.get("labels").toFloatArray());
            }
        }
        assertEquals(3, memory.replays, "every run goes through replayable()");
    }

    @Test
    void aRealDeviceTensorCannotBeRelabelledAsHostMemory() {
        Tensor gpu = Tensor.onDevice(
                java.lang.foreign.MemorySegment.ofAddress(0x1000).reinterpret(64), DType.F32, Device.CUDA, 4, 4);
        assertThrows(IllegalStateException.class, () -> gpu.as(Device.CPU));
        assertThrows(IllegalStateException.class, () -> gpu.t().as(Device.CPU));
    }

    @Test
    void readingADeviceTensorFromJavaFails() {
        Tensor t = Tensor.zeros(DType.F32, 2, 2).as(Device.CUDA);
        assertThrows(IllegalStateException.class, t::toFloatArray);
        assertThrows(IllegalStateException.class, () -> t.getFloat(0, 0));
        assertThrows(
                IllegalStateException.class, () -> Tensor.zeros(DType.F32, 2, 2).copyFrom(t));
    }

    private static Tensor copy(Tensor t) {
        Tensor c = Tensor.zeros(t.dtype(), t.shape());
        c.copyFrom(t);
        return c;
    }
}
