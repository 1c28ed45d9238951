"""Build the compiled kernels (Cython, with OpenMP where the compiler has it).

Everything else about the package lives in pyproject.toml; this file only lists the extension
modules: every ``src/bgsub/kernels/_*.pyx`` becomes ``bgsub.kernels._*``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).parent
KERNELS = sorted((HERE / "src" / "bgsub" / "kernels").glob("_*.pyx"))

# IEEE arithmetic exactly as written: no fused multiply-add, no fast-math, so that results are the
# same on every machine and bit-identical to the reference definitions the tests check.
COMPILE_ARGS = ["-O3", "-ffp-contract=off", "-fno-math-errno", "-g0"]


def _compiler_has_openmp(compiler) -> bool:
    """Whether ``-fopenmp`` compiles and links a tiny OpenMP program with this compiler."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "omp.c"
        src.write_text("#include <omp.h>\nint main(void){return omp_get_max_threads() < 1;}\n")
        try:
            objects = compiler.compile([str(src)], output_dir=tmp, extra_postargs=["-fopenmp"])
            compiler.link_executable(objects, "omp", output_dir=tmp, extra_postargs=["-fopenmp"])
        except Exception:  # noqa: BLE001 - any failure means: build without OpenMP
            return False
    return True


class BuildKernels(build_ext):
    """``build_ext`` that adds the optimisation flags and OpenMP when the compiler supports them."""

    def build_extensions(self) -> None:
        self.parallel = self.parallel or os.cpu_count() or 1  # one module per core
        unix = self.compiler.compiler_type == "unix"
        openmp = unix and os.environ.get("BGSUB_NO_OPENMP") != "1" and _compiler_has_openmp(
            self.compiler
        )
        if unix and not openmp:
            print("bgsub: building the kernels without OpenMP (single-threaded)", file=sys.stderr)
        for ext in self.extensions:
            if unix:
                ext.extra_compile_args = COMPILE_ARGS + (["-fopenmp"] if openmp else [])
                ext.extra_link_args = ["-fopenmp"] if openmp else []
        super().build_extensions()


def _extensions() -> list[Extension]:
    modules = [
        Extension(f"bgsub.kernels.{path.stem}", [str(path.relative_to(HERE))]) for path in KERNELS
    ]
    return cythonize(
        modules,
        language_level=3,
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "initializedcheck": False,
            "cdivision": True,
            "embedsignature": True,
        },
    )


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildKernels})
