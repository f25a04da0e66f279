"""What every command shares: exit codes, the ConfigError -> exit 2 rule, common options, the summary."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

import click

from scanner.errors import ConfigError
from scanner.evidence.outfolder import OutputFolder
from scanner.io.config import parse_toml, refuse_unknown_keys
from scanner.lexicon.taxonomy import DEFAULT_PROFILE, PROFILES
from scanner.report.build import NOT_SCANNED_YET
from scanner.report.i18n import LANGUAGES

EXIT_DIFFERENCES = 1  # report --verify: report.json differs from its recomputation
EXIT_CHECK_FAILED = 3
EXIT_STRICT = 4  # --strict: a row was rejected or a shard failed
EXIT_REJECTED = 5  # finished, but rows were rejected or shards failed
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a command its reader quit on (`scanner scan ... | head`)


def config_errors_exit_2(func):
    """ConfigError -> a one-line message on stderr and exit code 2 (nothing was scanned)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ConfigError as e:
            raise click.UsageError(str(e)) from e

    return wrapper


profile_option = click.option("--profile", type=click.Choice(sorted(PROFILES)), default=DEFAULT_PROFILE, show_default=True, help="Thresholds of the standard.")
lang_option = click.option("--report-lang", type=click.Choice(LANGUAGES), default="zh", show_default=True, help="Language of report.md and report.html.")
fail_option = click.option("--fail-on-check", is_flag=True, help=f"Exit with code {EXIT_CHECK_FAILED} when any check fails.")


def print_summary(report: dict) -> None:
    t = report["totals"]
    click.echo(
        f"{t['documents']} documents ({t['empty_documents']} empty), {t['flagged_documents']} flagged"
        f" ({100 * t['flagged_share']:.2f} %), {t['unsafe_documents']} unsafe ({100 * t['unsafe_share']:.2f} %),"
        f" {t['hits']} hits, {t['rejected_documents']} rows rejected"
    )
    lex = report["lexicon"]
    click.echo(f"lexicon {lex['name']} {lex['version']} ({lex['terms']} terms, fingerprint {lex['fingerprint'][:16]})")
    limit = report["checks"][0]["threshold"]
    width = max([len("source"), *(len(name) for name in report["by_source"])])
    click.echo(f"\n{'source':<{width}}  {'documents':>10}  {'flagged':>8}  {'unsafe':>8}  {'share':>8}  verdict (unsafe <= {100 * limit:g} %)")
    for name, s in report["by_source"].items():
        verdict = click.style("pass", fg="green") if s["verdict"] == "pass" else click.style("FAIL", fg="red", bold=True)
        click.echo(f"{name:<{width}}  {s['documents']:>10}  {s['flagged_documents']:>8}  {s['unsafe_documents']:>8}  {100 * s['unsafe_share']:>7.2f}%  {verdict}")
    click.echo("\nchecks:")
    colours = {"pass": "green", "fail": "red", "not-assessed": "yellow"}
    for check in report["checks"]:
        offending = f"  ({listed(check['offending'])})" if check["status"] == "fail" and check["offending"] else ""
        click.echo(f"  {check['id']:<22} {click.style(check['status'], fg=colours[check['status']])}{offending}")
    for error in report["errors"]:
        reason = error["reason"]  # most reasons already start with the file's path or name
        shown = reason if reason.startswith((error["shard"], "/")) or error["shard"] in reason.split(": ", 1)[0] else f"{error['shard']}: {reason}"
        click.echo(click.style(f"error: {shown}", fg="red"), err=True)
    if t["rejected_documents"]:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(report["rejected"].items()))
        click.echo(click.style(f"warning: {t['rejected_documents']} rows rejected ({reasons})", fg="yellow"), err=True)
    skipped = report.get("skipped", [])
    if skipped:
        files = listed([f"{s['path']} ({s['reason'].split(' (')[0]})" for s in skipped])
        click.echo(click.style(f"warning: {len(skipped)} files skipped in the input folders, not shards: {files}", fg="yellow"), err=True)


def listed(items: list[str], limit: int = 5) -> str:
    """The first ``limit`` items, comma-separated, and how many more there are: a cut list says so."""
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def finish(report: dict, out: str, *, fail_on_check: bool, strict: bool = False) -> None:
    """Print the summary, then exit: check failures (with --fail-on-check) first, then rejections."""
    print_summary(report)
    click.echo(f"\nwrote {OutputFolder(out).uri('report.json')}, report.md and report.html")
    exit_if_checks_failed(report["checks"], fail_on_check=fail_on_check)
    unscanned = sum(NOT_SCANNED_YET in e["reason"] for e in report["errors"])
    exit_if_incomplete(report["totals"]["rejected_documents"], len(report["errors"]) - unscanned, strict=strict, unscanned=unscanned)


def exit_if_checks_failed(checks: list[dict], *, fail_on_check: bool) -> None:
    """With ``--fail-on-check``, name the failed checks and exit 3."""
    failed = [c["id"] for c in checks if c["status"] == "fail"]
    if fail_on_check and failed:
        click.echo(click.style(f"checks failed: {', '.join(failed)}", fg="red", bold=True), err=True)
        sys.exit(EXIT_CHECK_FAILED)


def exit_if_incomplete(rejected: int, errors: int, *, strict: bool, unscanned: int = 0) -> None:
    """Exit 4 (``--strict``) or 5 when rows were rejected, shards failed or planned units are not scanned yet."""
    if rejected or errors or unscanned:
        waiting = f", {unscanned} planned units not scanned yet (run the scan again)" if unscanned else ""
        click.echo(click.style(f"incomplete: {rejected} rows rejected, {errors} shards failed{waiting}", fg="red" if strict else "yellow", bold=strict), err=True)
        sys.exit(EXIT_STRICT if strict else EXIT_REJECTED)


def _config_keys(command: click.Command) -> dict[str, tuple[str, bool]]:
    """Config-file key -> (parameter name, negate): every long option name, with or without dashes
    (``--no-progress`` as ``no-progress``; ``progress = false`` too), and argument names (``inputs``)."""
    keys: dict[str, tuple[str, bool]] = {}
    for param in command.params:
        if isinstance(param, click.Argument):
            keys[param.name] = (param.name, False)
            continue
        for names, negate in ((param.opts, False), (param.secondary_opts, True)):
            for opt in names:
                if opt.startswith("--"):
                    keys[opt[2:]] = (param.name, negate)
    return keys


def _checked_type(path: Path, key: str, param: click.Parameter, value: Any, ctx: click.Context) -> None:
    """A value of the wrong type for its option is a ``ConfigError`` naming the file and key (click's
    own message, raised later from ``default_map``, names only the option)."""
    try:
        param.type_cast_value(ctx, value)
    except click.BadParameter as e:
        msg = f"{path}: {key} = {value!r}: {e.message}"
        raise ConfigError(msg) from None


def read_command_config(path: Path, ctx: click.Context) -> dict[str, Any]:
    """A TOML file of a command's options, keyed by their long names (``out = "OUT"``, ``workers = 4``,
    ``lexicon = ["a.tsv"]``), as click's ``default_map``: options given on the command line override it.
    Relative paths are read from the working directory, as on the command line.
    An unknown key or a value of the wrong type is a ``ConfigError`` naming the file and the key (and
    the closest known key)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        msg = f"{path}: cannot read the config file ({e})"
        raise ConfigError(msg) from e
    document = parse_toml(text, str(path))
    command = ctx.command
    keys = _config_keys(command)
    many = {param.name for param in command.params if getattr(param, "multiple", False) or param.nargs == -1}
    refuse_unknown_keys((k.replace("_", "-") for k in document), [k for k in keys if k != "config"], str(path))
    values: dict[str, Any] = {}
    for key, value in document.items():
        name, negate = keys[key.replace("_", "-")]
        if negate:
            if not isinstance(value, bool):
                msg = f"{path}: {key} must be true or false, not {value!r}"
                raise ConfigError(msg)
            value = not value
        values[name] = [value] if name in many and isinstance(value, str) else value
        _checked_type(path, key, next(p for p in command.params if p.name == name), values[name], ctx)
    return values


def config_option(command_name: str):
    """``-c/--config FILE``: read the command's options from a TOML file first (see ``read_command_config``)."""

    def load(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
        if value is not None:
            try:
                ctx.default_map = {**(ctx.default_map or {}), **read_command_config(value, ctx)}
            except ConfigError as e:
                raise click.UsageError(str(e)) from e

    return click.option(
        "-c",
        "--config",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        is_eager=True,
        expose_value=False,
        callback=load,
        help=f"A TOML file of `scanner {command_name}` options keyed by their long names; flags on the command line override it.",
    )
