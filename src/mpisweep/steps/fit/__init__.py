"""Fit stage (``workflow/rules/fit.smk``): M0–M3 on the stored dictionaries (fit), their tables and
summary (fit_tables), model system matrices and MDFs (models), reading the stores (dictionaries)
and the angle-convention check of measured data (angles)."""
