"""A throwaway single-node Slurm cluster for the tests (cluster.sh, fixture.py)."""
