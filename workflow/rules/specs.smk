# One spec file per concern (mpisweep.sweep.specs): rewritten only when its own hash changes.


localrules:
    spec,


rule spec:
    """Write the spec file of one concern; its params hash makes Snakemake rerun it when the concern changes."""
    output:
        str(LAYOUT.spec("{spec}")),
    log:
        str(LAYOUT.log("spec", "{spec}")),
    params:
        hash=lambda w: SPEC_HASHES[w.spec],
    run:
        write_json(output[0], SPECS[wildcards.spec])
        write_text(log[0], f"spec {wildcards.spec}: {params.hash}\n")
