"""Refine stage (``workflow/rules/refine.smk``): one coarse-to-fine round of a refined sweep (rounds):
fit the blocks simulated so far, record the answer and choose the next round's blocks
(:mod:`mpisweep.sweep.refine`)."""
