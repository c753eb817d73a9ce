"""Command line: `mpisweep moment …` (one solve), `mdf-info`, `check-config`, and the sweep workflow's steps.

The commands are not defined here: each workflow stage declares its own in
``mpisweep.steps.<stage>.commands`` and the tools that are no step in ``mpisweep.sweep.tools``
(each a :class:`~mpisweep.sweep.command.Command`); :func:`registry` collects them. This module keeps
the top-level parser and the exit status: 0 on success, 2 for a bad argument (:class:`UsageError`),
1 for every other :class:`MpisweepError` (bad config, bad file, failed solve, corrupt store), each as
one line; 130 on Ctrl-C; 141 (as for a program the shell sees killed by SIGPIPE) without a word when
the reader of standard output has gone (``mpisweep check-config c.yaml | head -1``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

from ._version import __version__
from .errors import MpisweepError

CLOSED_PIPE = 141  # 128 + SIGPIPE, as the shell reports `yes | head -1`'s yes


class HelpFormatter(argparse.HelpFormatter):
    """Each option's default in its help, as typed on the command line ("12.59 13.55"); none where it is None
    or off, or where the help already says it."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if (not action.option_strings or default is None or default is False or default is argparse.SUPPRESS
                or "default" in text):
            return text
        values = default if isinstance(default, (list, tuple)) else [default]
        shown = " ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)
        return f"{text} (default: {shown.replace('%', '%%')})"


def command_modules() -> list[str]:
    """The modules that declare commands: the tools, then each stage's ``commands`` (every stage has one)."""
    from . import steps
    from .sweep import tools

    names = [f"{tools.__name__}.{m.name}" for m in pkgutil.iter_modules(tools.__path__)]
    return names + [f"{steps.__name__}.{m.name}.commands" for m in pkgutil.iter_modules(steps.__path__) if m.ispkg]


def registry() -> dict:
    """Command name → (the module that declares it, its :class:`~mpisweep.sweep.command.Command`)."""
    found = {}
    for module in command_modules():
        for command in importlib.import_module(module).COMMANDS:
            if command.name in found:
                raise RuntimeError(f"command {command.name} declared twice: {found[command.name][0]} and {module}")
            found[command.name] = (module, command)
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mpisweep", formatter_class=HelpFormatter,
        description="Fokker-Planck system matrices for MPI: one solve (moment), file tools (mdf-info, check-config) "
        "and the sweep workflow's steps (called by its Snakemake rules).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, title="commands", metavar="COMMAND")
    for _, command in registry().values():
        p = sub.add_parser(command.name, help=command.help, description=command.description,
                           formatter_class=HelpFormatter)
        command.add_arguments(p)
        p.set_defaults(run=command.run)
    return parser


def main(argv=None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    # named before the parser is built (its imports take seconds), so that Ctrl-C then names it too
    command = f"mpisweep {words[0]}" if words and not words[0].startswith("-") else "mpisweep"
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        command = f"mpisweep {args.command}"
        status = args.run(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
        return status
    except MpisweepError as err:
        _exit(err.exit_status, f"{command}: error: {err}")
    except BrokenPipeError:  # the reader has gone (`| head`): stop quietly, as Python's docs on SIGPIPE advise
        _silence_stdout()
        raise SystemExit(CLOSED_PIPE) from None
    except OSError as err:  # a full disk, a read-only folder: the writers leave no partial file behind
        where = f"{err.filename}: " if err.filename else ""
        _exit(1, f"{command}: error: {where}{err.strerror or err}")
    except KeyboardInterrupt:  # Ctrl-C: one line and the shell's status for SIGINT; outputs are written atomically
        _exit(130, f"{command}: interrupted")


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's flush at exit does not fail on the closed pipe again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # not a file descriptor (a test's captured stdout)
        pass


def _exit(status: int, message: str):
    print(message, file=sys.stderr, flush=True)
    raise SystemExit(status)


if __name__ == "__main__":
    sys.exit(main())
