"""The root of the factory's errors, and the governance layer's family.

Every error a person can act on derives from `FactoryError`, through the family of the
package that raises it; the CLI catches the root and prints the message as one line.

    FactoryError                  (governance/errors.py: the lowest layer, so all can import it)
     +-- GovernanceError          governance/errors.py
     |    +-- ContractError       a record does not satisfy its data contract
     |    +-- ResidencyError      a record may not be stored where it was headed
     |    +-- DropDocument, PrivacyPolicyError, PriceBookError, ApiKeyError
     +-- IngestError              ingest/errors.py
     +-- TransformError           transforms/errors.py
     +-- VectorStoreError         vectorstore/errors.py
     +-- CommandError             aifactory/errors.py

Programming errors stay outside the root, so that the CLI reports them as bugs.
"""


class FactoryError(Exception):
    """Base of every error of the factory whose message is meant for a person."""


class GovernanceError(FactoryError):
    """Base of every error raised by `governance`."""


class ContractError(GovernanceError):
    """A record does not satisfy its data contract."""


class ResidencyError(GovernanceError):
    """A record's jurisdiction does not allow the region it was headed for."""
