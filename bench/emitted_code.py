#!/usr/bin/env python3
"""Decodes the machine code HotSpot prints for a method compiled by C2 (-XX:CompileCommand=print),
which without an hsdis library is a hex dump, into assembly with binutils' objdump.

    python3 bench/emitted_code.py LOG METHOD [--loop]

LOG is the JVM's output; METHOD a name as HotSpot prints it (Class::method). The last C2 compile of
it (tier 4, not on-stack replacement) is decoded; --loop prints only the innermost loop that holds
vfmadd instructions (from its backward branch's target to the branch), with a count of its
instructions. bench/emitted-code.sh runs the kernel bench this way.
"""
import re
import subprocess
import sys
import tempfile


def last_compile(lines, method):
    start = None
    for i, line in enumerate(lines):
        if line.startswith("Compiled method (c2)") and f"{method} (" in line and " % " not in line:
            start = i
    if start is None:
        sys.exit(f"no C2 compile of {method} in the log (was it printed with -XX:CompileCommand=print,...?)")
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("[/MachCode]"))
    return lines[start:end]


def machine_code(block):
    data, base = bytearray(), None
    for line in block:
        m = re.match(r"\s*0x([0-9a-f]+): ((?:[0-9a-f]{2,8} ?\|? ?)+)$", line)
        if not m:
            continue
        addr = int(m.group(1), 16)
        if base is None:
            base = addr
        if addr != base + len(data):
            continue  # an annotation repeats an address already decoded
        data += bytes.fromhex(m.group(2).replace("|", "").replace(" ", ""))
    if not data:
        sys.exit("the log holds no hex dump of the code: an hsdis library decoded it already, read the log")
    return base, bytes(data)


def disassemble(base, data):
    with tempfile.NamedTemporaryFile(suffix=".bin") as f:
        f.write(data)
        f.flush()
        out = subprocess.run(
            ["objdump", "-D", "-b", "binary", "-mi386:x86-64", "-Mintel", f"--adjust-vma={base:#x}", f.name],
            capture_output=True, text=True, check=True).stdout
    code = []
    for line in out.splitlines():
        m = re.match(r"\s*([0-9a-f]+):\t[0-9a-f ]+\t(.*)$", line)
        if m:
            code.append((int(m.group(1), 16), m.group(2).strip()))
    return code


def innermost_fma_loop(code):
    best = None
    for i, (addr, ins) in enumerate(code):
        m = re.match(r"j\w+\s+0x([0-9a-f]+)", ins)
        if not m or int(m.group(1), 16) >= addr:
            continue
        target = int(m.group(1), 16)
        body = [c for c in code[: i + 1] if c[0] >= target]
        if any("vfmadd" in b for _, b in body) and (best is None or len(body) < len(best)):
            best = body
    return best


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    lines = open(sys.argv[1], errors="replace").read().splitlines()
    code = disassemble(*machine_code(last_compile(lines, sys.argv[2])))
    if "--loop" in sys.argv:
        loop = innermost_fma_loop(code)
        if loop is None:
            sys.exit("no loop with vfmadd instructions found")
        code = loop
        fmas = sum("vfmadd" in ins for _, ins in code)
        spills = sum(re.search(r"\[rsp", ins) is not None for _, ins in code)
        print(f"{sys.argv[2]}: innermost loop {len(code)} instructions, {fmas} multiply-adds, "
              f"{spills} stack accesses")
    for addr, ins in code:
        print(f"  {addr:x}: {ins}")


if __name__ == "__main__":
    main()
