# Dictionary: one simulate job per (D, K) block → shard + marker; assemble → fp.zarr; M0 → m0.zarr.


rule simulate:
    input:
        spec=spec("dictionary"),
        check=ancient(f"{MEASUREMENT_DIR}/check.json"),
    output:
        marker=f"{OUT}/dictionary/markers/{{block}}.json",
        shard=directory(f"{OUT}/dictionary/shards/{{block}}.zarr"),
    params:
        diameter=lambda w: BLOCKS[w.block][0],
        anisotropy=lambda w: BLOCKS[w.block][1],
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/simulate/{{block}}.log",
    threads: 1
    shell:
        "{SERIAL} {MPISWEEP} simulate-block --config {RESOLVED_JSON} --diameter {params.diameter} "
        "--anisotropy {params.anisotropy} --shard {output.shard} --marker {output.marker} 2>&1 | tee {log}"


rule assemble:
    input:
        spec=spec("config"),
        markers=MARKERS,
        shards=SHARDS,
    output:
        directory(f"{OUT}/dictionary/fp.zarr"),
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/assemble.log",
    shell:
        "{SERIAL} {MPISWEEP} assemble --config {RESOLVED_JSON} --output {output} 2>&1 | tee {log}"


rule m0_dictionary:
    input:
        spec=spec("config"),
    output:
        directory(f"{OUT}/dictionary/m0.zarr"),
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/m0_dictionary.log",
    shell:
        "{SERIAL} {MPISWEEP} m0-dictionary --config {RESOLVED_JSON} --output {output} 2>&1 | tee {log}"
