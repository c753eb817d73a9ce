"""The sweep config's sections, one module each: a frozen type that owns the section's unit conversion,
its checks (errors naming the key) and its JSON form; defaults come from the schema alone.

================  =====================================  ===============
config key        type                                   module
================  =====================================  ===============
``particle``      read-only mapping of constants (SI)    ``particle``
``scanner``       ``Scanner``                            ``scanner``
``offsets``       ``OffsetGrid``                         ``scanner``
``grids``         ``Grids``                              ``grids``
``frequencies``   ``Frequencies``                        ``frequencies``
``solver``        ``SolverSettings`` and ``Limits``      ``solver``
``fit``           ``FitSettings``                        ``fit``
``measurement``   ``Measurement``                        ``measurement``
``orientation``   ``Orientation``                        ``orientation``
``cluster``       ``ClusterSettings``                    ``cluster``
``refine``        ``RefineSettings``                     ``refine``
================  =====================================  ===============

:class:`mpisweep.Sweep` composes them; which of them decide a rerun is said in ``mpisweep.sweep.specs``.
"""
