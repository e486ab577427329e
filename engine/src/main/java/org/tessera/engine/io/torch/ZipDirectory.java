package org.tessera.engine.io.torch;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;
import org.tessera.engine.io.WeightsFormatException;

/**
 * The central directory of a zip archive in a mapped file, and where each member's bytes lie.
 * {@code torch.save} writes its members uncompressed (and 64-byte aligned), so a tensor's storage
 * is a slice of the mapping rather than a copy: java.util.zip cannot say where a member's data
 * starts, hence this reader. ZIP64 (checkpoints over 4 GiB) is understood. Every offset and size
 * is checked against the file before it is used.
 */
final class ZipDirectory {
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static final int END_OF_DIRECTORY = 0x06054b50;
    private static final int ZIP64_LOCATOR = 0x07064b50;
    private static final int ZIP64_END = 0x06064b50;
    private static final int DIRECTORY_ENTRY = 0x02014b50;
    private static final int LOCAL_HEADER = 0x04034b50;

    /** More members than any checkpoint has (DiT-XL/2 has ~700); a bound on work for a hostile directory. */
    private static final long MAX_ENTRIES = 1_000_000;

    /** One member: its compression method (0 stored, 8 deflated), and its data's place in the file. */
    record Member(String name, int method, long dataOffset, long compressedSize, long size) {}

    private final MemorySegment file;
    private final String where;
    private final Map<String, Member> members;

    private ZipDirectory(MemorySegment file, String where, Map<String, Member> members) {
        this.file = file;
        this.where = where;
        this.members = members;
    }

    Map<String, Member> members() {
        return members;
    }

    static ZipDirectory read(MemorySegment file, String where) {
        long size = file.byteSize();
        long eocd = -1;
        // The end record is 22 bytes plus a comment of at most 65,535.
        for (long i = size - 22; i >= Math.max(0, size - 22 - 65_535); i--) {
            if (file.get(U32, i) == END_OF_DIRECTORY) {
                eocd = i;
                break;
            }
        }
        if (eocd < 0) {
            throw new WeightsFormatException(where + ": no zip end-of-directory record (a truncated archive?)");
        }
        long count = u16(file, eocd + 10);
        long dirSize = u32(file, eocd + 12);
        long dirOffset = u32(file, eocd + 16);
        if ((count == 0xFFFF || dirSize == 0xFFFFFFFFL || dirOffset == 0xFFFFFFFFL)
                && eocd >= 20
                && file.get(U32, eocd - 20) == ZIP64_LOCATOR) {
            long z64 = file.get(U64, eocd - 20 + 8);
            check(where, z64 >= 0 && z64 <= size - 56, "the ZIP64 end record's offset " + z64 + " is outside the file");
            check(where, file.get(U32, z64) == ZIP64_END, "no ZIP64 end record where its locator points");
            count = file.get(U64, z64 + 32);
            dirSize = file.get(U64, z64 + 40);
            dirOffset = file.get(U64, z64 + 48);
        }
        check(where, count >= 0 && count <= MAX_ENTRIES, "the zip directory claims " + count + " members");
        check(
                where,
                dirOffset >= 0 && dirSize >= 0 && dirOffset <= size && dirSize <= size - dirOffset,
                "the zip directory [" + dirOffset + ", +" + dirSize + ") lies outside the " + size + "-byte file");
        Map<String, Member> members = new LinkedHashMap<>();
        long p = dirOffset;
        long dirEnd = dirOffset + dirSize;
        for (long i = 0; i < count; i++) {
            check(
                    where,
                    p + 46 <= dirEnd && file.get(U32, p) == DIRECTORY_ENTRY,
                    "zip directory entry " + i + " is damaged");
            int method = u16(file, p + 10);
            long compressed = u32(file, p + 20);
            long uncompressed = u32(file, p + 24);
            int nameLength = u16(file, p + 28);
            int extraLength = u16(file, p + 30);
            int commentLength = u16(file, p + 32);
            long local = u32(file, p + 42);
            check(
                    where,
                    p + 46 + nameLength + extraLength + commentLength <= dirEnd,
                    "zip directory entry " + i + " runs past the directory");
            String name =
                    new String(file.asSlice(p + 46, nameLength).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
            // ZIP64 extra field: the 64-bit values of the fields saturated at 0xFFFFFFFF, in this order.
            long e = p + 46 + nameLength;
            long extraEnd = e + extraLength;
            while (e + 4 <= extraEnd) {
                int id = u16(file, e);
                int len = u16(file, e + 2);
                check(where, e + 4 + len <= extraEnd, name + ": damaged zip extra field");
                if (id == 0x0001) {
                    long q = e + 4;
                    if (uncompressed == 0xFFFFFFFFL && q + 8 <= e + 4 + len) {
                        uncompressed = file.get(U64, q);
                        q += 8;
                    }
                    if (compressed == 0xFFFFFFFFL && q + 8 <= e + 4 + len) {
                        compressed = file.get(U64, q);
                        q += 8;
                    }
                    if (local == 0xFFFFFFFFL && q + 8 <= e + 4 + len) {
                        local = file.get(U64, q);
                    }
                }
                e += 4 + len;
            }
            check(
                    where,
                    local >= 0 && local <= size - 30 && file.get(U32, local) == LOCAL_HEADER,
                    name + ": its local zip header is missing or outside the file");
            long data = local + 30 + u16(file, local + 26) + u16(file, local + 28);
            check(
                    where,
                    compressed >= 0 && uncompressed >= 0 && data <= size && compressed <= size - data,
                    name + ": its " + compressed + " bytes run past the end of the " + size + "-byte file");
            check(
                    where,
                    method == 0 ? compressed == uncompressed : method == 8,
                    name + ": compression method " + method + " (torch.save stores members uncompressed)");
            members.put(name, new Member(name, method, data, compressed, uncompressed));
            p += 46 + nameLength + extraLength + commentLength;
        }
        return new ZipDirectory(file, where, members);
    }

    /** A stored member's bytes as a slice of the mapping. */
    MemorySegment slice(Member m) {
        if (m.method() != 0) {
            throw new WeightsFormatException(where + ": " + m.name()
                    + " is compressed; tensor data must be stored (re-save the checkpoint with torch.save)");
        }
        return file.asSlice(m.dataOffset(), m.size());
    }

    /** A member's bytes, inflated when deflated (a re-zipped data.pkl), at most {@code limit} of them. */
    MemorySegment bytes(Member m, long limit) {
        if (m.size() > limit || m.compressedSize() > limit + 1024) {
            throw new WeightsFormatException(
                    where + ": " + m.name() + " is " + m.size() + " bytes (limit " + limit + ")");
        }
        if (m.method() == 0) {
            return slice(m);
        }
        byte[] in = file.asSlice(m.dataOffset(), m.compressedSize()).toArray(ValueLayout.JAVA_BYTE);
        byte[] out = new byte[(int) m.size()];
        Inflater inflater = new Inflater(true);
        try {
            inflater.setInput(in);
            int n = inflater.inflate(out);
            check(where, n == out.length && inflater.finished(), m.name() + ": its deflated data is damaged");
        } catch (DataFormatException e) {
            throw new WeightsFormatException(where + ": " + m.name() + ": its deflated data is damaged", e);
        } finally {
            inflater.end();
        }
        return MemorySegment.ofArray(out);
    }

    private static int u16(MemorySegment f, long at) {
        return f.get(U16, at) & 0xFFFF;
    }

    private static long u32(MemorySegment f, long at) {
        return f.get(U32, at) & 0xFFFFFFFFL;
    }

    private static void check(String where, boolean ok, String message) {
        if (!ok) {
            throw new WeightsFormatException(where + ": " + message);
        }
    }
}
