#!/usr/bin/env bash
# The share of patches similarity dropping keeps of Moving MNIST clips (issue 16; see
# bench/MovingMnistKept.java): 16- and 8-frame clips made at 64×64 and shrunk to SIZE, at patch
# PATCH, thresholds 0.95 and 0.99.
#   bench/moving-mnist-kept.sh [CLIPS] [MNIST_IMAGES] [SIZE PATCH]
#   (default 200, /usr/share/datasets/mnist/train-images-idx3-ubyte, 32 4; 64 8 is the clip unshrunk)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/find-jdk.sh"
"$root/tessera" --version >/dev/null # builds the jars first if they are stale
exec "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector -cp "$root/cli/target/lib/*" \
    "$root/bench/MovingMnistKept.java" "$@" 2> >(grep -v 'incubator modules' >&2)
