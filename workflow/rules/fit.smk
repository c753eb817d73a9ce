# Fits M0, M1, M2 (one job) and the figures of the report.


rule fit:
    input:
        spec=spec("config"),
        check=f"{MEASUREMENT_DIR}/check.json",
        fp=f"{OUT}/dictionary/fp.zarr",
        m0=f"{OUT}/dictionary/m0.zarr",
        files=MEASURED_FILES,
    output:
        **FIT_TABLES,
        models=directory(MODELS),
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/fit.log",
    threads: 8  # capped at --cores by Snakemake
    shell:
        "export OMP_NUM_THREADS={threads} OPENBLAS_NUM_THREADS={threads} MKL_NUM_THREADS={threads}; "
        "{MPISWEEP} fit --config {RESOLVED_JSON} --check {input.check} --fp {input.fp} --m0 {input.m0} "
        "--outdir {FIT_DIR} 2>&1 | tee {log}"


if FIGURE_FILES:

    rule figures:
        input:
            MODELS,
        output:
            **{
                key: report(f"{FIGURE_DIR}/{name}", caption=caption(key), category="Figures")
                for key, name in FIGURE_FILES.items()
            },
        conda:
            CONDA_ENV
        log:
            f"{OUT}/logs/figures.log",
        shell:
            "{SERIAL} {MPISWEEP} figures {input} {FIGURE_DIR} 2>&1 | tee {log}"
