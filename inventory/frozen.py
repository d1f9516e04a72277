"""The one base of tacfleet's pydantic values: frozen once validated (hashable, never changed).

Facts read from a host (``winhost.probe``) derive from it directly; the inventory's models
(``inventory.models.InventoryModel``) add what text written by a person needs on top: unknown
keys refused and inputs never echoed in error messages (they may be secrets).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    """A validated value that cannot change afterwards."""

    model_config = ConfigDict(frozen=True)
