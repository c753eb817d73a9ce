# Measured data: the virtual scanner (default) writes MDF files; measured MDF files (source mdf)
# are used as they are. Either way check_measurement checks them against the configured scanner.
# The dictionary does not depend on the check, so a failed check never reruns a finished block.
# Python home: mpisweep.steps.measurement.


rule virtual_component:
    """Virtual scanner: the rows of one mixture component on all bins, simulated finer than the dictionary."""
    input:
        spec=lambda w: spec(f"component_{w.comp}"),
        warmup=ancient(str(LAYOUT.warmup)),
    output:
        str(LAYOUT.component("{comp}")),
    log:
        str(LAYOUT.log("virtual_component", "{comp}")),
    conda:
        CONDA_ENV
    threads: 1
    params:
        diameter=lambda w: COMPONENTS[w.comp]["diameter"],
        # the second grid value (K, or D_h for model brown), named as before (see rule simulate)
        anisotropy=lambda w: COMPONENTS[w.comp][SWEEP.parameter.name],
    shell:
        '"$MPISWEEP_PYTHON" -m mpisweep virtual-component --config "$MPISWEEP_CONFIG" --diameter {params.diameter} '
        + PARAMETER_FLAG
        + " {params.anisotropy} --output {output} 2>&1 | tee {log}"


rule virtual_scanner:
    """Virtual scanner: mix the components, apply transfer function and noise → one MDF per angle."""
    input:
        spec=spec("virtual"),
        components=[str(LAYOUT.component(name)) for name in COMPONENTS],
    output:
        files=[str(path) for path, _ in measurement_files(SWEEP)],
        csv=str(LAYOUT.virtual_index),
        truth=str(LAYOUT.truth),
    log:
        str(LAYOUT.log("virtual_scanner")),
    conda:
        CONDA_ENV
    shell:
        '"$MPISWEEP_PYTHON" -m mpisweep virtual-scanner --config "$MPISWEEP_CONFIG" 2>&1 | tee {log}'


rule check_measurement:
    """Check the measured files (cycle, dividers, samples, grid, offsets, channels) against the config."""
    input:
        spec=spec("check"),
        files=MEASURED_FILES,
        index=MEASURED_INDEX,
    output:
        str(LAYOUT.check),
    log:
        str(LAYOUT.log("check_measurement")),
    priority: 50
    conda:
        CONDA_ENV
    shell:
        '"$MPISWEEP_PYTHON" -m mpisweep check-measurement --config "$MPISWEEP_CONFIG" --output {output} 2>&1 | tee {log}'
