"""torch.optim.lr_scheduler's schedulers as optax schedules (``jforeach.optim.lr_scheduler``)."""

from __future__ import annotations

__all__: list[str] = []
