"""The price book: what each unit of use costs, by region. A YAML file replaces the
built-in example prices (AIFACTORY_PRICE_BOOK); its name and version are printed on every
report priced by it, so an invoice says which rates it used:

    name: acme-list-prices
    version: 2026-12
    currency: EUR
    default:
      per_1k_tokens_embedded: 0.0001
      per_gpu_second: 0.0008
      per_cpu_second: 0.00004
      per_gb_month_stored: 0.25
      per_1k_queries: 0.02
      per_1k_context_tokens: 0.00002
      per_gb_egress: 0.09
    regions:
      us-east: {per_gb_month_stored: 0.23}
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import yaml

from governance.errors import GovernanceError


class PriceBookError(GovernanceError):
    """The price book cannot be read or names an unknown price."""


@dataclass(frozen=True)
class Prices:
    per_1k_tokens_embedded: float = 0.0001
    per_gpu_second: float = 0.0008
    per_cpu_second: float = 0.00004
    per_gb_month_stored: float = 0.25
    per_1k_queries: float = 0.02
    per_1k_context_tokens: float = 0.00002
    per_gb_egress: float = 0.09


PRICE_NAMES = tuple(f.name for f in fields(Prices))


BUILTIN_NAME, BUILTIN_VERSION = "aifactory-example", "2026-11"


@dataclass(frozen=True)
class PriceBook:
    currency: str = "EUR"
    default: Prices = field(default_factory=Prices)
    regions: dict[str, Prices] = field(default_factory=dict)
    name: str = BUILTIN_NAME
    version: str = BUILTIN_VERSION
    source: str = "built in"  # the file it was read from

    def prices(self, region: str) -> Prices:
        return self.regions.get(region, self.default)

    def describe(self) -> dict[str, object]:
        """Name, version, source, currency and every rate: what a report was priced by."""
        return {"name": self.name, "version": self.version, "source": self.source, "currency": self.currency,
                "default": asdict(self.default), "regions": {r: asdict(p) for r, p in sorted(self.regions.items())}}


def _prices(base: Prices, spec: object, where: str) -> Prices:
    if not isinstance(spec, dict):
        raise PriceBookError(f"{where} must be a mapping of prices")
    unknown = sorted(set(spec) - set(PRICE_NAMES))
    if unknown:
        raise PriceBookError(f"{where}: unknown price(s) {', '.join(unknown)}; known: {', '.join(PRICE_NAMES)}")
    try:
        return replace(base, **{k: float(v) for k, v in spec.items()})
    except (TypeError, ValueError) as exc:
        raise PriceBookError(f"{where}: every price must be a number ({exc})") from exc


def load_price_book(path: Path | None) -> PriceBook:
    if path is None:
        return PriceBook()
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise PriceBookError(f"cannot read the price book {path}: {exc}") from exc
    if not isinstance(doc, dict):
        raise PriceBookError(f"{path}: a price book is a mapping (name, version, currency, default, regions)")
    default = _prices(Prices(), doc.get("default") or {}, f"{path}: default")
    regions = {r: _prices(default, spec, f"{path}: regions.{r}") for r, spec in (doc.get("regions") or {}).items()}
    return PriceBook(currency=str(doc.get("currency", "EUR")), default=default, regions=regions,
                     name=str(doc.get("name") or path.stem), version=str(doc.get("version") or "unversioned"),
                     source=str(path))
