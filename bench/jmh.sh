#!/usr/bin/env bash
# Builds the JMH benchmarks and runs them; arguments go to JMH, e.g.
#   bench/jmh.sh GemmJmh -p shape=256x1152x3456 -p threads=1 -prof gc
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/find-jdk.sh"
(cd "$root" && ./mvnw -B -ntp -q -DskipTests -pl benchmarks -am package)
exec "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector -jar "$root/benchmarks/target/benchmarks.jar" "$@"
