"""Request-contract validation with Great Expectations: valid rows, quarantined rows + reasons."""

from rendezvous.validation.contract import Contract, load_contract
from rendezvous.validation.quarantine import BATCH_REJECTED, QUARANTINE_COLUMNS
from rendezvous.validation.validator import ValidationResult, validate

__all__ = [
    "BATCH_REJECTED",
    "QUARANTINE_COLUMNS",
    "Contract",
    "ValidationResult",
    "load_contract",
    "validate",
]
