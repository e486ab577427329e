package org.tessera.ffi;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A kernel's {@code void** args}, reused from launch to launch: each argument gets an 8-byte
 * aligned slot (a by-value struct several), and entry i of the pointer array points at argument
 * i's slot. Fill it with {@link #reset()} and the typed adders in parameter order, then pass
 * {@link #pointers()} to {@link CudaRuntime#launch}. Nothing is allocated after construction.
 */
public final class KernelArgs {
    private final MemorySegment slots;
    private final MemorySegment pointers;
    private final int maxArgs;
    private int count;
    private long used;

    /** Room for {@code maxArgs} arguments taking {@code slotBytes} bytes in all. */
    public KernelArgs(Arena arena, int maxArgs, long slotBytes) {
        this.slots = arena.allocate(slotBytes, 16);
        this.pointers = arena.allocate(ADDRESS, maxArgs);
        this.maxArgs = maxArgs;
    }

    public KernelArgs reset() {
        count = 0;
        used = 0;
        return this;
    }

    private long next(long bytes) {
        if (count == maxArgs || used + bytes > slots.byteSize()) {
            throw new IllegalStateException(
                    "kernel arguments: more than " + maxArgs + " arguments or " + slots.byteSize() + " bytes");
        }
        long at = used;
        pointers.setAtIndex(ADDRESS, count++, slots.asSlice(at));
        used += (bytes + 7) & ~7L;
        return at;
    }

    /** A device pointer (0 for null). */
    public KernelArgs ptr(long devicePointer) {
        slots.set(JAVA_LONG, next(8), devicePointer);
        return this;
    }

    public KernelArgs i32(int v) {
        slots.set(JAVA_INT, next(4), v);
        return this;
    }

    public KernelArgs i64(long v) {
        slots.set(JAVA_LONG, next(8), v);
        return this;
    }

    public KernelArgs f32(float v) {
        slots.set(JAVA_FLOAT, next(4), v);
        return this;
    }

    public KernelArgs f64(double v) {
        slots.set(JAVA_DOUBLE, next(8), v);
        return this;
    }

    /** A by-value struct made only of 64-bit integers (the kernels' Strides and friends). */
    public KernelArgs struct(long[] fields) {
        long at = next(8L * fields.length);
        MemorySegment.copy(fields, 0, slots, JAVA_LONG, at, fields.length);
        return this;
    }

    /** The {@code void**} to hand to cudaLaunchKernel. */
    public MemorySegment pointers() {
        return pointers;
    }
}
