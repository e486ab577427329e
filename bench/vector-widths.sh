# The vector widths the side-by-side benchmarks restrict both sides to (issue 18); sourced by
# gemm-vs-openblas.sh, dit-vs-pytorch.sh and kernel-broadcast.sh, so that a restriction means the
# same flags everywhere.
#   native  each side at this CPU's best
#   avx2    the JVM under -XX:UseAVX=2; OpenBLAS's Haswell kernels; PyTorch's AVX2 kernels
#   128     the JVM under -XX:UseAVX=2 -XX:MaxVectorSize=16; OpenBLAS's Nehalem (SSE) kernels;
#           PyTorch's default (non-AVX) kernels

# widths_for ISA SCRIPT: the restrictions --isa ISA names ("all": the three), or exits naming SCRIPT.
widths_for() {
    case $1 in
        all) echo "native avx2 128" ;;
        native|avx2|128) echo "$1" ;;
        *) echo "$2: --isa is native, avx2, 128 or all, got '$1'" >&2; exit 2 ;;
    esac
}

# restrict WIDTH: sets jvm_opts (for TESSERA_JAVA_OPTS), openblas_coretype (for
# OPENBLAS_CORETYPE) and aten_capability (for ATEN_CPU_CAPABILITY); empty means unrestricted.
restrict() {
    jvm_opts="" openblas_coretype="" aten_capability=""
    case $1 in
        avx2) jvm_opts="-XX:UseAVX=2"; openblas_coretype=Haswell; aten_capability=avx2 ;;
        128) jvm_opts="-XX:UseAVX=2 -XX:MaxVectorSize=16"; openblas_coretype=Nehalem; aten_capability=default ;;
    esac
}
