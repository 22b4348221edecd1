"""Doctests run in JAX's default 32-bit mode, as users see them (tests/ turns on x64 for torch parity)."""

import jax
import pytest


@pytest.fixture(autouse=True)
def _doctests_in_default_precision(request):
    if isinstance(request.node, pytest.DoctestItem):
        with jax.enable_x64(False):
            yield
    else:
        yield
