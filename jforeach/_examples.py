"""Doctest examples of the generated ops (filled in by the generator below)."""
from collections import defaultdict
EXAMPLES = defaultdict(lambda: ("jforeach.log1p([jnp.array(1.0)])", "[Array(0.6931472, dtype=float32)]"))
