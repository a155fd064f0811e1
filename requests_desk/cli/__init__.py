"""``flask --app wsgi desk …``: thin wrappers over the services, one module per concern.

Every command runs in one transaction: it commits on success and rolls back on any
error, which it reports as one line on stderr with a non-zero exit.

Each command's module is imported when the command is run or listed (``LazyGroup``), not
when the app is built: a web worker never runs one, and ``import wsgi`` imported them all
(``desk demo`` its whole generator, about 45 of the 76 ms they took).
"""
from __future__ import annotations

import importlib

import click

from .common import OneLineGroup

# Each command's name, and where it is defined (module in this package, attribute).
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("setup", "init_command"),
    "create-user": ("users", "create_user_command"),
    "token": ("users", "token_command"),
    "revoke-tokens": ("users", "revoke_tokens_command"),
    "reset-2fa": ("users", "reset_two_factor_command"),
    "verify-audit": ("audit", "verify_audit_command"),
    "dispatch": ("notices", "dispatch_command"),
    "report": ("reports", "report"),
    "demo": ("demo", "demo_command"),
    "backup": ("backup", "backup_command"),
    "restore": ("backup", "restore_command"),
    "purge": ("retention", "purge_command"),
    "agencies": ("agencies", "agencies"),
    "import": ("sheets", "import_command"),
}


class LazyGroup(OneLineGroup):
    """A group whose commands are imported on first use (click's lazy loading of
    subcommands): ``COMMANDS`` names them."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            module, attribute = COMMANDS[cmd_name]
            self.add_command(getattr(importlib.import_module(f"{__name__}.{module}"), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group("desk", cls=LazyGroup)
def desk() -> None:
    """Requests Desk administration."""
