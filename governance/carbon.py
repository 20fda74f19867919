"""Carbon intensity per region over time, and the energy and emissions of compute: what
the ledger records per embedding batch and what Dagster's deferrable work is placed by.

The intensity series is a CSV file or an http(s) URL serving one (AIFACTORY_CARBON_INTENSITY),
one row per region and period start, in grams CO2e per kWh:

    region,start,gco2e_per_kwh
    eu-central,2026-12-06T00:00:00Z,312
    eu-central,2026-12-06T01:00:00Z,298

A value holds from its start until the region's next row. Where the series says nothing
(no source, an unnamed region, a time before its first row) the flat default holds:
FLAT_G_PER_KWH for every region and hour, a placeholder rather than a measurement.

Energy is an estimate: the device's power (AIFACTORY_DEVICE_WATTS, else a typical figure
for the device named below) times the measured compute seconds.
"""

from __future__ import annotations

import bisect
import csv
import io
import os
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from governance.errors import GovernanceError

FLAT_G_PER_KWH = 400.0
# Typical board power in watts; a CPU counts per logical core (embedding keeps them all busy).
DEVICE_WATTS = {"h200": 700.0, "h100": 700.0, "a100": 400.0, "l40": 300.0, "a10": 150.0, "l4": 72.0, "t4": 70.0}
GPU_WATTS, CPU_WATTS_PER_CORE = 300.0, 10.0
HOUR = timedelta(hours=1)


class CarbonError(GovernanceError):
    """The carbon-intensity series cannot be read."""


@dataclass
class CarbonProfile:
    """Intensity per region over time (sorted starts and values per region)."""

    source: str = ""
    series: dict[str, tuple[list[datetime], list[float]]] = field(default_factory=dict)

    def intensity(self, region: str, at: datetime) -> float:
        """gCO2e per kWh in `region` at `at`."""
        starts, values = self.series.get(region, ([], []))
        i = bisect.bisect_right(starts, at) - 1
        return values[i] if i >= 0 else FLAT_G_PER_KWH

    def cheapest_hour(self, regions: list[str], earliest: datetime, deadline: datetime) -> datetime:
        """The start of the hour in [earliest, deadline) with the least intensity summed over
        `regions` (the earliest such hour on a tie): where deferrable work should run."""
        hour = earliest.replace(minute=0, second=0, microsecond=0)
        if hour < earliest:
            hour += HOUR
        best, best_at = float("inf"), hour
        while hour + HOUR <= deadline:
            cost = sum(self.intensity(r, hour) for r in regions)
            if cost < best:
                best, best_at = cost, hour
            hour += HOUR
        return best_at


def load_profile(source: str | Path | None) -> CarbonProfile:
    """The series at a path or http(s) URL; no source: the flat default everywhere."""
    if not source:
        return CarbonProfile()
    text = _read(str(source))
    series: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    reader = csv.DictReader(io.StringIO(text))
    missing = {"region", "start", "gco2e_per_kwh"} - set(reader.fieldnames or [])
    if missing:
        raise CarbonError(f"{source}: the carbon-intensity CSV needs the columns region,start,gco2e_per_kwh "
                          f"(missing {', '.join(sorted(missing))})")
    for n, row in enumerate(reader, start=2):
        try:
            start = datetime.fromisoformat(row["start"].strip().replace("Z", "+00:00"))
            value = float(row["gco2e_per_kwh"])
        except (ValueError, AttributeError) as exc:
            raise CarbonError(f"{source}, line {n}: {exc}; start is ISO 8601 (2026-12-06T14:00:00Z) and "
                              "gco2e_per_kwh a number") from None
        if value < 0:
            raise CarbonError(f"{source}, line {n}: gco2e_per_kwh {value:g} is negative")
        series[row["region"].strip()].append((start if start.tzinfo else start.replace(tzinfo=UTC), value))
    return CarbonProfile(str(source), {r: ([t for t, _ in sorted(points)], [v for _, v in sorted(points)])
                                       for r, points in series.items()})


def _read(source: str) -> str:
    if source.startswith(("http://", "https://")):
        try:
            answer = httpx.get(source, timeout=10, follow_redirects=True)
            answer.raise_for_status()
            return answer.text
        except httpx.HTTPError as exc:
            raise CarbonError(f"cannot fetch the carbon-intensity series {source}: {exc}") from None
    try:
        return Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise CarbonError(f"cannot read the carbon-intensity series {source}: {exc}; set "
                          "AIFACTORY_CARBON_INTENSITY to a CSV file or URL, or unset it for the flat default") from None


def device_watts(device: str) -> float:
    """The power drawn by `device` while it embeds: AIFACTORY_DEVICE_WATTS, else a typical figure."""
    given = os.environ.get("AIFACTORY_DEVICE_WATTS", "").strip()
    if given:
        try:
            return float(given)
        except ValueError:
            raise CarbonError(f"AIFACTORY_DEVICE_WATTS={given!r} is not a number of watts") from None
    name = device.lower()
    if not name or name.startswith("cpu"):
        return CPU_WATTS_PER_CORE * (os.cpu_count() or 1)
    return next((w for key, w in DEVICE_WATTS.items() if key in name), GPU_WATTS)


def footprint(profile: CarbonProfile, region: str, device: str, seconds: float,
              at: datetime | None = None) -> tuple[float, float]:
    """(watt-hours, grams CO2e) of `seconds` of compute on `device` in `region` at `at`."""
    wh = device_watts(device) * seconds / 3600
    return wh, wh / 1000 * profile.intensity(region, at or datetime.now(UTC))
