"""The physics: Néel-rotation Fokker–Planck solver and equilibrium models (paper §2.1, eqs. 4–6).

params (particle), excitation (drive + offset field), operator (spherical-harmonic Galerkin
matrices), banded (banded LU kernels), integrator (compiled variable-order BDF), solver (one
periodic steady-state solve), block (all angles × offsets of one (D, K)), equilibrium (Langevin
and anisotropic Boltzmann equilibrium), spectra (rows φ_k and the evaluation bins).
"""
