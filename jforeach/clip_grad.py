"""torch.nn.utils' gradient clipping in torch's function form: ``clip_grad_norm_`` and ``clip_grad_value_``."""

from __future__ import annotations

__all__: list[str] = []
