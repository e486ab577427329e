#!/usr/bin/env bash
# Serialises builds on this 2-core machine: `scripts/build-lock.sh ./mvnw ...` waits for any other
# build started the same way to finish first.
exec flock /tmp/tessera-build.lock "$@"
