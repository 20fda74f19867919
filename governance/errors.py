"""Exceptions raised by the governance layer.

    GovernanceError
     +-- ContractError      a record does not satisfy its data contract
     +-- ResidencyError     a record may not be stored where it was headed
"""


class GovernanceError(Exception):
    """Base of every error raised by `governance`."""


class ContractError(GovernanceError):
    """A record does not satisfy its data contract."""


class ResidencyError(GovernanceError):
    """A record's jurisdiction does not allow the region it was headed for."""
