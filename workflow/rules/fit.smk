# Fits M0, M0a, M1, M2, M3 and the field calibration (one job), the figures of the report and, for measured data, the
# check of which angle convention (from x or y, either sense) the files follow.
# Python home: mpisweep.steps.fit.


rule fit:
    """M0, M0a, M1, M2, M3 against the measured data → tables, summary.json, models.zarr, model MDFs.

    The M0a store is read from its layout path (an input here, so it is built first).
    """
    input:
        spec=spec("config"),
        check=str(LAYOUT.check),
        fp=str(LAYOUT.fp),
        m0=str(LAYOUT.m0),
        m0a=M0A_STORES,
        files=MEASURED_FILES,
        transfer_function=TRANSFER_FUNCTION_FILE,
    output:
        **{
            key: path
            for key, path in FIT_TABLES.items()
            if key not in ("fields", "transfer_function")
        },
        fields=report(
            FIT_TABLES["fields"], caption="../report/fields.rst", category="Tables"
        ),
        transfer_function=report(
            FIT_TABLES["transfer_function"],
            caption="../report/transfer_function.rst",
            category="Tables",
        ),
        models=directory(str(LAYOUT.models)),
    log:
        str(LAYOUT.log("fit")),
    benchmark:
        str(LAYOUT.benchmark("fit", "fit"))
    conda:
        CONDA_ENV
    threads: 8  # capped at --cores by Snakemake
    params:
        outdir=lambda w, output: os.path.dirname(output.models),
    shell:
        "export OMP_NUM_THREADS={threads} OPENBLAS_NUM_THREADS={threads} MKL_NUM_THREADS={threads}; "
        '"$MPISWEEP_PYTHON" -m mpisweep fit --config "$MPISWEEP_CONFIG" --check {input.check} --fp {input.fp} --m0 {input.m0} '
        "--outdir {params.outdir} 2>&1 | tee {log}"


rule figures:
    """The paper's figures from models.zarr (ε maps of M0, M0a, M1; M2 and M3 weights; ε_freq, per-angle errors, rows)."""
    input:
        str(LAYOUT.models),
    output:
        **{
            key: report(
                str(LAYOUT.figure(name)), caption=caption(key), category="Figures"
            )
            for key, name in FIGURES.items()
        },
    log:
        str(LAYOUT.log("figures")),
    benchmark:
        str(LAYOUT.benchmark("figures", "figures"))
    conda:
        CONDA_ENV
    params:
        outdir=lambda w, output: os.path.dirname(output[0]),
    shell:
        '"$MPISWEEP_PYTHON" -m mpisweep figures {input} {params.outdir} 2>&1 | tee {log}'


rule check_angles:
    """M1 under each candidate angle mapping (offset 0° or 90°, sign ±1): the report's convention table."""
    input:
        fp=str(LAYOUT.fp),
        files=MEASURED_FILES,
        index=MEASURED_INDEX,
    output:
        report(
            str(LAYOUT.angle_conventions),
            caption="../report/angle_conventions.rst",
            category="Tables",
        ),
    log:
        str(LAYOUT.log("check_angles")),
    conda:
        CONDA_ENV
    shell:
        '"$MPISWEEP_PYTHON" -m mpisweep check-angles --config "$MPISWEEP_CONFIG" --fp {input.fp} '
        "--output {output} 2>&1 | tee {log}"
