"""torch.optim.swa_utils: parameter averaging with jforeach ops (``jforeach.optim.swa_utils``)."""

from __future__ import annotations

__all__: list[str] = []
