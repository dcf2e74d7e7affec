"""`followup up` and `followup deployments`: run everything on one machine, and write the
deployments for teams with a work pool.

followup/cli.py calls ``register(app)``; the imports of followup.cli stay inside it."""

from pathlib import Path
from typing import Annotated

import typer

DEFAULT_YAML = Path(__file__).resolve().parent.parent / "prefect.yaml"


def register(app: typer.Typer) -> None:
    """Add the ``up`` and ``deployments`` commands to the ``followup`` app."""
    from followup.cli import checked_engine, err, friendly, out

    deployments_app = typer.Typer(
        help="The Prefect deployments (flows/deployments.py).", no_args_is_help=True
    )
    app.add_typer(deployments_app, name="deployments")

    @app.command("up")
    @friendly
    def up(
        host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
        prefect_port: Annotated[
            int, typer.Option("--prefect-port", help="Port of the Prefect UI and API.")
        ] = 4200,
        web_port: Annotated[
            int, typer.Option("--web-port", help="Port of the reply web app.")
        ] = 8000,
    ) -> None:
        """Start a Prefect server, serve every deployment (with their schedules) and the
        reply web app; Ctrl-C stops them all (schedules stay active)."""
        from followup.up import Addresses, UpError, run_up

        checked_engine()
        try:
            run_up(
                Addresses(host, prefect_port, web_port),
                say=lambda line: out.print(line, markup=False, highlight=False),
            )
        except UpError as exc:
            err.print(f"error: {exc}", style="red", markup=False, highlight=False)
            raise typer.Exit(2) from None

    @deployments_app.command("list")
    def deployments_list() -> None:
        """Every deployment: name, entrypoint, schedule."""
        from flows.deployments import DEPLOYMENTS

        for spec in DEPLOYMENTS:
            when = f"{spec.cron} ({spec.timezone})" if spec.cron else "no schedule"
            out.print(f"{spec.name:22} {spec.entrypoint:42} {when}", markup=False)

    @app.command("automations")
    @friendly
    def automations() -> None:
        """Create, or bring up to date, the Prefect automation that marks a flow run Crashed
        when its heartbeats stop (its process died), on the server at PREFECT_API_URL.
        `followup up` does it itself."""
        from followup.up import UpError, apply_automations_at

        try:
            out.print(apply_automations_at(), markup=False, highlight=False)
        except UpError as exc:
            err.print(f"error: {exc}", style="red", markup=False, highlight=False)
            raise typer.Exit(2) from None

    @deployments_app.command("write-yaml")
    def write_yaml(
        output: Annotated[
            Path, typer.Option("--output", "-o", help="File to write.")
        ] = DEFAULT_YAML,
    ) -> None:
        """Write prefect.yaml from flows/deployments.py (for `prefect deploy --all`)."""
        from flows.deployments import prefect_yaml

        output.write_text(prefect_yaml(), encoding="utf-8")
        err.print(f"wrote {output}")
