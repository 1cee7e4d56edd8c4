"""Why a promotion step refused to act; every message names what to do about it."""

from __future__ import annotations


class PromotionError(Exception):
    """A promotion, rotation or rollback cannot proceed."""


class PromotionBusy(PromotionError):
    """Another promotion is open (waiting for approval); only one may be at a time."""


class PromotionClosed(PromotionError):
    """The promotion was already decided or abandoned; its decision cannot be applied again."""


class RotationConflict(PromotionError):
    """The roles are no longer what the decision was based on; nothing was changed."""


class ApprovalRefused(PromotionError):
    """A proposal or decision the approval policy does not accept; refused and audited."""


class ChainBroken(PromotionError):
    """The role audit's hash chain does not hold; the message names the first row where it breaks."""


class TrainingError(Exception):
    """Not enough, or unusable, labelled data to train and judge a candidate."""
