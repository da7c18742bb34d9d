"""`ruong report season`: the season report (issue 17) as JSON, CSV or PDF, for the operator.

The operator sees the province (no caller scope); `--scope` narrows it. The report's "today"
is the site's clock (`[clock]`, so a demo at speed reports its own season). JSON and CSV go
to stdout or `--out`; the PDF is rendered by `backend.report.pdf.render` from the JSON with
the charts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from backend import db
from backend.clock import Clock
from backend.config import Settings
from backend.registry import RegistryError
from backend.report.seasons import check_window, season_window
from backend.store import open_store


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-01-01") from None


def _window(args: argparse.Namespace) -> tuple[dt.date, dt.date]:
    """The report's window from --season, or --from and --to; RegistryError (a user's error,
    one line) otherwise."""
    try:
        if args.season is not None:
            if args.date_from is not None or args.date_to is not None:
                raise ValueError("give --season, or --from and --to, not both")
            return season_window(args.season)
        if args.date_from is None or args.date_to is None:
            raise ValueError("give --season YYYY-spring|YYYY-summer, or both --from and --to")
        return check_window(args.date_from, args.date_to)
    except ValueError as exc:
        raise RegistryError(str(exc)) from None


def cmd_report_season(settings: Settings, args: argparse.Namespace) -> int:
    # the builder loads pandas: only when a report is asked for, not at every `ruong` start
    from backend.report.season import (
        OutOfScope,
        ReportParameters,
        ScopeError,
        build_season_report,
    )

    window = _window(args)
    parameters = ReportParameters(
        drainage_min_days=settings.report_drainage_min_days,
        gwp=args.gwp,
        timezone=settings.timezone,
        escalate_after_s=settings.alerts_escalate_after,
    )
    now = dt.datetime.fromtimestamp(Clock.of(settings).now_s(), dt.UTC)
    engine = db.open_engine(settings.registry_url)
    try:
        with open_store(settings.store) as store:
            report = build_season_report(
                engine,
                store,
                window,
                args.scope,
                None,
                parameters,
                now,
                charts=args.format == "pdf",
            )
    except (ScopeError, OutOfScope) as exc:
        raise RegistryError(str(exc)) from None
    finally:
        engine.dispose()
    if not report.fields:
        print(
            f"ruong report: no planted field of {args.scope} was transplanted between "
            f"{window[0]} and {window[1]}; nothing to report",
            file=sys.stderr,
        )
        return 1
    if args.format == "pdf":
        from backend.report import pdf  # written beside this; loads its fonts only here

        data: bytes | str = pdf.render(report.to_json(), lang=args.lang)
    elif args.format == "csv":
        data = report.to_csv()
    else:
        data = json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n"
    if args.out is not None:
        path = Path(args.out)
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8", newline="")
        print(f"wrote {path} ({len(report.fields)} fields)", file=sys.stderr)
    elif isinstance(data, bytes):
        sys.stdout.buffer.write(data)
    else:
        sys.stdout.write(data)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    report = sub.add_parser("report", help="season reports: water regime, methane, advice")
    rsub = report.add_subparsers(dest="report_command", required=True, metavar="REPORT")
    season = rsub.add_parser(
        "season", help="the season report (IPCC 2019 Tier 1 methane) of the province or a part"
    )
    season.add_argument("--season", help="YYYY-spring (vụ xuân) or YYYY-summer (vụ mùa)")
    season.add_argument("--from", dest="date_from", type=_date, help="first day (with --to)")
    season.add_argument("--to", dest="date_to", type=_date, help="last day, included")
    season.add_argument(
        "--scope",
        default="province",
        help="province (default), commune:NAME, org:NAME or field:ID|FARM/FIELD",
    )
    season.add_argument("--format", choices=["json", "csv", "pdf"], default="json")
    season.add_argument("--out", help="write to this file (default: stdout)")
    season.add_argument("--lang", choices=["vi", "en"], default="vi", help="the PDF's language")
    season.add_argument(
        "--gwp", choices=["ar6", "ar5"], default="ar6", help="GWP100 of CH4: AR6 27, AR5 28"
    )
    season.set_defaults(func=cmd_report_season)
