"""Measurement stage (``workflow/rules/measurement.smk``): the virtual scanner's calibration files,
and the index, checks and loading of measured (or virtual) calibration files (``measured``)."""
