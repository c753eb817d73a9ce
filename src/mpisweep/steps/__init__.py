"""The workflow's steps, one package per stage, each with the rules file of the same name.

================  ==================================  ==========================================
package           rules                               steps
================  ==================================  ==========================================
``dictionary``    ``workflow/rules/dictionary.smk``   warmup, simulate, assemble, m0/m0a dictionaries
``measurement``   ``workflow/rules/measurement.smk``  virtual scanner, checks of the measured files
``fit``           ``workflow/rules/fit.smk``          fits M0–M3, tables, model MDFs, check-angles
``refine``        ``workflow/rules/refine.smk``       coarse-to-fine rounds, the rounds table
``orientation``   ``workflow/rules/orientation.smk``  phantoms, model matrices, reconstruction, summary
================  ==================================  ==========================================

A stage imports the shared machinery (:mod:`mpisweep.sweep`), the kernels (physics, fitting, io,
orientation, figures) and the stages upstream of it: measurement and dictionary need none, fit
needs both, refine needs the first two, orientation needs dictionary, measurement and fit. Each step
runs without Snakemake (``mpisweep <step>``); each stage declares its commands in its ``commands``
module, which the command line collects.
"""
