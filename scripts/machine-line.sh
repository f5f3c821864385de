#!/usr/bin/env bash
# One line naming the machine a benchmark ran on, for the top of every results table: the CPU model
# (and the vector extensions that decide the kernels), its cores, and the OpenBLAS build and kernel
# set that LibTorch's GEMMs run on here (OpenBLAS picks them at run time: the same binary runs other
# kernels on another CPU). Usage: scripts/machine-line.sh
set -euo pipefail
model=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -xE 'avx2|avx512f|avx512_vnni|avx512_bf16|amx_tile' | paste -sd, -)
blas=$(/usr/bin/python3 - <<'PY'
import ctypes
for name in ("libblas.so.3", "libopenblas.so.0"):  # libblas.so.3: the alternative LibTorch loads
    try:
        lib = ctypes.CDLL(name)
        core, config = lib.openblas_get_corename, lib.openblas_get_config
    except (OSError, AttributeError):
        continue
    core.restype = config.restype = ctypes.c_char_p
    print(f"{' '.join(config().decode().split()[:2])}, {core().decode()} kernels")
    break
else:
    print("BLAS: not OpenBLAS")
PY
)
echo "Machine: ${model:-unknown CPU} (${flags:-no AVX2}), $(nproc) cores; ${blas}"
