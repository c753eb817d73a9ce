"""Dictionary stage (``workflow/rules/dictionary.smk``): compile the kernels once (warmup), one
shard per (D, K) block (simulate), the assembled ``fp.zarr`` (assemble) and the equilibrium
dictionaries ``m0.zarr`` and ``m0a.zarr``."""
