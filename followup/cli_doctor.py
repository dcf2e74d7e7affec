"""`followup doctor`: check the installation, one line per check.

followup/cli.py calls ``register(app)``; the imports of followup.cli stay inside it."""

import typer


def register(app: typer.Typer) -> None:
    """Add the ``doctor`` command to the ``followup`` app."""
    from followup.cli import out

    @app.command("doctor")
    def doctor() -> None:
        """Check the settings, the database and its migrations, the Prefect API and every
        contact's channel; exit status 1 when something is wrong."""
        from followup.doctor import run_checks

        checks = run_checks()
        for check in checks:
            out.print(check.line(), markup=False, highlight=False)
        if not all(check.ok for check in checks):
            raise typer.Exit(1)
