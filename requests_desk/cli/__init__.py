"""``flask --app wsgi desk …``: thin wrappers over the services, one module per concern.

Every command runs in one transaction: it commits on success and rolls back on any
error, which it reports as one line on stderr with a non-zero exit.
"""
from __future__ import annotations

import click

from .agencies import agencies
from .audit import verify_audit_command
from .backup import backup_command, restore_command
from .common import OneLineGroup
from .demo import demo_command
from .notices import dispatch_command
from .reports import report
from .retention import purge_command
from .setup import init_command
from .sheets import import_command
from .users import create_user_command, reset_two_factor_command, revoke_tokens_command, token_command


@click.group("desk", cls=OneLineGroup)
def desk() -> None:
    """Requests Desk administration."""


for _command in (init_command, create_user_command, token_command, revoke_tokens_command, reset_two_factor_command,
                 verify_audit_command, dispatch_command, report, demo_command, backup_command, restore_command,
                 purge_command, agencies, import_command):
    desk.add_command(_command)
