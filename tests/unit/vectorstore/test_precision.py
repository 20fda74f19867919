"""Which number format the torch path asks for, from the device and the CPU's flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from vectorstore.precision import cpu_flags, wanted

ZEN4 = frozenset({"avx2", "avx512f", "avx512_bf16", "avx512_vnni"})
AVX2_ONLY = frozenset({"avx", "avx2", "fma"})


def test_auto_picks_the_fastest_native_format() -> None:
    assert wanted("auto", cuda=True, flags=AVX2_ONLY) == "fp16"
    assert wanted("auto", cuda=False, flags=ZEN4) == "bf16"
    assert wanted("auto", cuda=False, flags=frozenset({"amx_bf16", "amx_tile"})) == "bf16"
    # Emulated bf16 is slower than fp32: a CPU without the instructions stays on fp32.
    assert wanted("auto", cuda=False, flags=AVX2_ONLY) == "fp32"
    assert wanted("auto", cuda=False, flags=frozenset()) == "fp32"


def test_an_explicit_choice_is_kept() -> None:
    assert wanted("fp32", cuda=False, flags=ZEN4) == "fp32"
    assert wanted("fp32", cuda=True) == "fp32"
    assert wanted("bf16", cuda=False, flags=AVX2_ONLY) == "bf16"


def test_an_unknown_precision_names_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown embedding precision 'int4'; use one of auto, fp32, bf16, fp16"):
        wanted("int4", cuda=False)


def test_cpu_flags_read_the_first_processor(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 avx512_bf16\n\n"
                    "processor\t: 1\nflags\t\t: fpu\n")
    assert cpu_flags(info) == {"fpu", "avx2", "avx512_bf16"}
    assert cpu_flags(tmp_path / "missing") == frozenset()
