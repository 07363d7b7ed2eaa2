"""The one way to change a request: load, bind the lifecycle, send, record, audit, commit."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import Row, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from disclosure import audit, clocks, timeliness
from disclosure.db import Database
from disclosure.errors import IdempotencyMismatch, InvalidInput, NotFound, StaleVersion
from disclosure.models import (
    Check,
    Decision,
    Delivery,
    Event,
    Extension,
    Notice,
    PartnerRequest,
    Party,
    ReferenceCounter,
    Request,
)
from disclosure.outcomes import outcome_of
from disclosure.policy import PolicySettings, Stage
from disclosure.references import request_id
from disclosure.schemas import (
    PAYLOADS,
    Action,
    Actions,
    ClockView,
    CompleteInitialChecks,
    EventIn,
    EventView,
    ExtendDeadline,
    NewRequest,
    PartyView,
    RecordCheck,
    RecordDecision,
    RecordDelivery,
    RecordNotice,
    RecordPartnerRequest,
    RecordPartnerResponse,
    RequestPage,
    RequestSummary,
    RequestView,
    Transitioned,
)
from statemachines.lifecycle import Facts, allowed_events, fire

Clock = Callable[[], datetime]
# The latest decision's recipient, wording and no-disclosure reason.
LatestDecision = Row[int | None, str | None, str | None]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Filters(msgspec.Struct, kw_only=True):
    state: str | None = None
    scheme: str | None = None
    route: str | None = None
    area: str | None = None
    overdue: bool | None = None
    queue: timeliness.Queue | None = None
    stage: Stage | None = None


def _encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(str(last_id).encode()).decode()


MAX_ID = 2**62


def _decode_cursor(cursor: str) -> int:
    try:
        last_id = int(base64.urlsafe_b64decode(cursor.encode()).decode())
        if not 0 < last_id < MAX_ID:
            raise ValueError(cursor)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("cursor", "not a cursor this service issued") from exc
    return last_id


class Workflow:
    """The service every edge (API, pages, CLI, importer) calls to read and change requests."""

    def __init__(self, db: Database, policy: PolicySettings, *, now: Clock = utcnow) -> None:
        self.db = db
        self.policy = policy
        self.now = now

    # Receiving ---------------------------------------------------------------------------

    async def create(
        self, new: NewRequest, *, actor: str, idempotency_key: str | None = None
    ) -> RequestView:
        """Receive a request; the same Idempotency-Key and body give back the same request."""
        body = msgspec.json.encode(new, order="sorted")
        digest = hashlib.sha256(body).hexdigest()
        key = f"{actor}:{idempotency_key}" if idempotency_key else None
        if key is not None:
            existing = await self._by_idempotency_key(key, digest)
            if existing is not None:
                return existing
        try:
            async with self.db.write() as session, session.begin():
                request, parties = await self._receive(
                    session, new, actor=actor, key=key, digest=digest
                )
        except IntegrityError:
            if key is not None and (existing := await self._by_idempotency_key(key, digest)):
                return existing
            raise
        return self._view(request, parties)

    async def _by_idempotency_key(self, key: str, digest: str) -> RequestView | None:
        async with self.db.read() as session:
            found = (
                await session.execute(
                    select(Request.reference, Request.idempotency_digest).where(
                        Request.idempotency_key == key
                    )
                )
            ).first()
        if found is None:
            return None
        if found.idempotency_digest != digest:
            raise IdempotencyMismatch()
        return await self.get(found.reference)

    async def _receive(
        self, session: AsyncSession, new: NewRequest, *, actor: str, key: str | None, digest: str
    ) -> tuple[Request, list[Party]]:
        now = self.now()
        received_at = new.received_at.astimezone(UTC)
        if received_at > now:
            raise InvalidInput("received_at", "is in the future")
        policy = self.policy.book.version_for(new.scheme, received_at)
        clock = timeliness.receipt_clock(self.policy, code=policy.code, received_at=received_at)
        reference = await self._next_reference(session, new.scheme, received_at.year)
        request = Request(
            reference=reference,
            scheme=new.scheme,
            route=new.route,
            area=new.area,
            division=new.division,
            channel=new.channel,
            summary=new.summary,
            state="received",
            outcome=None,
            immediate_risk=new.immediate_risk,
            policy_version=policy.code,
            received_at=received_at,
            due_at=clock.overall.due_at if clock.overall else None,
            stage_due_at=timeliness.stage_due_at(clock, "received"),
            closed_at=None,
            created_at=now,
            updated_at=now,
            created_by=actor,
            version=0,
            last_event_hash=audit.GENESIS,
            idempotency_key=key,
            idempotency_digest=digest if key else None,
        )
        # Chained before the insert, so the row goes in with its version and hash and needs no
        # UPDATE; the event only lacks the request's id, known after the flush.
        received = self._append(
            request, event="receive", from_state=None, actor=actor, at=now,
            payload=msgspec.to_builtins(new),
        )
        session.add(request)
        await session.flush()
        received.request_id = request.id
        parties = [
            Party(
                request_id=request.id,
                role=p.role,
                name=p.name,
                date_of_birth=p.date_of_birth,
                address=p.address,
                relationship=p.relationship,
                sex=p.sex,
                age_band=p.age_band,
                ethnicity=p.ethnicity,
                safe_contact=msgspec.to_builtins(p.safe_contact) if p.safe_contact else None,
            )
            for p in new.parties
        ]
        session.add_all([*parties, received])
        return request, parties

    async def _next_reference(self, session: AsyncSession, scheme: str, year: int) -> str:
        insert = postgresql.insert if self.db.dialect == "postgresql" else sqlite.insert
        statement = (
            insert(ReferenceCounter)
            .values(scheme=scheme, year=year, last=1)
            .on_conflict_do_update(
                index_elements=["scheme", "year"], set_={"last": ReferenceCounter.last + 1}
            )
            .returning(ReferenceCounter.last)
        )
        number = (await session.execute(statement)).scalar_one()
        return f"{scheme.upper()}-{year}-{number:06d}"

    # Changing ----------------------------------------------------------------------------

    async def apply(
        self,
        reference: str,
        payload: EventIn,
        *,
        actor: str,
        expected_version: int,
        area: str | None = None,
    ) -> Transitioned:
        """Send one event to a request; everything it writes commits together or not at all."""
        event = type(payload).__struct_config__.tag
        assert isinstance(event, str)
        async with self.db.write() as session, session.begin():
            request = await self._lock(session, reference)
            if area is not None and request.area != area:
                raise NotFound(reference)
            if request.version != expected_version:
                raise StaleVersion(reference, expected_version, request.version)
            facts, decision = await self._facts(session, request, event, actor)
            route: Any = request.route
            from_state = request.state
            to_state = fire(route, from_state, event, payload=payload, facts=facts)
            now = self.now()
            recorded = await self._record(
                session, request, payload, actor=actor, at=now, decision=decision
            )
            if to_state == "closed":
                request.outcome = outcome_of(
                    payload,
                    recipient_role=facts.parties.get(getattr(payload, "recipient_party_id", 0)),
                    no_disclosure_reason=decision.no_disclosure_reason if decision else None,
                )
                request.closed_at = now
            elif from_state == "closed":
                request.outcome = None
                request.closed_at = None
            request.state = to_state
            session.add(self._append(
                request, event=event, from_state=from_state, actor=actor, at=now,
                payload=msgspec.to_builtins(payload) | recorded,
            ))
            clock = await timeliness.request_clock(session, request, self.policy)
            request.due_at = clock.overall.due_at if clock.overall else None
            request.stage_due_at = timeliness.stage_due_at(clock, to_state)
            return Transitioned(
                reference=reference,
                event=event,
                from_state=from_state,
                state=to_state,
                outcome=request.outcome,
                version=request.version,
            )

    async def _lock(self, session: AsyncSession, reference: str) -> Request:
        request = await session.scalar(
            select(Request).where(Request.reference == reference).with_for_update()
        )
        if request is None:
            raise NotFound(reference)
        return request

    async def _facts(
        self, session: AsyncSession, request: Request, event: str, actor: str
    ) -> tuple[Facts, LatestDecision | None]:
        """Gather only what the guards of this event look at, and the latest decision for the
        events that report on it (a delivery's wording, a notice's no-disclosure reason)."""
        rid = request.id
        if event == "complete_checks":
            count = await session.scalar(select(func.count()).where(Check.request_id == rid))
            return Facts(actor=actor, checks_recorded=count or 0), None
        if event == "record_decision":
            completed_by = await session.scalar(
                select(Event.actor)
                .where(Event.request_id == rid, Event.event == "complete_checks")
                .order_by(Event.seq.desc())
                .limit(1)
            )
            return Facts(
                actor=actor, parties=await self._parties(session, rid),
                checks_completed_by=completed_by,
            ), None
        if event == "record_delivery":
            decision = await self._latest_decision(session, rid)
            return Facts(
                actor=actor, parties=await self._parties(session, rid),
                decision_recipient=decision.recipient_party_id if decision else None,
            ), decision
        if event == "record_notice":
            return Facts(actor=actor), await self._latest_decision(session, rid)
        if event == "record_partner_response":
            open_ids = await session.scalars(
                select(PartnerRequest.id).where(
                    PartnerRequest.request_id == rid, PartnerRequest.responded_at.is_(None)
                )
            )
            return Facts(actor=actor, open_partner_requests=frozenset(open_ids)), None
        return Facts(actor=actor), None

    async def _parties(self, session: AsyncSession, rid: int) -> dict[int, str]:
        rows = await session.execute(select(Party.id, Party.role).where(Party.request_id == rid))
        return {party_id: role for party_id, role in rows}

    async def _latest_decision(self, session: AsyncSession, rid: int) -> LatestDecision | None:
        return (
            await session.execute(
                select(
                    Decision.recipient_party_id, Decision.wording, Decision.no_disclosure_reason
                )
                .where(Decision.request_id == rid)
                .order_by(Decision.id.desc())
                .limit(1)
            )
        ).first()

    async def _record(
        self,
        session: AsyncSession,
        request: Request,
        payload: EventIn,
        *,
        actor: str,
        at: datetime,
        decision: LatestDecision | None,
    ) -> dict[str, Any]:
        """Write the stage record an event carries, if any; return what the trail adds to it.

        `decision` is the latest decision, read by `_facts` for the events that need it.
        """
        rid = request.id
        match payload:
            case CompleteInitialChecks():
                request.immediate_risk = payload.immediate_risk
            case RecordCheck():
                session.add(Check(
                    request_id=rid, source=payload.source,
                    information_held=payload.information_held, summary=payload.summary,
                    checked_at=payload.checked_at, recorded_by=actor,
                ))
            case RecordPartnerRequest():
                session.add(PartnerRequest(
                    request_id=rid, agency=payload.agency, asked=payload.asked,
                    asked_at=payload.asked_at, due_at=payload.due_at,
                ))
            case RecordPartnerResponse():
                await session.execute(
                    update(PartnerRequest)
                    .where(PartnerRequest.id == payload.partner_request_id)
                    .values(
                        responded_at=payload.responded_at,
                        information_held=payload.information_held,
                        response=payload.response,
                    )
                )
            case RecordDecision():
                fields = msgspec.structs.asdict(payload)
                fields["legal_test"] = msgspec.to_builtins(payload.legal_test)
                fields["attendees"] = msgspec.to_builtins(payload.attendees)
                session.add(Decision(request_id=rid, recorded_by=actor, **fields))
            case RecordDelivery():
                wording = decision.wording if decision else None
                session.add(Delivery(
                    request_id=rid,
                    matches_approved_wording=_same_words(payload.words_used, wording),
                    recorded_by=actor,
                    **msgspec.structs.asdict(payload),
                ))
            case RecordNotice():
                session.add(Notice(
                    request_id=rid, recorded_by=actor, **msgspec.structs.asdict(payload)
                ))
            case ExtendDeadline():
                clock = await timeliness.request_clock(session, request, self.policy)
                extension = clocks.Extension(payload.days, payload.category, payload.reason, at)
                extended = timeliness.extend(clock, extension, self.policy)
                old, new = clock.overall.due_at if clock.overall else None, extended.due_at
                session.add(Extension(
                    request_id=rid, days=payload.days, category=payload.category,
                    reason=payload.reason, granted_at=at, old_due_at=old, new_due_at=new,
                    granted_by=actor,
                ))
                return {"old_due_at": msgspec.to_builtins(old),
                        "new_due_at": msgspec.to_builtins(new)}
            case _:
                pass
        return {}

    def _append(
        self,
        request: Request,
        *,
        event: str,
        from_state: str | None,
        actor: str,
        at: datetime,
        payload: dict[str, Any],
    ) -> Event:
        """Chain an event onto the request's trail and bump its version; the caller adds it."""
        salt = audit.new_salt()
        digest = audit.payload_digest(payload, salt)
        seq = request.version + 1
        to_state = request.state
        link = audit.link_hash(
            prev_hash=request.last_event_hash, reference=request.reference, seq=seq, event=event,
            from_state=from_state, to_state=to_state, actor=actor, occurred_at=at,
            policy_version=request.policy_version, digest=digest,
        )
        event_row = Event(
            request_id=request.id, seq=seq, event=event, from_state=from_state,
            to_state=to_state, actor=actor, occurred_at=at,
            policy_version=request.policy_version, payload=payload, payload_salt=salt,
            payload_digest=digest, prev_hash=request.last_event_hash, hash=link,
        )
        request.version = seq
        request.last_event_hash = link
        request.updated_at = at
        return event_row

    # Reading -----------------------------------------------------------------------------

    async def get(self, reference: str, *, area: str | None = None) -> RequestView:
        """One request; with `area`, a request of another area is not found."""
        async with self.db.read() as session:
            request = await session.scalar(select(Request).where(Request.reference == reference))
            if request is None or (area is not None and request.area != area):
                raise NotFound(reference)
            parties = (
                await session.scalars(
                    select(Party).where(Party.request_id == request.id).order_by(Party.id)
                )
            ).all()
        return self._view(request, parties)

    def _view(self, request: Request, parties: Sequence[Party]) -> RequestView:
        return RequestView(
            reference=request.reference,
            scheme=request.scheme,
            route=request.route,
            area=request.area,
            division=request.division,
            channel=request.channel,
            summary=request.summary,
            state=request.state,
            outcome=request.outcome,
            immediate_risk=request.immediate_risk,
            policy_version=request.policy_version,
            received_at=request.received_at,
            due_at=request.due_at,
            stage=timeliness.STAGE_OF_STATE.get(request.state),
            stage_due_at=request.stage_due_at,
            closed_at=request.closed_at,
            overdue=self._overdue(request.state, request.due_at),
            version=request.version,
            parties=[
                PartyView(
                    id=p.id, role=p.role, name=p.name, date_of_birth=p.date_of_birth,
                    address=p.address, relationship=p.relationship, sex=p.sex,
                    age_band=p.age_band, ethnicity=p.ethnicity, safe_contact=p.safe_contact,
                )
                for p in parties
            ],
        )

    def _overdue(self, state: str, due_at: datetime | None) -> bool:
        return state != "closed" and due_at is not None and due_at < self.now()

    async def clock(self, reference: str, *, area: str | None = None) -> ClockView:
        """Every due date of a request, each with its inputs and explanation."""
        async with self.db.read() as session:
            request = await session.scalar(select(Request).where(Request.reference == reference))
            if request is None or (area is not None and request.area != area):
                raise NotFound(reference)
            clock = await timeliness.request_clock(session, request, self.policy)
        return timeliness.clock_view(request, clock, self.policy, self.now())

    async def events(self, reference: str, *, area: str | None = None) -> list[EventView]:
        async with self.db.read() as session:
            rid = await request_id(session, reference, area=area)
            rows = (
                await session.scalars(
                    select(Event).where(Event.request_id == rid).order_by(Event.seq)
                )
            ).all()
        return [
            EventView(
                seq=e.seq, event=e.event, from_state=e.from_state, to_state=e.to_state,
                actor=e.actor, occurred_at=e.occurred_at, policy_version=e.policy_version,
                payload=e.payload, hash=e.hash,
            )
            for e in rows
        ]

    async def actions(self, reference: str, *, area: str | None = None) -> Actions:
        query = select(Request.route, Request.state, Request.version).where(
            Request.reference == reference
        )
        if area is not None:
            query = query.where(Request.area == area)
        async with self.db.read() as session:
            row = (await session.execute(query)).first()
        if row is None:
            raise NotFound(reference)
        return Actions(
            reference=reference,
            state=row.state,
            version=row.version,
            actions=[
                Action(event=e, payload_schema=PAYLOADS[e].__name__)
                for e in allowed_events(row.route, row.state)
            ],
        )

    async def search(
        self, filters: Filters, *, limit: int, cursor: str | None, area: str | None = None
    ) -> RequestPage:
        """Newest first; a queue or a stage lists open requests in order of urgency instead.

        With `area`, only that area's requests.
        """
        query = select(Request).limit(limit + 1)
        if area is not None:
            query = query.where(Request.area == area)
        queued = filters.queue is not None or filters.stage is not None
        if queued:
            query = timeliness.queue(
                query, queue=filters.queue, stage=filters.stage, now=self.now(),
                policy=self.policy, cursor=cursor,
            )
        else:
            query = query.order_by(Request.id.desc())
        for name in ("state", "scheme", "route", "area"):
            value = getattr(filters, name)
            if value is not None:
                query = query.where(getattr(Request, name) == value)
        if filters.overdue is not None:
            late = (Request.state != "closed") & (Request.due_at < self.now())
            query = query.where(late if filters.overdue else ~late)
        if cursor is not None and not queued:
            query = query.where(Request.id < _decode_cursor(cursor))
        async with self.db.read() as session:
            rows = (await session.scalars(query)).all()
        more = len(rows) > limit
        rows = rows[:limit]
        return RequestPage(
            items=[
                RequestSummary(
                    reference=r.reference, scheme=r.scheme, route=r.route, area=r.area,
                    division=r.division, state=r.state, outcome=r.outcome,
                    immediate_risk=r.immediate_risk, received_at=r.received_at, due_at=r.due_at,
                    stage=timeliness.STAGE_OF_STATE.get(r.state), stage_due_at=r.stage_due_at,
                    overdue=self._overdue(r.state, r.due_at), version=r.version,
                )
                for r in rows
            ],
            next_cursor=(
                (timeliness.next_cursor(rows[-1], filters.stage) if queued
                 else _encode_cursor(rows[-1].id))
                if more and rows else None
            ),
        )



def _same_words(used: str, approved: str | None) -> bool:
    """Whether the words used are the approved wording, ignoring spacing and case."""
    def norm(text: str) -> str:
        return " ".join(text.lower().split())

    return approved is not None and norm(used) == norm(approved)
