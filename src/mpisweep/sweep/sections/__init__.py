"""The sweep config's sections, one module each: a frozen type that owns the section's unit conversion,
its checks (errors naming the key) and its JSON form; defaults come from the schema alone.

================  ==========================================  =======================================
config key        type                                        module
================  ==========================================  =======================================
``particle``      read-only mapping of constants (SI)         :mod:`.particle`
``scanner``       :class:`~.scanner.Scanner`                  :mod:`.scanner`
``offsets``       :class:`~.scanner.OffsetGrid`               :mod:`.scanner`
``grids``         :class:`~.grids.Grids`                      :mod:`.grids`
``frequencies``   :class:`~.frequencies.Frequencies`          :mod:`.frequencies`
``solver``        :class:`~.solver.SolverSettings`, Limits    :mod:`.solver`
``fit``           :class:`~.fit.FitSettings`                  :mod:`.fit`
``measurement``   :class:`~.measurement.Measurement`          :mod:`.measurement`
``orientation``   :class:`~.orientation.Orientation`          :mod:`.orientation`
``cluster``       :class:`~.cluster.ClusterSettings`          :mod:`.cluster`
``refine``        :class:`~.refine.RefineSettings`            :mod:`.refine`
================  ==========================================  =======================================

:class:`mpisweep.sweep.Sweep` composes them; which of them decide a rerun is said in :mod:`mpisweep.sweep.specs`.
"""
