"""The ``scanner`` command: a thin click layer over the library; the only place that prints.

Each command group lives in a module of its own; this module assembles them and holds the entry point.
"""

from __future__ import annotations

import importlib.abc
import os
import sys

import click

from scanner.cli.answers import answers
from scanner.cli.bank import bank
from scanner.cli.classifier import classifier
from scanner.cli.common import EXIT_BROKEN_PIPE, EXIT_CHECK_FAILED, EXIT_REJECTED, EXIT_STRICT
from scanner.cli.evaluate import evaluate_command
from scanner.cli.lexicon import lexicon
from scanner.cli.report import report
from scanner.cli.sample import sample
from scanner.cli.scan import scan
from scanner.cli.sources import sources
from scanner.resources import no_collection_at_exit
from scanner.version import __version__

__all__ = ["EXIT_CHECK_FAILED", "EXIT_REJECTED", "EXIT_STRICT", "cli", "hide_pandas_from_pyarrow", "main"]


class _QuietOnClosedStdout(click.Group):
    """Stdout read by `head` or `less` that quit: the work is done and the rest of the text unwanted, so
    exit 141 (click's own handling exits 1, which is `report --verify`'s "differences")."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush does not raise again
            raise click.exceptions.Exit(EXIT_BROKEN_PIPE) from None


@click.group(cls=_QuietOnClosedStdout)
@click.version_option(__version__, prog_name="scanner")
def cli() -> None:
    """Scan training corpora against blocked-keyword lexicons and report corpus-safety evidence."""


for command in (scan, report, sample, lexicon, sources, evaluate_command, classifier, bank, answers):
    cli.add_command(command)


def hide_pandas_from_pyarrow(argv: list[str]) -> bool:
    """pyarrow imports pandas (~0.2 s) on its first conversion only to recognise pandas objects, which
    the scanner never hands it; with worker processes that import repeats in every worker and in the
    report step. So the command marks pandas as absent, unless it runs another executor than
    ``local`` (Ray Data converts through pandas). True if pandas was hidden."""
    executor = "local"
    for i, arg in enumerate(argv):
        if arg == "--executor" and i + 1 < len(argv):
            executor = argv[i + 1]
        elif arg.startswith("--executor="):
            executor = arg.split("=", 1)[1]
    if executor != "local" or "pandas" in sys.modules:
        return False
    sys.meta_path.insert(0, _PandasHidden())
    return True


class _PandasHidden(importlib.abc.MetaPathFinder):
    """Makes ``import pandas`` raise ImportError, which pyarrow takes for "pandas is not installed"."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            msg = "pandas is hidden from this scanner process (see hide_pandas_from_pyarrow)"
            raise ImportError(msg)


def main() -> None:
    """Console-script entry point (tests call ``cli`` so their process keeps pandas)."""
    hide_pandas_from_pyarrow(sys.argv[1:])
    no_collection_at_exit()
    cli()
