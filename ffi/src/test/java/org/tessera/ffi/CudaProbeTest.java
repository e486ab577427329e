package org.tessera.ffi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;

/**
 * Calls the generated runtime bindings for real wherever libcudart.so.13 is installed, GPU or not
 * (CI has the runtime and no driver); skips with the reason elsewhere.
 */
class CudaProbeTest {

    @Test
    void probeAnswersWithoutThrowing() {
        Cuda.Status s = Cuda.probe();
        assertEquals(4, s.libraries().size());
        assertEquals(s.problem() == null, s.available());
        if (s.available()) {
            assertFalse(s.devices().isEmpty());
            for (Cuda.Device d : s.devices()) {
                assertFalse(d.name().isBlank());
                assertTrue(d.totalMemory() > 0);
            }
        } else {
            assertNotNull(s.problem());
            assertFalse(s.problem().isBlank());
        }
        assertTrue(Cuda.probe() == s, "probed once per process");
    }

    @Test
    void runtimeBindingsWork() {
        Cuda.Status s = Cuda.probe();
        assumeTrue(
                s.libraries().get(0).ok(),
                "libcudart.so.13 not found: " + s.libraries().get(0).problem());
        assertTrue(s.runtimeVersion() >= 13000, "runtime version " + s.runtimeVersion());
        if (s.devices().isEmpty()) {
            assertFalse(s.available());
        }
        // Error names and strings come from the runtime itself.
        assertEquals("cudaErrorMemoryAllocation (out of memory)", Cuda.errorText(2));
        CudaException e = assertThrows(CudaException.class, () -> Cuda.check(2, "cudaMalloc(1 GiB)"));
        assertEquals("cudaMalloc(1 GiB): cudaErrorMemoryAllocation (out of memory)", e.getMessage());
        assertEquals(2, e.code());
        Cuda.check(0, "nothing");
    }
}
