"""The commands that are no workflow step: ``moment`` (one solve), ``mdf-info`` (an MDF file's summary)
and ``check-config`` (a sweep config, validated and resolved).

They sit here, in the shared machinery, rather than beside the kernels they wrap: a kernel may not
import the machinery, and ``moment`` takes its defaults from the config schema (one home for them)
while every command is a :class:`~mpisweep.sweep.command.Command`. Each module lists its commands in
``COMMANDS``; :mod:`mpisweep.cli` collects them.
"""
