# Coarse-to-fine rounds (config refine.enabled): a checkpoint per round fits the blocks simulated so far
# and names the next round's blocks; each block is an ordinary simulate job (same shards and markers), so
# a round resumes like any other job and a later full-grid run reuses every block.
# Python home: mpisweep.steps.refine (mpisweep.sweep.refine decides).


wildcard_constraints:
    round=r"[0-9]+",


checkpoint refine:
    """One coarse-to-fine round: fit the blocks so far (the others missing), record the answer, choose the next blocks."""
    input:
        spec=spec("config"),
        check=str(LAYOUT.check),
        files=MEASURED_FILES,
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
    """The rounds of a refined sweep, one row each: blocks added, core-seconds spent, the answer."""
    input:
        final_round,
    output:
        report(
            str(LAYOUT.refine_table),
            caption="../report/refine.rst",
            category="Coarse-to-fine",
        ),
    log:
        str(LAYOUT.log("refine", "table")),
    conda:
        CONDA_ENV
    shell:
        '"$MPISWEEP_PYTHON" -m mpisweep refine-table --round {input} --output {output} 2>&1 | tee {log}'
