#!/usr/bin/env bash
# Everything Tessera needs from a GPU machine, in one run that builds nothing there: the op-by-op
# check against the CPU reference, the DiT golden on the GPU (eager, captured, replayed), cuBLAS
# GEMM throughput, the DiT-XL/2 forward in FP32/TF32/BF16 at batch 2/8/32 next to PyTorch, and
# the CPU backend on all cores next to PyTorch CPU. Writes one file per part to OUT_DIR, and
# summary.txt with the lines that matter. Sized to finish in about 8 minutes on an H200 machine.
#
# Prepare here (a machine with JDK 25), then carry .device/, cli/target/tessera-cli.jar and
# cli/target/lib:
#   JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64 ./mvnw -q -pl samples -am package -DskipTests
#   ../shared/tools/device-jre .device/jre
#   mkdir -p .device/goldens && cp ../shared/goldens/dit_tiny*.safetensors .device/goldens/
# On the GPU machine, from the repository root:
#   bench/gpu-check.sh "$OUT"
# Before spending device time, rehearse the whole flow here on the CPU (batch 2, fp32 only):
#   GPU_CHECK_REHEARSE=1 bench/gpu-check.sh /tmp/rehearsal
set -uo pipefail
out=${1:?usage: bench/gpu-check.sh OUT_DIR}
mkdir -p "$out"
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
java=.device/jre/bin/java
[[ -x $java ]] || { echo "gpu-check: no $java (see the header of this script)" >&2; exit 2; }
export TESSERA_CUDA_HOME=${TESSERA_CUDA_HOME:-/usr/local/cuda-13.0}
# The loader finds the libraries itself; this also lets NVRTC find its builtins library.
export LD_LIBRARY_PATH="$TESSERA_CUDA_HOME/targets/x86_64-linux/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export XDG_CACHE_HOME="$out/cache"   # the NVRTC cubin cache, fresh for this run
# The tessera command without the launcher (no JDK or Maven there); an array, so that timeout can run it.
# shellcheck disable=SC2206
tessera=("$java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED
    -XX:MinHeapFreeRatio=5 -XX:MaxHeapFreeRatio=10 ${TESSERA_JAVA_OPTS:-} -jar cli/target/tessera-cli.jar)
part() { echo "== $1 ($(date +%T))" | tee -a "$out/summary.txt"; }
golden=$root/.device/goldens
if [[ ${GPU_CHECK_REHEARSE:-0} == 1 ]]; then
    dev=cpu; golden_precisions="fp32"; dit_precisions="fp32"; batches="2"
    gemm_args=(--device cpu --threads 2 --shapes 512x1152x1152)
else
    dev=cuda; golden_precisions="fp32 tf32"; dit_precisions="fp32 tf32 bf16"; batches="2 8 32"
    gemm_args=(--device cuda --shapes 8192x8192x8192,512x1152x1152,512x1152x4608,8192x1152x4608)
fi

part "machine"
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; nproc; python3 -c 'import torch; print("torch", torch.__version__, torch.version.cuda)'; } >"$out/machine.txt" 2>&1

part "doctor --gpu: every op against the CPU reference"
timeout 300 "${tessera[@]}" doctor --gpu >"$out/doctor.txt" 2>&1; echo "exit $?" >>"$out/doctor.txt"
tail -3 "$out/doctor.txt" | tee -a "$out/summary.txt"

for precision in $golden_precisions; do
    part "DiT golden on the GPU ($precision)"
    timeout 120 "${tessera[@]}" run samples/dit-tiny-forward.tess \
        --device "$dev" --precision "$precision" --out "$out/golden-$precision" \
        --set "weights=\"$golden/dit_tiny.safetensors\"" \
        --set "inputs=load(\"$golden/dit_tiny_reference.safetensors\", x = \"forward.x\", t = \"forward.t\", y = \"forward.y\")" \
        >"$out/golden-$precision.txt" 2>&1
    python3 - "$golden/dit_tiny_reference.safetensors" "$out/golden-$precision/dit_tiny_forward.safetensors" \
        >>"$out/golden-$precision.txt" 2>&1 <<'PY'
import json, struct, sys
import numpy as np
def read(path, name):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        meta = json.loads(f.read(n))[name]
        f.seek(8 + n + meta["data_offsets"][0])
        return np.frombuffer(f.read(meta["data_offsets"][1] - meta["data_offsets"][0]), dtype=np.float32)
e, a = read(sys.argv[1], "forward.out"), read(sys.argv[2], "out")
print(f"max |difference| to facebookresearch/DiT: {np.abs(e - a).max():.3e}")
PY
    tail -1 "$out/golden-$precision.txt" | tee -a "$out/summary.txt"
done

part "cuBLAS GEMM through the bindings"
timeout 240 "${tessera[@]}" bench gemm --seconds 1 "${gemm_args[@]}" >"$out/gemm.txt" 2>&1
cat "$out/gemm.txt" | tee -a "$out/summary.txt"

part "DiT-XL/2 forward on the GPU"
classes() { python3 -c "print('[' + ', '.join(str(i) for i in range($1)) + ']')"; }
for precision in $dit_precisions; do
    for batch in $batches; do
        timeout 180 "${tessera[@]}" bench samples/dit-xl-2-random.tess \
            --device "$dev" --precision "$precision" --runs 5 --set guidance=none --set "classes=$(classes $batch)" \
            >"$out/dit-$precision-$batch.txt" 2>&1
        echo "$precision batch $batch: $(grep -h '^forward' "$out/dit-$precision-$batch.txt" || tail -1 "$out/dit-$precision-$batch.txt")" \
            | tee -a "$out/summary.txt"
    done
done

part "PyTorch on the GPU, same architecture"
timeout 240 python3 bench/dit_pytorch.py --device cuda --batch 2,8,32 --precision fp32,tf32,bf16 --runs 10 \
    >"$out/pytorch-cuda.csv" 2>"$out/pytorch-cuda.err"
cat "$out/pytorch-cuda.csv" | tee -a "$out/summary.txt"

part "CPU backend on all cores, and PyTorch CPU"
timeout 240 "${tessera[@]}" bench samples/dit-xl-2-random.tess --device cpu --runs 2 --set guidance=none >"$out/dit-cpu.txt" 2>&1
grep -h '^forward\|^GEMM' "$out/dit-cpu.txt" | tee -a "$out/summary.txt"
timeout 180 python3 bench/dit_pytorch.py --device cpu --threads "$(nproc),2" --batch 2 --precision fp32 --runs 3 \
    >"$out/pytorch-cpu.csv" 2>&1
cat "$out/pytorch-cpu.csv" | tee -a "$out/summary.txt"
part "done"
