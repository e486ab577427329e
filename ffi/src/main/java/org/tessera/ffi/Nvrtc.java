package org.tessera.ffi;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Map;
import org.tessera.ffi.bindings.cuda_h;

/** Runtime compilation of CUDA C to a cubin for one GPU architecture. */
public final class Nvrtc {
    private Nvrtc() {}

    /** "13.0". */
    public static String version() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment major = a.allocate(JAVA_INT);
            MemorySegment minor = a.allocate(JAVA_INT);
            check(cuda_h.nvrtcVersion(major, minor), "nvrtcVersion", null);
            return major.get(JAVA_INT, 0) + "." + minor.get(JAVA_INT, 0);
        }
    }

    /**
     * Compiles {@code source} (named {@code name} in messages) for {@code arch} (e.g. {@code sm_90})
     * with {@code headers} (include name → text) and extra {@code options}.
     *
     * @throws CudaException whose message holds the compiler's log when compilation fails
     */
    public static byte[] compile(
            String name, String source, Map<String, String> headers, String arch, List<String> options) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment prog = a.allocate(ADDRESS);
            int n = headers.size();
            MemorySegment texts = a.allocate(ADDRESS, Math.max(n, 1));
            MemorySegment names = a.allocate(ADDRESS, Math.max(n, 1));
            int i = 0;
            for (Map.Entry<String, String> h : headers.entrySet()) {
                names.setAtIndex(ADDRESS, i, a.allocateFrom(h.getKey()));
                texts.setAtIndex(ADDRESS, i, a.allocateFrom(h.getValue()));
                i++;
            }
            check(
                    cuda_h.nvrtcCreateProgram(prog, a.allocateFrom(source), a.allocateFrom(name), n, texts, names),
                    "nvrtcCreateProgram(" + name + ")",
                    null);
            MemorySegment p = prog.get(ADDRESS, 0);
            try {
                List<String> all = new java.util.ArrayList<>();
                all.add("--gpu-architecture=" + arch);
                all.add("--std=c++17");
                all.addAll(options);
                MemorySegment opts = a.allocate(ADDRESS, all.size());
                for (int j = 0; j < all.size(); j++) {
                    opts.setAtIndex(ADDRESS, j, a.allocateFrom(all.get(j)));
                }
                int rc = cuda_h.nvrtcCompileProgram(p, all.size(), opts);
                if (rc != cuda_h.NVRTC_SUCCESS()) {
                    throw new CudaException(
                            "NVRTC could not compile " + name + " for " + arch + ": " + errorText(rc) + "\n"
                                    + log(a, p),
                            rc);
                }
                MemorySegment size = a.allocate(JAVA_LONG);
                check(cuda_h.nvrtcGetCUBINSize(p, size), "nvrtcGetCUBINSize(" + name + ")", null);
                MemorySegment cubin = a.allocate(size.get(JAVA_LONG, 0));
                check(cuda_h.nvrtcGetCUBIN(p, cubin), "nvrtcGetCUBIN(" + name + ")", null);
                return cubin.toArray(JAVA_BYTE);
            } finally {
                cuda_h.nvrtcDestroyProgram(prog);
            }
        }
    }

    private static String log(Arena a, MemorySegment prog) {
        MemorySegment size = a.allocate(JAVA_LONG);
        if (cuda_h.nvrtcGetProgramLogSize(prog, size) != cuda_h.NVRTC_SUCCESS()) {
            return "(no log)";
        }
        MemorySegment text = a.allocate(Math.max(1, size.get(JAVA_LONG, 0)));
        cuda_h.nvrtcGetProgramLog(prog, text);
        return text.getString(0).strip();
    }

    private static void check(int rc, String call, String log) {
        if (rc != cuda_h.NVRTC_SUCCESS()) {
            throw new CudaException(call + ": " + errorText(rc) + (log == null ? "" : "\n" + log), rc);
        }
    }

    static String errorText(int rc) {
        return cuda_h.nvrtcGetErrorString(rc).reinterpret(256).getString(0);
    }
}
