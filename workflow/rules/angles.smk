# Measured data only: which angle convention (from x or y, either sense) the files follow.


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
