"""`followup summary`: build the ministry's follow-up summary from the shell.

followup/cli.py calls ``register(app)``; the imports of followup.cli stay inside it (cli.py
imports this module, so importing cli here at the top would be a cycle)."""

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add the ``summary`` command to the ``followup`` app."""
    from followup.cli import PlanOption, checked_engine, friendly, out, parse_date

    @app.command("summary")
    @friendly
    def summary(
        plan: PlanOption = None,
        round_id: Annotated[
            int | None, typer.Option("--round", help="The reporting round's id.")
        ] = None,
        as_of: Annotated[
            str | None,
            typer.Option(
                "--as-of",
                help="Judge deadlines on this date, YYYY-MM-DD (default: the round's as-of "
                "date; with no round, today); with no round, the status as of this date.",
            ),
        ] = None,
        language: Annotated[
            str, typer.Option("--language", help="The document's language: nb, nn or en.")
        ] = "nb",
        no_send: Annotated[
            bool, typer.Option("--no-send", help="Write the files; send nothing.")
        ] = False,
    ) -> None:
        """Write the follow-up summary (HTML, Markdown, Word, CSV, JSON) and send it to the
        plan's summary recipients (the Prefect flow build-summary)."""
        from flows.build_summary import build_summary
        from notifications.summary_strings import WORDS

        if language not in WORDS:
            raise ValueError(f"--language: {language!r} is not one of {', '.join(WORDS)}")
        when = parse_date(as_of) if as_of else None
        checked_engine()
        result = build_summary(
            plan=plan, round=round_id, as_of=when, send=not no_send, language=language
        )
        for o in result.outcomes:
            line = f"{o.state.value:9} {o.recipient} <{o.channel}>: {o.subject}"
            out.print(line + (f"  [{o.error}]" if o.error else ""), markup=False, highlight=False)
        out.print(result.summary(), markup=False, highlight=False)
        out.print(f"files in {result.folder}:", markup=False, highlight=False)
        for path in result.files:
            out.print(f"  {path}", markup=False, highlight=False)
