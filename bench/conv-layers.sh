#!/usr/bin/env bash
# The SD VAE decoder's 3×3 convolutions layer by layer, Winograd F(2×2, 3×3) against im2col,
# interleaved in one JVM (bench/ConvLayers.java). Issue 15 item 7.
#   bench/conv-layers.sh [THREADS] [ROUNDS]     (default 2, 3)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/find-jdk.sh"
"$root/tessera" --version >/dev/null # builds the jars first if they are stale
exec "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector ${TESSERA_JAVA_OPTS:-} -cp "$root/cli/target/lib/*" \
    "$root/bench/ConvLayers.java" "$@" 2> >(grep -v 'incubator modules' >&2)
