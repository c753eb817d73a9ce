"""The workflow's steps, one package per stage, each with the rules file of the same name.

================  ==================================  ==========================================
package           rules                               steps
================  ==================================  ==========================================
``dictionary``    ``workflow/rules/dictionary.smk``   warmup, simulate, assemble, m0/m0a dictionaries
``measurement``   ``workflow/rules/measurement.smk``  virtual scanner, checks of the measured files
``fit``           ``workflow/rules/fit.smk``          fits M0–M3, tables, model MDFs, check-angles
``orientation``   ``workflow/rules/orientation.smk``  phantoms, model matrices, reconstruction, summary
================  ==================================  ==========================================

A stage imports the shared machinery (:mod:`mpisweep.sweep`), the kernels (physics, fitting, io,
orientation, figures) and the stages upstream of it: measurement and dictionary need none, fit
needs both, orientation needs all three. Each step runs without Snakemake (``mpisweep <step>``).
"""
