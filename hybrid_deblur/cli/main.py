"""Entry point of the ``hybrid-deblur`` command.

Each sub-command lives in its own module ``hybrid_deblur.cli.cmd_<name>`` that
defines ``add_parser(subparsers)`` and ``run(args) -> int``. Errors from bad input
(``ValueError``, ``TypeError``, ``OSError``) end the program with exit status 2 and
a single line on stderr; no partial output file is left behind because every
writer in :mod:`hybrid_deblur.io` is atomic. Warnings the library raises (e.g. the
optics' ``UndersampledWarning``) are printed as one line each, like the errors.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

#: sub-commands, in the order ``--help`` lists them (explicit: no plugin discovery)
COMMANDS = ("demo", "psf", "blur", "deblur", "estimate", "bench", "train", "atlas", "batch", "export")


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line and exit status 2."""

    def error(self, message: str):
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="hybrid-deblur",
        description="Physics-first image deblurring: PSFs, blur, classical and learned restoration.",
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"hybrid-deblur {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f"hybrid_deblur.cli.cmd_{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"hybrid_deblur.cli.cmd_{name}":
                continue  # sub-command not built yet
            raise
        p = mod.add_parser(sub)
        p.set_defaults(_run=mod.run)
    return parser


def one_line_warnings(command: str):
    """A ``warnings.showwarning`` that writes ``hybrid-deblur CMD: warning: Category: text``.

    Examples
    --------
    >>> import io, warnings
    >>> from hybrid_deblur.cli.main import one_line_warnings
    >>> show = one_line_warnings("psf")
    >>> buf = io.StringIO()
    >>> show(UserWarning("coarse\\npixels"), UserWarning, "x.py", 1, file=buf)
    >>> buf.getvalue()
    'hybrid-deblur psf: warning: UserWarning: coarse pixels\\n'
    """
    def show(message, category, filename, lineno, file=None, line=None):
        text = " ".join(str(message).split())
        (file or sys.stderr).write(f"hybrid-deblur {command}: warning: "
                                   f"{category.__name__}: {text}\n")

    return show


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        with warnings.catch_warnings():
            warnings.showwarning = one_line_warnings(args.command)
            return int(args._run(args) or 0)
    except (ValueError, TypeError, OSError, KeyError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        sys.stderr.write(f"hybrid-deblur {args.command}: error: {msg}\n")
        return 2
    except KeyboardInterrupt:  # pragma: no cover - interactive
        sys.stderr.write("hybrid-deblur: interrupted\n")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
