# Sourced by ./tessera, scripts/test and .ci/run: exports JAVA_HOME pointing at a JDK 25 or newer.
# Order: $JAVA_HOME if it is 25+, then /usr/lib/jvm/*25*, then any other 25+ under /usr/lib/jvm.
# Where none is found it says how to get one and exits with status 2.

_tessera_jdk_major() {
    "$1/bin/java" -version 2>&1 | sed -n 's/.* version "\([0-9][0-9]*\).*/\1/p' | head -n 1
}

_tessera_jdk_ok() {
    [[ -x $1/bin/java && -x $1/bin/javac ]] || return 1
    local v
    v=$(_tessera_jdk_major "$1")
    [[ -n $v && $v -ge 25 ]]
}

_tessera_pick_jdk() {
    if [[ -n ${JAVA_HOME:-} ]] && _tessera_jdk_ok "$JAVA_HOME"; then
        echo "$JAVA_HOME"
        return 0
    fi
    local d
    for d in /usr/lib/jvm/*25* /usr/lib/jvm/*; do
        if [[ -d $d ]] && _tessera_jdk_ok "$d"; then
            echo "$d"
            return 0
        fi
    done
    return 1
}

if _tessera_found=$(_tessera_pick_jdk); then
    export JAVA_HOME=$_tessera_found
else
    {
        echo "tessera: needs a JDK 25 or newer (the Vector API and the FFM API of Java 25)."
        echo "  Found none in \$JAVA_HOME (${JAVA_HOME:-unset}) or under /usr/lib/jvm."
        echo "  Install one (for example Eclipse Temurin 25 into /usr/lib/jvm/temurin-25-jdk-amd64)"
        echo "  or point JAVA_HOME at it, then run this command again."
    } >&2
    exit 2
fi
unset _tessera_found
