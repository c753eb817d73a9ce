"""Unit factors and axis names shared by every layer (the config and the CLI convert once, with these)."""

MT = 1e-3  # tesla per millitesla
NM = 1e-9  # metre per nanometre
AXES = ("x", "y", "z")  # field, drive and receive axes, in this order
ORDER_NAMES = ("mx", "my", "mz")  # mixing-order columns, one per drive channel
