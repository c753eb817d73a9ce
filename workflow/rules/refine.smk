# Coarse-to-fine rounds (config refine.enabled): a checkpoint per round fits the blocks simulated so far
# and names the next round's blocks; each block is an ordinary simulate job (same shards and markers), so
# a round resumes like any other job and a later full-grid run reuses every block.
# With refine.screening (multi-fidelity) round 0 fits the whole grid at the screening fidelity, which one
# `screen` job per diameter simulates under <output>/screening.
# Python home: mpisweep.steps.refine (mpisweep.sweep.refine decides).


wildcard_constraints:
    round=r"[0-9]+",


rule screen:
    """The blocks of one diameter at the screening fidelity (a few angles on an offset subgrid), in one process: shards and markers under screening/, then the job's record."""
    input:
        spec=spec("screening"),
        warmup=ancient(str(LAYOUT.warmup)),
    output:
        str(LAYOUT.screening_chunk("{chunk}")),
    log:
        str(LAYOUT.log("screen", "{chunk}")),
    benchmark:
        str(LAYOUT.benchmark("screen", "{chunk}"))
    conda:
        CONDA_ENV
    threads: 1
    resources:
        runtime=lambda w: SCREEN_CHUNKS[w.chunk].runtime_min,
        mem_mb=lambda w: SCREEN_CHUNKS[w.chunk].mem_mb,
    params:
        diameter=lambda w: SCREEN_CHUNKS[w.chunk].diameter_nm,
    shell:
        '"$MPISWEEP_PYTHON" -m mpisweep screen-blocks --config "$MPISWEEP_CONFIG" --diameter {params.diameter} '
        "--output {output} 2>&1 | tee {log}"


checkpoint refine:
    """One coarse-to-fine round: fit the blocks so far (the others missing), record the answer, choose the next blocks."""
    input:
        spec=spec("config"),
        check=str(LAYOUT.check),
        files=MEASURED_FILES,
        screened=lambda w: (
            [str(LAYOUT.screening_chunk(c)) for c in SCREEN_CHUNKS]
            if int(w.round) == 0
            else []
        ),
        markers=lambda w: job_files(refine_round_blocks(int(w.round)), LAYOUT.marker),
        shards=lambda w: job_files(refine_round_blocks(int(w.round)), LAYOUT.shard),
        previous=lambda w: (
            [str(LAYOUT.refine_round(int(w.round) - 1))] if int(w.round) > 0 else []
        ),
    output:
        str(LAYOUT.refine_round("{round}")),
    log:
        str(LAYOUT.log("refine", "round_{round}")),
    conda:
        CONDA_ENV
    threads: 8  # capped at --cores by Snakemake
    params:
        previous=lambda w, input: (
            f"--previous {input.previous}" if input.previous else ""
        ),
    shell:
        "export OMP_NUM_THREADS={threads} OPENBLAS_NUM_THREADS={threads} MKL_NUM_THREADS={threads}; "
        '"$MPISWEEP_PYTHON" -m mpisweep refine-round --config "$MPISWEEP_CONFIG" --round {wildcards.round} '
        "{params.previous} --output {output} 2>&1 | tee {log}"


localrules:
    refine_table,


rule refine_table:
    """The rounds of a refined sweep, one row each: blocks added, core-seconds spent, the answer; with screening, M1's ε_global over the whole grid at the screening fidelity."""
    input:
        final_round,
    output:
        table=report(
            str(LAYOUT.refine_table),
            caption="../report/refine.rst",
            category="Coarse-to-fine",
        ),
        screening=[str(LAYOUT.screening_eps)] if SCREENING else [],
    log:
        str(LAYOUT.log("refine", "table")),
    conda:
        CONDA_ENV
    params:
        screening=(
            f'--config "$MPISWEEP_CONFIG" --screening {LAYOUT.screening_eps}'
            if SCREENING
            else ""
        ),
    shell:
        '"$MPISWEEP_PYTHON" -m mpisweep refine-table --round {input} --output {output.table} {params.screening} '
        "2>&1 | tee {log}"
