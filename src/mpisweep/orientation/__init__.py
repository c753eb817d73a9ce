"""Orientation imaging with a multi-contrast reconstruction (Möddel et al., Phys. Rev. Applied 16, L041003, 2021).

One system matrix per easy-axis angle α_l, side by side: A = [S_α1 … S_αL], so the
reconstruction c = (c_1; …; c_L) ≥ 0 holds one concentration image per contrast channel. A sample
of easy-axis angle θ lights up the channels near θ; the readout fits
w(α) = p1·(cos²(π(α − p2)/180))^p3 to the channel weights and returns θ̂ = p2.

* :mod:`.kaczmarz`: the regularized, non-negative Kaczmarz solver (row by row, and batched over
  many measurements in an exactly equivalent Gram form), and a direct reference;
* :mod:`.system`: frequency selection, row weighting and the stacked matrix;
* :mod:`.readout`: sample location, channel weights, the angle fit and per-pixel orientation maps.
"""
