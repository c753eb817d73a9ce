# Dictionary: numba warm-up; one simulate job per (D, K) block → shard + marker; assemble → fp.zarr; M0 → m0.zarr;
# M0a (anisotropic equilibrium) → m0a.zarr.
# Python home: mpisweep.steps.dictionary.


rule warmup:
    """Compile the numba kernels once, so parallel simulate jobs load the cache instead of racing to write it.

    With measured data it waits for the measurement check: a bad file stops the run before any
    block is simulated. simulate takes the stamp as ancient(), so neither a rerun check nor a
    rerun warm-up ever recomputes a finished block.
    """
    input:
        WARMUP_INPUT,
    output:
        str(LAYOUT.warmup),
    log:
        str(LAYOUT.log("warmup")),
    conda:
        CONDA_ENV
    shell:
        '"$MPISWEEP_PYTHON" -m mpisweep warmup --output {output} 2>&1 | tee {log}'


rule simulate:
    """One (D, K) block ((D, D_h) for model brown), or a planned part of it: its angles × all offsets → its Zarr shard (atomic rename), then its JSON marker.

    Runtime and memory come from the cost model of the block (mpisweep.sweep.cost.plan_jobs); on
    a cluster the jobs are packed into groups that stay within cluster.max_job_minutes.
    """
    input:
        spec=spec("dictionary"),
        warmup=ancient(str(LAYOUT.warmup)),
    output:
        marker=str(LAYOUT.marker("{block}")),
        shard=directory(str(LAYOUT.shard("{block}"))),
    log:
        str(LAYOUT.log("simulate", "{block}")),
    benchmark:
        str(LAYOUT.benchmark("simulate", "{block}"))
    group:
        lambda w: SIMULATE_GROUPS[w.block]
    conda:
        CONDA_ENV
    threads: 1
    resources:
        runtime=lambda w: JOBS[w.block].runtime_min,
        mem_mb=lambda w: JOBS[w.block].mem_mb,
    params:
        diameter=lambda w: JOBS[w.block].diameter_nm,
        # the second grid value (K, or D_h for model brown); the param keeps its name and the Néel
        # command its text, so that an upgrade does not rerun finished jobs (params/code triggers)
        anisotropy=lambda w: JOBS[w.block].value,
        part=lambda w: JOBS[w.block].part,
    shell:
        '"$MPISWEEP_PYTHON" -m mpisweep simulate-block --config "$MPISWEEP_CONFIG" --diameter {params.diameter} '
        + PARAMETER_FLAG
        + " {params.anisotropy} --part {params.part} --shard {output.shard} --marker {output.marker} "
        "2>&1 | tee {log}"


rule assemble:
    """All shards → fp.zarr, each checked against its marker's sha256 before it is copied (a refined sweep:
    the blocks its rounds chose; the others are NaN, missing)."""
    input:
        spec=spec("config"),
        markers=simulated(LAYOUT.marker),
        shards=simulated(LAYOUT.shard),
        refined=final_round if REFINE else [],
    output:
        directory(str(LAYOUT.fp)),
    log:
        str(LAYOUT.log("assemble")),
    benchmark:
        str(LAYOUT.benchmark("assemble", "assemble"))
    conda:
        CONDA_ENV
    params:
        refined=refined_flag,
    shell:
        '"$MPISWEEP_PYTHON" -m mpisweep assemble --config "$MPISWEEP_CONFIG" {params.refined} --output {output} '
        "2>&1 | tee {log}"


rule m0_dictionary:
    """The Langevin (M0) rows for every diameter and offset → m0.zarr."""
    input:
        spec=spec("config"),
    output:
        directory(str(LAYOUT.m0)),
    log:
        str(LAYOUT.log("m0_dictionary")),
    conda:
        CONDA_ENV
    shell:
        '"$MPISWEEP_PYTHON" -m mpisweep m0-dictionary --config "$MPISWEEP_CONFIG" --output {output} 2>&1 | tee {log}'


rule m0a_dictionary:
    """The anisotropic-equilibrium (M0a) rows for every (D, K), angle and offset → m0a.zarr (a refined
    sweep: the entries its rounds simulated, the others missing as in fp.zarr)."""
    input:
        spec=spec("config"),
        refined=final_round if REFINE else [],
    output:
        directory(str(LAYOUT.m0a)),
    log:
        str(LAYOUT.log("m0a_dictionary")),
    benchmark:
        str(LAYOUT.benchmark("m0a_dictionary", "m0a_dictionary"))
    conda:
        CONDA_ENV
    threads: 8  # processes, one entry each, one BLAS thread each; capped at --cores by Snakemake
    params:
        refined=refined_flag,
    shell:
        "export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1; "
        '"$MPISWEEP_PYTHON" -m mpisweep m0a-dictionary --config "$MPISWEEP_CONFIG" {params.refined} --workers {threads} '
        "--output {output} 2>&1 | tee {log}"
