# Measured data: the virtual scanner (default) writes MDF files; measured MDF files (source mdf)
# are used as they are. Either way check_measurement checks them against the configured scanner
# before any dictionary block is simulated.


rule virtual_component:
    input:
        spec=lambda w: spec(f"component_{w.comp}"),
    output:
        f"{MEASUREMENT_DIR}/components/{{comp}}.npz",
    params:
        diameter=lambda w: COMPONENTS[w.comp]["diameter"],
        anisotropy=lambda w: COMPONENTS[w.comp]["anisotropy"],
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/virtual_component/{{comp}}.log",
    threads: 1
    shell:
        "{SERIAL} {MPISWEEP} virtual-component --config {RESOLVED_JSON} --diameter {params.diameter} "
        "--anisotropy {params.anisotropy} --output {output} 2>&1 | tee {log}"


rule virtual_scanner:
    input:
        spec=spec("virtual"),
        components=[f"{MEASUREMENT_DIR}/components/{name}.npz" for name in COMPONENTS],
    output:
        files=[str(p) for p, _ in msscanner.measurement_files(RESOLVED)],
        csv=f"{MEASUREMENT_DIR}/calibrations.csv",
        truth=f"{MEASUREMENT_DIR}/truth.json",
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/virtual_scanner.log",
    shell:
        "{SERIAL} {MPISWEEP} virtual-scanner --config {RESOLVED_JSON} 2>&1 | tee {log}"


rule check_measurement:
    input:
        spec=spec("check"),
        files=MEASURED_FILES,
        index=MEASURED_INDEX,
    output:
        f"{MEASUREMENT_DIR}/check.json",
    conda:
        CONDA_ENV
    log:
        f"{OUT}/logs/check_measurement.log",
    shell:
        "{SERIAL} {MPISWEEP} check-measurement --config {RESOLVED_JSON} --output {output} 2>&1 | tee {log}"
