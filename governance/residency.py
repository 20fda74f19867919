"""Residency policy: which regions may hold data of each jurisdiction.

The walking skeleton places every record in its jurisdiction's home region and
refuses jurisdictions the policy does not know. A YAML policy file replaces the
default:

    jurisdictions:
      EU: {home: eu-central, allowed: [eu-central, eu-west]}
      US: {home: us-east, allowed: [us-east]}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from governance.errors import ResidencyError


@dataclass(frozen=True)
class Jurisdiction:
    home: str
    allowed: tuple[str, ...]


@dataclass(frozen=True)
class ResidencyPolicy:
    jurisdictions: dict[str, Jurisdiction] = field(default_factory=dict)

    def canonical(self, jurisdiction: str) -> str:
        """The policy's spelling of a jurisdiction a person typed ("eu" -> "EU");
        refused, naming the known ones, when the policy has none that matches."""
        if jurisdiction in self.jurisdictions:
            return jurisdiction
        matches = [name for name in self.jurisdictions if name.casefold() == jurisdiction.strip().casefold()]
        if len(matches) == 1:
            return matches[0]
        self.home_region(jurisdiction)  # raises, naming the known jurisdictions
        return jurisdiction

    def home_region(self, jurisdiction: str) -> str:
        try:
            return self.jurisdictions[jurisdiction].home
        except KeyError:
            known = ", ".join(sorted(self.jurisdictions)) or "none"
            raise ResidencyError(
                f"jurisdiction {jurisdiction!r} is not in the residency policy (known: {known}); "
                "pass one of those with --jurisdiction, or add it to the policy file "
                "named by AIFACTORY_RESIDENCY_POLICY"
            ) from None

    def check(self, jurisdiction: str, region: str) -> None:
        """Refuse a write of `jurisdiction` data into `region`."""
        self.home_region(jurisdiction)
        if region not in self.jurisdictions[jurisdiction].allowed:
            raise ResidencyError(
                f"data of jurisdiction {jurisdiction!r} may not be stored in region {region!r} "
                f"(allowed: {', '.join(self.jurisdictions[jurisdiction].allowed)})"
            )

    def may_process(self, jurisdiction: str, region: str) -> bool:
        """Whether a worker in `region` may process (embed) data of `jurisdiction`: the regions it
        may be stored in are the regions it may be processed in. Unknown jurisdictions may not."""
        spec = self.jurisdictions.get(jurisdiction)
        return spec is not None and region in spec.allowed

    @property
    def regions(self) -> list[str]:
        return sorted({r for j in self.jurisdictions.values() for r in j.allowed})


DEFAULT_POLICY = ResidencyPolicy(
    {
        "EU": Jurisdiction(home="eu-central", allowed=("eu-central",)),
        "US": Jurisdiction(home="us-east", allowed=("us-east",)),
    }
)


def load_policy(path: Path | None) -> ResidencyPolicy:
    if path is None:
        return DEFAULT_POLICY
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        entries = doc["jurisdictions"]
        return ResidencyPolicy(
            {
                name: Jurisdiction(home=spec["home"], allowed=tuple(spec.get("allowed") or [spec["home"]]))
                for name, spec in entries.items()
            }
        )
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
        raise ResidencyError(
            f"cannot read the residency policy {path}: {exc!r}; it must be YAML with a "
            "'jurisdictions' mapping of NAME: {home: REGION, allowed: [REGION, ...]}"
        ) from exc
