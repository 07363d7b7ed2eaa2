"""MAPPA nominals: registering one, the dated changes to how they stand, and reading one
with its history, meetings and the disclosures they agreed."""

from __future__ import annotations

from datetime import UTC

import msgspec
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from disclosure import audit, seals
from disclosure.errors import InvalidInput, NotFound, StaleVersion
from disclosure.mapp import meetings
from disclosure.mapp.schemas import (
    STANDING_EVENTS,
    NewNominal,
    NominalEvent,
    NominalView,
    Standing,
)
from disclosure.mapp.trail import LAST_CHANGE, NOMINAL_EVENTS, NOMINALS, append, lock
from disclosure.workflow import Workflow


class Nominals:
    """The service every edge calls to register nominals, change them and read them."""

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self.db = workflow.db

    @property
    def policy_code(self) -> str:
        return self.workflow.policy.mapp_review.code

    async def register(self, new: NewNominal, *, actor: str) -> NominalView:
        now = self.workflow.now()
        at = now if new.managed_from is None else new.managed_from.astimezone(UTC)
        if at > now:
            raise InvalidInput("managed_from", "is in the future")
        fields = msgspec.structs.asdict(new)
        del fields["managed_from"]
        try:
            async with self.db.write() as session, session.begin():
                conn = await session.connection()
                sealer = seals.Sealer(conn, self.db.keys)
                row = (await sealer.write(insert(NOMINALS), fields | {
                    "created_at": now, "created_by": actor, "updated_at": now, "version": 0,
                    "last_event_hash": audit.GENESIS,
                }))[0]
                # Sealed before the registration moves it on: a change checks the seal first.
                await sealer.flush()
                await append(
                    sealer, row, event="register", at=at, now=now, actor=actor,
                    payload=msgspec.to_builtins(new), policy_version=self.policy_code,
                )
                await sealer.flush()
        except IntegrityError:
            raise InvalidInput(
                "reference", f"{new.reference!r} is already a nominal of {new.area}"
            ) from None
        return await self.get(row.id)

    async def change(
        self, nominal_id: int, payload: NominalEvent, *, actor: str, expected_version: int,
        area: str | None = None,
    ) -> NominalView:
        """A dated change of category, level, location or risk: not before the nominal's last
        change (the trail is in the order things took effect) and not in the future."""
        event = str(type(payload).__struct_config__.tag)
        column = STANDING_EVENTS[event]
        value = getattr(payload, column)
        at = payload.effective_at.astimezone(UTC)
        async with self.db.write() as session, session.begin():
            conn = await session.connection()
            nominal = await lock(conn, nominal_id, area)
            if nominal.version != expected_version:
                raise StaleVersion(f"nominal {nominal_id}", expected_version, nominal.version)
            now = self.workflow.now()
            if at > now:
                raise InvalidInput("effective_at", "is in the future")
            last = await conn.scalar(
                LAST_CHANGE.where(NOMINAL_EVENTS.c.nominal_id == nominal_id)
            )
            if last is not None and at < last:
                raise InvalidInput(
                    "effective_at", f"is before the nominal's last change ({last.isoformat()})"
                )
            if getattr(nominal, column) == value:
                raise InvalidInput(column, f"the nominal's {column} is {value} already")
            sealer = seals.Sealer(conn, self.db.keys)
            stored = msgspec.to_builtins(payload) | {"was": getattr(nominal, column)}
            await append(
                sealer, nominal, event=event, at=at, now=now, actor=actor, payload=stored,
                policy_version=self.policy_code, standing={column: value},
            )
            await sealer.flush()
        return await self.get(nominal_id)

    async def get(self, nominal_id: int, *, area: str | None = None) -> NominalView:
        """A nominal with its history, meetings and the disclosures they agreed."""
        async with self.db.read() as session:
            conn = await session.connection()
            nominal = (await conn.execute(
                select(NOMINALS).where(NOMINALS.c.id == nominal_id)
            )).first()
            if nominal is None or (area is not None and nominal.area != area):
                raise NotFound(str(nominal_id), "nominal")
            history = (await conn.execute(
                select(NOMINAL_EVENTS).where(
                    NOMINAL_EVENTS.c.nominal_id == nominal_id,
                    NOMINAL_EVENTS.c.event.in_(tuple(STANDING_EVENTS)),
                ).order_by(NOMINAL_EVENTS.c.seq)
            )).all()
            held = await meetings.of_nominal(conn, nominal, now=self.workflow.now())
            disclosures = await meetings.disclosures(
                conn, [m.id for m in held], now=self.workflow.now()
            )
        latest = held[-1] if held else None
        return NominalView(
            id=nominal.id, area=nominal.area, reference=nominal.reference, name=nominal.name,
            category=nominal.category, level=nominal.level, lead_agency=nominal.lead_agency,
            rosh=nominal.rosh, location=nominal.location, version=nominal.version,
            created_at=nominal.created_at, created_by=nominal.created_by,
            review_due_at=latest.review_due_at if latest else None,
            review_overdue=latest.review_overdue if latest else False,
            history=[
                Standing(
                    seq=e.seq, event=e.event, effective_at=e.occurred_at, category=e.category,
                    level=e.level, location=e.location, rosh=e.rosh, meeting_id=e.meeting_id,
                    actor=e.actor, recorded_at=e.recorded_at,
                )
                for e in history
            ],
            meetings=held,
            disclosures=disclosures,
        )
