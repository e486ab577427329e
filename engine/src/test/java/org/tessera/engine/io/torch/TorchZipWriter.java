package org.tessera.engine.io.torch;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SequencedMap;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * Writes a float32 state dict in the layout {@code torch.save} uses (a test helper): a zip archive
 * of stored members {@code NAME/data.pkl} (a protocol-2 pickle of a dict whose values are
 * {@code torch._utils._rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())}, the
 * storages as persistent ids) and {@code NAME/data/KEY}, one storage per tensor.
 * {@link #pickle} is exposed so that tests can corrupt it.
 */
final class TorchZipWriter {
    private TorchZipWriter() {}

    /** One tensor: its shape and row-major float values. */
    record Tensor(int[] shape, float[] values) {}

    static void write(Path file, SequencedMap<String, Tensor> tensors) throws IOException {
        write(file, pickle(tensors), tensors);
    }

    /** The archive with {@code pickle} as data.pkl and each tensor's values as storage "0", "1", …. */
    static void write(Path file, byte[] pickle, SequencedMap<String, Tensor> tensors) throws IOException {
        try (OutputStream os = Files.newOutputStream(file);
                ZipOutputStream zip = new ZipOutputStream(os)) {
            stored(zip, "archive/data.pkl", pickle);
            int key = 0;
            for (Tensor t : tensors.values()) {
                ByteBuffer b = ByteBuffer.allocate(4 * t.values().length).order(ByteOrder.LITTLE_ENDIAN);
                for (float v : t.values()) {
                    b.putFloat(v);
                }
                stored(zip, "archive/data/" + key++, b.array());
            }
            stored(zip, "archive/version", "3\n".getBytes(StandardCharsets.US_ASCII));
        }
    }

    private static void stored(ZipOutputStream zip, String name, byte[] data) throws IOException {
        ZipEntry e = new ZipEntry(name);
        e.setMethod(ZipEntry.STORED);
        e.setSize(data.length);
        CRC32 crc = new CRC32();
        crc.update(data);
        e.setCrc(crc.getValue());
        zip.putNextEntry(e);
        zip.write(data);
        zip.closeEntry();
    }

    /** The pickle torch writes for a dict of float tensors, each on its own storage. */
    static byte[] pickle(SequencedMap<String, Tensor> tensors) {
        ByteArrayOutputStream p = new ByteArrayOutputStream();
        p.write(0x80);
        p.write(2); // PROTO 2
        p.write('}'); // EMPTY_DICT
        p.write('('); // MARK
        int key = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            unicode(p, e.getKey());
            global(p, "torch._utils", "_rebuild_tensor_v2");
            p.write('('); // the rebuild's arguments
            p.write('(');
            unicode(p, "storage");
            global(p, "torch", "FloatStorage");
            unicode(p, Integer.toString(key++));
            unicode(p, "cpu");
            integer(p, e.getValue().values().length);
            p.write('t'); // TUPLE: the persistent id
            p.write('Q'); // BINPERSID
            integer(p, 0); // storage offset
            int[] shape = e.getValue().shape();
            p.write('(');
            for (int d : shape) {
                integer(p, d);
            }
            p.write('t');
            p.write('(');
            long stride = 1;
            long[] strides = new long[shape.length];
            for (int d = shape.length - 1; d >= 0; d--) {
                strides[d] = stride;
                stride *= shape[d];
            }
            for (long s : strides) {
                integer(p, s);
            }
            p.write('t');
            p.write(0x89); // NEWFALSE: requires_grad
            global(p, "collections", "OrderedDict");
            p.write(')');
            p.write('R'); // OrderedDict(): backward hooks
            p.write('t');
            p.write('R'); // _rebuild_tensor_v2(...)
        }
        p.write('u'); // SETITEMS
        p.write('.'); // STOP
        return p.toByteArray();
    }

    private static void unicode(ByteArrayOutputStream p, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        p.write('X');
        p.writeBytes(ByteBuffer.allocate(4)
                .order(ByteOrder.LITTLE_ENDIAN)
                .putInt(b.length)
                .array());
        p.writeBytes(b);
    }

    private static void global(ByteArrayOutputStream p, String module, String name) {
        p.write('c');
        p.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
    }

    private static void integer(ByteArrayOutputStream p, long v) {
        p.write('J'); // BININT: 4-byte signed
        p.writeBytes(ByteBuffer.allocate(4)
                .order(ByteOrder.LITTLE_ENDIAN)
                .putInt((int) v)
                .array());
    }
}
