"""The number format the torch path computes in.

On a GPU, fp16 (tensor cores). On a CPU with native bf16 dot products (AVX512-BF16 or
AMX), bf16: MiniLM runs 1.5-1.9x faster than in fp32 on 2 cores, with embeddings
within cosine 0.9999 of fp32's. A CPU without them emulates bf16 and would be slower,
so there fp32 stays. A lowered model is kept only if it embeds probe texts within
MIN_COSINE of fp32, the same rule as the ONNX int8 copy.
"""

from __future__ import annotations

from pathlib import Path

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
MIN_COSINE = 0.9995
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
PROBES = (
    "The robot returns to its dock when the battery falls below twenty percent and resumes the route later.",
    "Parental leave is sixteen weeks at full pay; either parent may take it within the child's first year.",
    "Fehlercode E-305: Lidar blockiert. Bitte den Sensor reinigen und den Roboter neu starten, dann erneut versuchen.",
    "| region | tenant | documents |\n|---|---|---|\n| eu | helio-eu | 23 |\n| us | helio-us | 23 |",
    "def embed(texts: list[str]) -> np.ndarray: return model.encode(texts, normalize_embeddings=True)",
    "Invoice 2024-0912: 14 units at 1,299.00 EUR, net 30 days, VAT 19 percent, reference PO-88121-A.",
    "- Check the charger\n- Clean the lidar window\n- Update the firmware to 4.2.1\n- Restart the fleet manager",
    "Shelf aisle pallet tote route gateway operator latency budget certificate sensor policy access order map.",
)
SHORT_PROBES = ("reset password", "lidar error E-305")  # queries are short


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The first processor's feature flags; empty where /proc/cpuinfo is not (macOS, Windows)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def wanted(requested: str, *, cuda: bool, flags: frozenset[str] | None = None) -> str:
    """The format to try: `requested`, or for "auto" the fastest one this device runs natively."""
    if requested not in PRECISIONS:
        raise ValueError(f"unknown embedding precision {requested!r}; use one of {', '.join(PRECISIONS)}")
    if requested != "auto":
        return requested
    if cuda:
        return "fp16"
    return "bf16" if NATIVE_BF16_FLAGS & (cpu_flags() if flags is None else flags) else "fp32"
