# Orientation imaging: phantoms → full-band model matrices from the fit → multi-contrast
# reconstruction per system-matrix set → readout, scores and figures.
# Python home: mpisweep.steps.orientation.


rule phantoms:
    """Virtual phantom measurements in the record's layout (MDF files, measurements.csv, truth.json)."""
    input:
        spec=spec("phantoms"),
        warmup=ancient(str(LAYOUT.warmup)),
        files=MEASURED_FILES,  # the position map their /calibration/positions state
    output:
        index=str(LAYOUT.phantom_index),
        truth=str(LAYOUT.phantom_truth),
        files=directory(str(LAYOUT.phantoms / "measurements")),
    log:
        str(LAYOUT.log("phantoms")),
    benchmark:
        str(LAYOUT.benchmark("phantoms", "phantoms"))
    conda:
        CONDA_ENV
    threads: 8  # one process per (angle, component) set, capped at --cores by Snakemake
    shell:
        '"$MPISWEEP_PYTHON" -m mpisweep phantoms --config "$MPISWEEP_CONFIG" --jobs {threads} 2>&1 | tee {log}'


rule model_matrices:
    """Full-band model system matrices of the M1/M2/M3 fits (non-zero-weight entries simulated once)."""
    input:
        spec=spec("matrices"),
        models=str(LAYOUT.models),
        files=MEASURED_FILES,
    output:
        stores=[
            directory(str(LAYOUT.model_matrices(m)))
            for m in FIT_MODELS_FOR_ORIENTATION
        ],
        mdf=[
            directory(str(LAYOUT.orientation / "matrices" / m))
            for m in FIT_MODELS_FOR_ORIENTATION
        ],
    log:
        str(LAYOUT.log("model_matrices")),
    benchmark:
        str(LAYOUT.benchmark("model_matrices", "model_matrices"))
    conda:
        CONDA_ENV
    threads: 8  # one process per (D, K) entry, capped at --cores by Snakemake
    shell:
        '"$MPISWEEP_PYTHON" -m mpisweep model-matrices --config "$MPISWEEP_CONFIG" --jobs {threads} 2>&1 | tee {log}'


rule reconstruct:
    """All phantoms reconstructed with one system-matrix set (batched Kaczmarz), then read out; the settings
    ("auto") first chosen on held-out calibration scans."""
    input:
        unpack(reconstruct_inputs),
    output:
        store=directory(str(LAYOUT.reconstruction("{model}"))),
        readout=str(LAYOUT.readout("{model}")),
        settings=report(
            str(LAYOUT.reconstruction_settings("{model}")),
            caption="../report/orientation_settings.rst",
            category="Orientation",
        ),
    log:
        str(LAYOUT.log("reconstruct", "{model}")),
    benchmark:
        str(LAYOUT.benchmark("reconstruct", "{model}"))
    conda:
        CONDA_ENV
    threads: 8  # one process per share of the phantoms, capped at --cores by Snakemake
    shell:
        '"$MPISWEEP_PYTHON" -m mpisweep reconstruct --config "$MPISWEEP_CONFIG" --model {wildcards.model} '
        "--jobs {threads} 2>&1 | tee {log}"


rule orientation_summary:
    """Angle and position errors per system-matrix set; box plot per orientation; orientation maps."""
    input:
        readouts=[str(LAYOUT.readout(m)) for m in ORIENTATION_MODELS],
        settings=[str(LAYOUT.reconstruction_settings(m)) for m in ORIENTATION_MODELS],
        stores=[str(LAYOUT.reconstruction(m)) for m in ORIENTATION_MODELS],
    output:
        summary=report(
            str(LAYOUT.orientation_summary),
            caption="../report/orientation_summary.rst",
            category="Orientation",
        ),
        errors=report(
            str(LAYOUT.figure("orientation_errors.png")),
            caption="../report/orientation_errors.rst",
            category="Orientation",
        ),
        maps=report(
            str(LAYOUT.figure("orientation_maps.png")),
            caption="../report/orientation_maps.rst",
            category="Orientation",
        ),
    log:
        str(LAYOUT.log("orientation_summary")),
    conda:
        CONDA_ENV
    shell:
        '"$MPISWEEP_PYTHON" -m mpisweep orientation-summary --config "$MPISWEEP_CONFIG" 2>&1 | tee {log}'
