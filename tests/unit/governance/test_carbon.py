"""The carbon-intensity series (a file or a URL), its lookups and the cheapest window, and
the energy and emission estimates of compute."""

from __future__ import annotations

import http.server
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from governance.carbon import FLAT_G_PER_KWH, CarbonError, device_watts, footprint, load_profile

SERIES = ("region,start,gco2e_per_kwh\n"
          "eu-central,2026-12-06T00:00:00Z,300\neu-central,2026-12-06T03:00:00Z,120\n"
          "eu-central,2026-12-06T05:00:00Z,280\nus-east,2026-12-06T00:00:00Z,450\n")


def at(hour: int) -> datetime:
    return datetime(2026, 12, 6, tzinfo=UTC) + timedelta(hours=hour)


def test_a_value_holds_until_the_next_and_the_flat_default_fills_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "intensity.csv"
    path.write_text(SERIES)
    profile = load_profile(path)
    assert [profile.intensity("eu-central", at(h)) for h in (0, 2, 3, 4, 5, 30)] == [300, 300, 120, 120, 280, 280]
    assert profile.intensity("eu-central", at(-1)) == FLAT_G_PER_KWH  # before the first row
    assert profile.intensity("ap-south", at(1)) == FLAT_G_PER_KWH  # a region it does not name
    assert load_profile(None).intensity("eu-central", at(1)) == FLAT_G_PER_KWH


def test_the_cheapest_hour_is_inside_the_window_and_the_earliest_on_a_tie(tmp_path: Path) -> None:
    path = tmp_path / "intensity.csv"
    path.write_text(SERIES)
    profile = load_profile(path)
    assert profile.cheapest_hour(["eu-central"], at(0), at(23)) == at(3)
    assert profile.cheapest_hour(["eu-central"], at(0), at(3)) == at(0)  # 03:00 is past the deadline
    assert profile.cheapest_hour(["eu-central"], at(5), at(9)) == at(5)  # a tie: the earliest
    assert profile.cheapest_hour(["eu-central"], at(0) + timedelta(minutes=20), at(9)) == at(3)
    # Summed over regions: us-east is flat at 450, so eu-central's dip decides.
    assert profile.cheapest_hour(["eu-central", "us-east"], at(0), at(23)) == at(3)


def test_the_series_can_be_served_over_http(tmp_path: Path) -> None:
    (tmp_path / "intensity.csv").write_text(SERIES)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(tmp_path), **kwargs)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        assert load_profile(f"{url}/intensity.csv").intensity("eu-central", at(3)) == 120
        with pytest.raises(CarbonError, match=r"cannot fetch the carbon-intensity series .*404"):
            load_profile(f"{url}/missing.csv")
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("text", "says"), [
    ("zone,when,value\n", "needs the columns region,start,gco2e_per_kwh"),
    ("region,start,gco2e_per_kwh\neu-central,yesterday,300\n", "line 2"),
    ("region,start,gco2e_per_kwh\neu-central,2026-12-06T00:00:00Z,-5\n", "is negative"),
])
def test_a_bad_series_names_the_file_and_the_line(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "intensity.csv"
    path.write_text(text)
    with pytest.raises(CarbonError, match=says):
        load_profile(path)
    with pytest.raises(CarbonError, match="AIFACTORY_CARBON_INTENSITY"):
        load_profile(tmp_path / "nosuch.csv")


def test_energy_is_power_times_seconds_and_emissions_follow_the_hour(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "intensity.csv"
    path.write_text(SERIES)
    profile = load_profile(path)
    monkeypatch.delenv("AIFACTORY_DEVICE_WATTS", raising=False)
    assert device_watts("NVIDIA H100 80GB HBM3") == 700 and device_watts("Tesla T4") == 70
    assert device_watts("NVIDIA RTX 6000") == 300  # a GPU it has no figure for
    wh, grams = footprint(profile, "eu-central", "NVIDIA H100 80GB HBM3", 36.0, at(3))
    assert wh == pytest.approx(7.0) and grams == pytest.approx(7.0 / 1000 * 120)
    monkeypatch.setenv("AIFACTORY_DEVICE_WATTS", "50")
    assert footprint(profile, "eu-central", "cpu", 72.0, at(0)) == pytest.approx((1.0, 0.3))
    monkeypatch.setenv("AIFACTORY_DEVICE_WATTS", "lots")
    with pytest.raises(CarbonError, match="AIFACTORY_DEVICE_WATTS='lots'"):
        device_watts("cpu")
