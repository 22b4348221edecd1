"""torch.amp's loss scaling for optax: the foreach AMP ops and a GradScaler transform (``jforeach.amp``)."""

from __future__ import annotations

__all__: list[str] = []
