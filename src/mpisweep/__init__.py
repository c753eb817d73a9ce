"""mpisweep: model-based MPI system-matrix dictionaries for immobilised, easy-axis-aligned particles."""

__version__ = "0.1.0"
