"""This deployment's identity: a random id kept in its database, named by every task it sends."""

from __future__ import annotations

import uuid

from sqlalchemy import exc, select
from sqlalchemy.orm import Session

from anyseek.db.models import Deployment

ROW = 1  # the table holds one row


def installation_id(session: Session) -> str:
    """The deployment's id, made (a random UUID) on first use; two processes making it at once
    agree on the one committed first."""
    found = session.scalar(select(Deployment.installation_id).where(Deployment.id == ROW))
    if found is not None:
        return found
    try:
        with session.begin_nested():
            session.add(Deployment(id=ROW, installation_id=uuid.uuid4().hex))
    except exc.IntegrityError:  # another process made it first: theirs holds
        pass
    return session.scalar(select(Deployment.installation_id).where(Deployment.id == ROW))
