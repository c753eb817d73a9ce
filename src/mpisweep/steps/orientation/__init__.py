"""Orientation stage (``workflow/rules/orientation.smk``): phantoms, model matrices from a fit,
multi-contrast reconstruction with readout, and the summary scores and figures; positions ↔ offsets
in geometry."""
