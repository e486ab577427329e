package org.tessera.engine.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Locale;

/**
 * An n-dimensional array over off-heap storage.
 *
 * <p>A tensor is a view: a {@link MemorySegment} (its storage), a dtype, a shape, strides in
 * elements and an element offset. Reshape, permute, slice, chunk and expand make new views of
 * the same storage without copying; {@link #contiguous(Arena)} copies when a kernel needs
 * row-major data. Every view is checked when it is built, so a view that could read outside its
 * storage is refused at once rather than failing later inside a kernel.
 *
 * <p>Lifetimes are explicit: storage is allocated in an {@link Arena} the caller owns (a
 * pipeline run, a test), or wraps a memory-mapped file. Use a shared arena when worker threads
 * read the tensor. Methods without an arena parameter use {@link Arena#ofAuto()}, which the
 * garbage collector frees.
 *
 * <p>Tensors are immutable as views; their contents are mutable through {@link #setFloat} and
 * through the backend ops that write into a destination tensor.
 */
public final class Tensor {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED;
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED;

    private final MemorySegment storage;
    private final DType dtype;
    private final Device device;
    /** False for tensors made by {@link #onDevice}: their storage must never be read from Java. */
    private final boolean hostAddressable;

    private final int[] shape;
    private final long[] strides;
    private final long offset;

    private Tensor(
            MemorySegment storage,
            DType dtype,
            Device device,
            boolean hostAddressable,
            int[] shape,
            long[] strides,
            long offset) {
        this.storage = storage;
        this.hostAddressable = hostAddressable;
        this.dtype = dtype;
        this.device = device;
        this.shape = shape;
        this.strides = strides;
        this.offset = offset;
        checkBounds();
    }

    // ---------------------------------------------------------------- creation

    /** A zero-filled row-major tensor allocated in {@code arena} (64-byte aligned for SIMD). */
    public static Tensor zeros(Arena arena, DType dtype, int... shape) {
        checkShape(shape);
        long bytes = Shapes.numel(shape) * dtype.byteSize();
        MemorySegment seg = arena.allocate(Math.max(bytes, 1), 64);
        return new Tensor(seg, dtype, Device.CPU, true, shape.clone(), Shapes.contiguousStrides(shape), 0);
    }

    /** A zero-filled tensor freed by the garbage collector. */
    public static Tensor zeros(DType dtype, int... shape) {
        return zeros(Arena.ofAuto(), dtype, shape);
    }

    /** An F32 tensor holding a copy of {@code data} in row-major order. */
    public static Tensor of(Arena arena, float[] data, int... shape) {
        checkShape(shape);
        if (Shapes.numel(shape) != data.length) {
            throw new ShapeMismatchException(
                    "Tensor.of: " + data.length + " values cannot fill shape " + Shapes.toString(shape));
        }
        Tensor t = zeros(arena, DType.F32, shape);
        MemorySegment.copy(data, 0, t.storage, F32, 0, data.length);
        return t;
    }

    /** An F32 tensor holding a copy of {@code data}, freed by the garbage collector. */
    public static Tensor of(float[] data, int... shape) {
        return of(Arena.ofAuto(), data, shape);
    }

    /** An I64 tensor holding a copy of {@code data}. */
    public static Tensor ofLongs(Arena arena, long[] data, int... shape) {
        checkShape(shape);
        if (Shapes.numel(shape) != data.length) {
            throw new ShapeMismatchException(
                    "Tensor.ofLongs: " + data.length + " values cannot fill shape " + Shapes.toString(shape));
        }
        Tensor t = zeros(arena, DType.I64, shape);
        MemorySegment.copy(data, 0, t.storage, I64, 0, data.length);
        return t;
    }

    /** An F64 tensor holding a copy of {@code data}. */
    public static Tensor ofDoubles(Arena arena, double[] data, int... shape) {
        checkShape(shape);
        if (Shapes.numel(shape) != data.length) {
            throw new ShapeMismatchException(
                    "Tensor.ofDoubles: " + data.length + " values cannot fill shape " + Shapes.toString(shape));
        }
        Tensor t = zeros(arena, DType.F64, shape);
        MemorySegment.copy(data, 0, t.storage, F64, 0, data.length);
        return t;
    }

    /**
     * A row-major view over existing memory, e.g. a memory-mapped weights file.
     *
     * @throws ShapeMismatchException if the segment is too small for the shape
     */
    public static Tensor wrap(MemorySegment segment, DType dtype, int... shape) {
        checkShape(shape);
        return new Tensor(segment, dtype, Device.CPU, true, shape.clone(), Shapes.contiguousStrides(shape), 0);
    }

    /**
     * A row-major tensor in another device's memory: {@code memory}'s address is the device
     * pointer and its size the allocation's. Java code never reads such storage; its views are
     * handed to the backend of that device, and reading it here throws.
     */
    public static Tensor onDevice(MemorySegment memory, DType dtype, Device device, int... shape) {
        checkShape(shape);
        return new Tensor(
                memory, dtype, device, device == Device.CPU, shape.clone(), Shapes.contiguousStrides(shape), 0);
    }

    /**
     * This view, labelled as living in {@code device}'s memory: for backends whose device memory
     * the host can address (unified memory, or a test double of a GPU backend).
     */
    public Tensor as(Device device) {
        if (device == this.device) {
            return this;
        }
        if (device == Device.CPU && !hostAddressable) {
            throw new IllegalStateException("as(cpu): this tensor lives in " + this.device.shortName()
                    + " memory that Java cannot read; copy it to the host instead");
        }
        return new Tensor(storage, dtype, device, hostAddressable, shape, strides, offset);
    }

    /**
     * Throws unless this tensor's storage is host memory that Java may read and write: for code
     * that reads {@link #storage()} directly (writers, fillers, gathers).
     */
    public void requireHost(String op) {
        if (device != Device.CPU) {
            throw new IllegalStateException(op + ": the tensor is in " + device.shortName()
                    + " memory; copy it to the host first (" + dtype.shortName() + Shapes.toString(shape) + ")");
        }
    }

    private static void checkShape(int[] shape) {
        for (int d : shape) {
            if (d < 0) {
                throw new ShapeMismatchException("negative dimension in shape " + Shapes.toString(shape));
            }
        }
    }

    private void checkBounds() {
        if (strides.length != shape.length) {
            throw new ShapeMismatchException(
                    "strides " + Arrays.toString(strides) + " do not match shape " + Shapes.toString(shape));
        }
        if (offset < 0) {
            throw new ShapeMismatchException("negative offset " + offset);
        }
        long last = offset;
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] == 0) {
                return; // an empty view reads nothing
            }
            if (strides[i] < 0) {
                throw new ShapeMismatchException("negative stride in " + Arrays.toString(strides));
            }
            last += (long) (shape[i] - 1) * strides[i];
        }
        long capacity = storage.byteSize() / dtype.byteSize();
        if (last >= capacity) {
            throw new ShapeMismatchException("view " + Shapes.toString(shape) + " strides " + Arrays.toString(strides)
                    + " offset " + offset + " reaches element " + last + " but the storage holds " + capacity);
        }
    }

    // ---------------------------------------------------------------- metadata

    public DType dtype() {
        return dtype;
    }

    public Device device() {
        return device;
    }

    /** A copy of the shape. */
    public int[] shape() {
        return shape.clone();
    }

    /** Size of dimension {@code dim}; negative dims count from the end. */
    public int size(int dim) {
        return shape[normDim(dim, shape.length)];
    }

    /** A copy of the strides, in elements. */
    public long[] strides() {
        return strides.clone();
    }

    /** Stride of dimension {@code dim} in elements; negative dims count from the end. */
    public long stride(int dim) {
        return strides[normDim(dim, shape.length)];
    }

    /** Element offset of this view's first element inside its storage. */
    public long offset() {
        return offset;
    }

    public int rank() {
        return shape.length;
    }

    public long numel() {
        return Shapes.numel(shape);
    }

    /** The whole underlying storage (not just this view). */
    public MemorySegment storage() {
        return storage;
    }

    /** Byte offset of this view's first element inside {@link #storage()}. */
    public long byteOffset() {
        return offset * dtype.byteSize();
    }

    /** True when the elements are laid out row-major without gaps. */
    public boolean isContiguous() {
        return Shapes.isContiguous(shape, strides);
    }

    /** True when both tensors have the same shape. */
    public boolean sameShape(Tensor other) {
        return Arrays.equals(shape, other.shape);
    }

    // ---------------------------------------------------------------- views

    /**
     * The same elements under a new shape; one dimension may be {@code -1}. Works without a copy
     * whenever the strides allow it (always for contiguous tensors).
     *
     * @throws ShapeMismatchException if the element counts differ or the view is impossible
     */
    public Tensor reshape(int... newShape) {
        int[] target = Shapes.inferReshape(newShape, numel(), shape);
        long[] newStrides = Shapes.viewStrides(shape, strides, target);
        if (newStrides == null) {
            throw new ShapeMismatchException(
                    "reshape: cannot view " + Shapes.toString(shape) + " with strides " + Arrays.toString(strides)
                            + " as " + Shapes.toString(target) + " without a copy; call contiguous() first");
        }
        return new Tensor(storage, dtype, device, hostAddressable, target, newStrides, offset);
    }

    /** A view with the dimensions reordered: result dim {@code i} is this tensor's {@code dims[i]}. */
    public Tensor permute(int... dims) {
        if (dims.length != shape.length) {
            throw new ShapeMismatchException("permute: " + Arrays.toString(dims) + " does not name each of the "
                    + shape.length + " dims of " + Shapes.toString(shape));
        }
        int[] newShape = new int[dims.length];
        long[] newStrides = new long[dims.length];
        boolean[] seen = new boolean[dims.length];
        for (int i = 0; i < dims.length; i++) {
            int d = normDim(dims[i], shape.length);
            if (seen[d]) {
                throw new ShapeMismatchException("permute: dim " + d + " repeated in " + Arrays.toString(dims));
            }
            seen[d] = true;
            newShape[i] = shape[d];
            newStrides[i] = strides[d];
        }
        return new Tensor(storage, dtype, device, hostAddressable, newShape, newStrides, offset);
    }

    /** A view with two dimensions swapped. */
    public Tensor transpose(int dim0, int dim1) {
        int[] order = new int[shape.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        int a = normDim(dim0, shape.length);
        int b = normDim(dim1, shape.length);
        order[a] = b;
        order[b] = a;
        return permute(order);
    }

    /** The transpose of a 2-D tensor. */
    public Tensor t() {
        if (shape.length != 2) {
            throw new ShapeMismatchException("t: expects a 2-D tensor, got " + Shapes.toString(shape));
        }
        return transpose(0, 1);
    }

    /** Elements {@code start} (inclusive) to {@code end} (exclusive) along {@code dim}. */
    public Tensor slice(int dim, int start, int end) {
        return slice(dim, start, end, 1);
    }

    /** Every {@code step}-th element from {@code start} to {@code end} along {@code dim}. */
    public Tensor slice(int dim, int start, int end, int step) {
        int d = normDim(dim, shape.length);
        if (step <= 0 || start < 0 || end > shape[d] || start > end) {
            throw new ShapeMismatchException("slice: [" + start + ":" + end + ":" + step + "] out of range for dim " + d
                    + " of " + Shapes.toString(shape));
        }
        int[] newShape = shape.clone();
        long[] newStrides = strides.clone();
        newShape[d] = (end - start + step - 1) / step;
        newStrides[d] = strides[d] * step;
        return new Tensor(storage, dtype, device, hostAddressable, newShape, newStrides, offset + start * strides[d]);
    }

    /** The sub-tensor at {@code index} along {@code dim}, with that dimension removed. */
    public Tensor select(int dim, int index) {
        int d = normDim(dim, shape.length);
        if (index < 0 || index >= shape[d]) {
            throw new ShapeMismatchException(
                    "select: index " + index + " out of range for dim " + d + " of " + Shapes.toString(shape));
        }
        int[] newShape = new int[shape.length - 1];
        long[] newStrides = new long[shape.length - 1];
        for (int i = 0, j = 0; i < shape.length; i++) {
            if (i != d) {
                newShape[j] = shape[i];
                newStrides[j++] = strides[i];
            }
        }
        return new Tensor(storage, dtype, device, hostAddressable, newShape, newStrides, offset + index * strides[d]);
    }

    /**
     * Splits {@code dim} into {@code chunks} views of size ⌈n/chunks⌉ (the last may be smaller),
     * as {@code torch.chunk} does.
     */
    public Tensor[] chunk(int chunks, int dim) {
        int d = normDim(dim, shape.length);
        if (chunks <= 0) {
            throw new ShapeMismatchException("chunk: chunk count must be positive, got " + chunks);
        }
        int size = (shape[d] + chunks - 1) / chunks;
        int count = size == 0 ? 0 : (shape[d] + size - 1) / size;
        Tensor[] out = new Tensor[count];
        for (int i = 0; i < count; i++) {
            out[i] = slice(d, i * size, Math.min(shape[d], (i + 1) * size));
        }
        return out;
    }

    /** Inserts a dimension of size 1 at {@code dim}. */
    public Tensor unsqueeze(int dim) {
        int d = dim < 0 ? dim + shape.length + 1 : dim;
        if (d < 0 || d > shape.length) {
            throw new ShapeMismatchException("unsqueeze: dim " + dim + " out of range for " + Shapes.toString(shape));
        }
        int[] newShape = new int[shape.length + 1];
        long[] newStrides = new long[shape.length + 1];
        for (int i = 0, j = 0; i < newShape.length; i++) {
            if (i == d) {
                newShape[i] = 1;
                newStrides[i] = j < shape.length ? strides[j] * shape[j] : 1;
            } else {
                newShape[i] = shape[j];
                newStrides[i] = strides[j++];
            }
        }
        return new Tensor(storage, dtype, device, hostAddressable, newShape, newStrides, offset);
    }

    /** Removes dimension {@code dim}, which must have size 1. */
    public Tensor squeeze(int dim) {
        int d = normDim(dim, shape.length);
        if (shape[d] != 1) {
            throw new ShapeMismatchException("squeeze: dim " + d + " of " + Shapes.toString(shape) + " is not 1");
        }
        return select(d, 0);
    }

    /**
     * Broadcasts to {@code newShape} without copying: size-1 dims get stride 0 and new leading
     * dims are added. {@code -1} keeps a dimension as it is.
     */
    public Tensor expand(int... newShape) {
        if (newShape.length < shape.length) {
            throw new ShapeMismatchException(
                    "expand: cannot expand " + Shapes.toString(shape) + " to fewer dims " + Shapes.toString(newShape));
        }
        int lead = newShape.length - shape.length;
        int[] outShape = new int[newShape.length];
        long[] outStrides = new long[newShape.length];
        for (int i = 0; i < newShape.length; i++) {
            if (i < lead) {
                if (newShape[i] < 0) {
                    throw new ShapeMismatchException("expand: -1 not allowed in new leading dim " + i);
                }
                outShape[i] = newShape[i];
                outStrides[i] = 0;
                continue;
            }
            int have = shape[i - lead];
            int want = newShape[i] == -1 ? have : newShape[i];
            if (have == want) {
                outShape[i] = have;
                outStrides[i] = strides[i - lead];
            } else if (have == 1) {
                outShape[i] = want;
                outStrides[i] = 0;
            } else {
                throw new ShapeMismatchException("expand: " + Shapes.toString(shape) + " cannot broadcast to "
                        + Shapes.toString(newShape) + " (dim " + i + ": " + have + " vs " + want + ")");
            }
        }
        return new Tensor(storage, dtype, device, hostAddressable, outShape, outStrides, offset);
    }

    /** Same as {@link #expand}: a broadcast view to {@code newShape}. */
    public Tensor broadcastTo(int... newShape) {
        return expand(newShape);
    }

    // ---------------------------------------------------------------- copies

    /** This tensor if it is already row-major, else a row-major copy in {@code arena}. */
    public Tensor contiguous(Arena arena) {
        if (isContiguous()) {
            return this;
        }
        Tensor out = zeros(arena, dtype, shape);
        out.copyFrom(this);
        return out;
    }

    /** Like {@link #contiguous(Arena)}, with a garbage-collected copy. */
    public Tensor contiguous() {
        return contiguous(Arena.ofAuto());
    }

    /** A row-major copy with elements converted to {@code target}. */
    public Tensor to(DType target, Arena arena) {
        Tensor out = zeros(arena, target, shape);
        out.copyFrom(this);
        return out;
    }

    /** Like {@link #to(DType, Arena)}, garbage-collected. */
    public Tensor to(DType target) {
        return to(target, Arena.ofAuto());
    }

    /**
     * Copies {@code src} into this tensor element by element, converting dtypes; {@code src}
     * may be any view of the same shape (including broadcasts).
     */
    public void copyFrom(Tensor src) {
        requireHost("copy");
        src.requireHost("copy");
        if (!Arrays.equals(shape, src.shape)) {
            throw new ShapeMismatchException("copy: destination " + Shapes.toString(shape) + " and source "
                    + Shapes.toString(src.shape) + " differ");
        }
        if (dtype == src.dtype && isContiguous() && src.isContiguous()) {
            MemorySegment.copy(src.storage, src.byteOffset(), storage, byteOffset(), numel() * dtype.byteSize());
            return;
        }
        long n = numel();
        boolean wide = dtype == DType.F64 || dtype == DType.I64;
        for (long i = 0; i < n; i++) {
            long s = src.elementOffset(i);
            long d = elementOffset(i);
            if (wide) {
                putDouble(d, src.readDouble(s));
            } else {
                putFloat(d, src.readFloat(s));
            }
        }
    }

    /** All elements, in row-major logical order, as floats. */
    public float[] toFloatArray() {
        requireHost("toFloatArray");
        long n = numel();
        float[] out = new float[Math.toIntExact(n)];
        if (dtype == DType.F32 && isContiguous()) {
            MemorySegment.copy(storage, F32, byteOffset(), out, 0, out.length);
            return out;
        }
        for (int i = 0; i < out.length; i++) {
            out[i] = readFloat(elementOffset(i));
        }
        return out;
    }

    /** All elements, in row-major logical order, as doubles. */
    public double[] toDoubleArray() {
        requireHost("toDoubleArray");
        double[] out = new double[Math.toIntExact(numel())];
        for (int i = 0; i < out.length; i++) {
            out[i] = readDouble(elementOffset(i));
        }
        return out;
    }

    /** All elements, in row-major logical order, as longs (integer dtypes, or truncated floats). */
    public long[] toLongArray() {
        requireHost("toLongArray");
        long[] out = new long[Math.toIntExact(numel())];
        for (int i = 0; i < out.length; i++) {
            long e = elementOffset(i);
            out[i] = switch (dtype) {
                case I64 -> storage.getAtIndex(I64, e);
                case I32 -> storage.getAtIndex(I32, e);
                default -> (long) readDouble(e);
            };
        }
        return out;
    }

    // ---------------------------------------------------------------- element access

    /** The element at a full index, as a float. */
    public float getFloat(int... index) {
        requireHost("getFloat");
        return readFloat(offsetOf(index));
    }

    /** Writes the element at a full index, converting from float. */
    public void setFloat(float value, int... index) {
        requireHost("setFloat");
        putFloat(offsetOf(index), value);
    }

    /** The element at row-major logical position {@code i}, as a float. */
    public float floatAt(long i) {
        requireHost("floatAt");
        return readFloat(elementOffset(i));
    }

    /** The element at row-major logical position {@code i}, as a double (exact for every dtype but i64 beyond 2^53). */
    public double doubleAt(long i) {
        requireHost("doubleAt");
        return readDouble(elementOffset(i));
    }

    /** Storage element offset of the element at row-major logical position {@code i}. */
    public long elementOffset(long i) {
        long off = offset;
        for (int d = shape.length - 1; d >= 0; d--) {
            int n = shape[d];
            off += (i % n) * strides[d];
            i /= n;
        }
        return off;
    }

    private long offsetOf(int[] index) {
        if (index.length != shape.length) {
            throw new ShapeMismatchException("index " + Arrays.toString(index) + " has " + index.length
                    + " coordinates for shape " + Shapes.toString(shape));
        }
        long off = offset;
        for (int d = 0; d < index.length; d++) {
            if (index[d] < 0 || index[d] >= shape[d]) {
                throw new IndexOutOfBoundsException(
                        "index " + Arrays.toString(index) + " out of bounds for shape " + Shapes.toString(shape));
            }
            off += index[d] * strides[d];
        }
        return off;
    }

    private float readFloat(long e) {
        return switch (dtype) {
            case F32 -> storage.getAtIndex(F32, e);
            case F64 -> (float) storage.getAtIndex(F64, e);
            case BF16 -> HalfFloats.bf16ToFloat(storage.getAtIndex(I16, e));
            case F16 -> HalfFloats.f16ToFloat(storage.getAtIndex(I16, e));
            case I64 -> storage.getAtIndex(I64, e);
            case I32 -> storage.getAtIndex(I32, e);
        };
    }

    private double readDouble(long e) {
        return switch (dtype) {
            case F64 -> storage.getAtIndex(F64, e);
            case I64 -> storage.getAtIndex(I64, e);
            default -> readFloat(e);
        };
    }

    private void putFloat(long e, float v) {
        switch (dtype) {
            case F32 -> storage.setAtIndex(F32, e, v);
            case F64 -> storage.setAtIndex(F64, e, v);
            case BF16 -> storage.setAtIndex(I16, e, HalfFloats.floatToBf16(v));
            case F16 -> storage.setAtIndex(I16, e, HalfFloats.floatToF16(v));
            case I64 -> storage.setAtIndex(I64, e, (long) v);
            case I32 -> storage.setAtIndex(I32, e, (int) v);
        }
    }

    private void putDouble(long e, double v) {
        switch (dtype) {
            case F64 -> storage.setAtIndex(F64, e, v);
            case I64 -> storage.setAtIndex(I64, e, (long) v);
            default -> putFloat(e, (float) v);
        }
    }

    // ---------------------------------------------------------------- printing

    /**
     * A one-line summary: dtype, shape, device, layout, and for floating types min / max / mean /
     * std and the first few values, e.g.
     * {@code Tensor[f32 [2, 4] cpu contiguous] min=-1.2 max=0.9 mean=0.01 std=0.7 [0.1, -0.3, …]}.
     */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("Tensor[")
                .append(dtype.shortName())
                .append(' ')
                .append(Shapes.toString(shape))
                .append(' ')
                .append(device.shortName())
                .append(isContiguous() ? " contiguous" : " strided")
                .append(']');
        long n = numel();
        if (n == 0 || device != Device.CPU) {
            return sb.toString();
        }
        int shown = (int) Math.min(n, 6);
        if (dtype.isFloatingPoint()) {
            double min = Double.POSITIVE_INFINITY;
            double max = Double.NEGATIVE_INFINITY;
            double sum = 0;
            double sq = 0;
            long nonFinite = 0;
            for (long i = 0; i < n; i++) {
                double v = readDouble(elementOffset(i));
                if (!Double.isFinite(v)) {
                    nonFinite++;
                    continue;
                }
                min = Math.min(min, v);
                max = Math.max(max, v);
                sum += v;
                sq += v * v;
            }
            long finite = n - nonFinite;
            double mean = finite == 0 ? Double.NaN : sum / finite;
            double std = finite == 0 ? Double.NaN : Math.sqrt(Math.max(0, sq / finite - mean * mean));
            sb.append(String.format(Locale.ROOT, " min=%.4g max=%.4g mean=%.4g std=%.4g", min, max, mean, std));
            if (nonFinite > 0) {
                sb.append(" nonfinite=").append(nonFinite);
            }
        }
        sb.append(" [");
        for (int i = 0; i < shown; i++) {
            if (i > 0) {
                sb.append(", ");
            }
            if (dtype.isFloatingPoint()) {
                sb.append(String.format(Locale.ROOT, "%.4g", readDouble(elementOffset(i))));
            } else {
                sb.append((long) readDouble(elementOffset(i)));
            }
        }
        return sb.append(n > shown ? ", …]" : "]").toString();
    }

    static int normDim(int dim, int rank) {
        int d = dim < 0 ? dim + rank : dim;
        if (d < 0 || d >= rank) {
            throw new ShapeMismatchException("dim " + dim + " out of range for rank " + rank);
        }
        return d;
    }
}
