"""Reference occupations shared by the services: dual apprenticeships with KldB 2010 codes."""

from diko_shared.occupations.catalogue import (
    Occupation,
    OccupationCatalogue,
    load_occupations,
    shared_prefix_length,
)

__all__ = ["Occupation", "OccupationCatalogue", "load_occupations", "shared_prefix_length"]
