package org.tessera.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessera.engine.tensor.DType;
import org.tessera.engine.tensor.Device;
import org.tessera.engine.tensor.Tensor;
import org.tessera.ffi.Cuda;

/** The CUDA backend against the scalar reference, op by op; skipped, with the reason, without a GPU. */
class CudaBackendTest {

    @Test
    void everyOpAgreesWithTheReference() {
        Cuda.Status s = Cuda.probe();
        assumeTrue(s.available(), "no CUDA here: " + s.problem());
        try (CudaDevice dev = CudaDevice.open(0)) {
            List<CudaSelfTest.Result> results = CudaSelfTest.run(dev);
            results.forEach(System.out::println);
            assertTrue(
                    results.stream().allMatch(CudaSelfTest.Result::ok),
                    "failed: " + results.stream().filter(r -> !r.ok()).toList());
        }
    }

    @Test
    void withoutCudaOpeningSaysWhy() {
        Cuda.Status s = Cuda.probe();
        assumeFalse(s.available(), "CUDA is available here");
        CudaUnavailableException e = assertThrows(CudaUnavailableException.class, () -> CudaDevice.open(0));
        assertEquals("CUDA is not available: " + s.problem(), e.getMessage());
    }

    @Test
    void deviceTensorsAreNotReadFromJava() {
        Tensor fake = Tensor.onDevice(
                java.lang.foreign.MemorySegment.ofAddress(0x1000).reinterpret(64), DType.F32, Device.CUDA, 4, 4);
        IllegalStateException e = assertThrows(IllegalStateException.class, fake::toFloatArray);
        assertTrue(e.getMessage().contains("cuda memory"), e.getMessage());
        assertThrows(
                IllegalStateException.class, () -> Tensor.zeros(DType.F32, 4, 4).copyFrom(fake));
        assertTrue(fake.toString().contains("cuda"), fake.toString());
    }
}
