"""The one way to change a request: load, bind the lifecycle, send, record, audit, commit."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import cache
from typing import Any, NamedTuple, TypeVar

import msgspec
from sqlalchemy import Select, and_, bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from disclosure import audit, clocks, cursors, reads, stage_records, statistics, timeliness
from disclosure.access import AUTHORISES_ERASURE, SYSTEM_EVENTS, may_send_some
from disclosure.alerts import repeats
from disclosure.db import Database
from disclosure.errors import IdempotencyMismatch, InvalidInput, NotFound, StaleVersion
from disclosure.models import OPEN, Closure, Event, Party, Request
from disclosure.outcomes import decided_outcome, outcome_of
from disclosure.policy import NoPolicy, PolicySettings, Stage
from disclosure.reads import Visit
from disclosure.recipients import eligibility
from disclosure.records import (
    CHECKS,
    CLOSURE_TIMES,
    CLOSURES,
    DECISION_RECIPIENTS,
    DECISIONS,
    EVENTS,
    PARTIES,
    PARTNER_REQUESTS,
    REQUESTS,
    STAGE_TIMES,
    TABLES,
    LatestDecision,
    Locked,
    Records,
    SqlRecords,
)
from disclosure.references import request_id
from disclosure.schemas import (
    DUE_DATES,
    PAYLOADS,
    Action,
    Actions,
    AddParty,
    AmendParty,
    ClockView,
    ClosureView,
    CompleteChecks,
    CompleteInitialChecks,
    ContinueAsRightToKnow,
    EventIn,
    EventView,
    ExtendDeadline,
    NewRequest,
    PartyIn,
    PartyView,
    RecomputeClock,
    RecordCheck,
    RecordDecision,
    RecordDelivery,
    RecordNonDelivery,
    RecordNotice,
    RecordPanelDecision,
    RecordPartnerRequest,
    RecordPartnerResponse,
    RecordSubjectTold,
    Reopen,
    RequestPage,
    RequestSummary,
    RequestView,
    TakeImmediateAction,
    Transitioned,
    Withdraw,
)
from disclosure.search import duplicates, links
from disclosure.search.matching import FindingPolicy
from statemachines.lifecycle import (
    PREPARING,
    EventNotAllowed,
    Facts,
    PartyFacts,
    allowed_events,
    fire,
    same_words,
)

Clock = Callable[[], datetime]

DELIVERIES = TABLES["deliveries"]
SUBJECT_TOLD = TABLES["subject_told"]
NOTICES = TABLES["notices"]
EXTENSIONS = TABLES["extensions"]

def utcnow() -> datetime:
    return datetime.now(UTC)


class Related(NamedTuple):
    possible_duplicates: duplicates.Found
    links: list[links.LinkView]
    alerts: list[repeats.AlertBrief]


class Filters(msgspec.Struct, kw_only=True):
    state: str | None = None
    scheme: str | None = None
    route: str | None = None
    area: str | None = None
    overdue: bool | None = None
    queue: timeliness.Queue | None = None
    stage: Stage | None = None
    division: str | None = None
    # Open requests by urgency (immediate risk, then the soonest due), as a queue is ordered.
    by_urgency: bool = False

    @property
    def queued(self) -> bool:
        return self.queue is not None or self.stage is not None or self.by_urgency


class Workflow:
    """The service every edge (API, pages, CLI, importer) calls to read and change requests.

    Receiving (`receive`) and changing (`transition`) a request are written once, against
    `Records`: `create` and `apply` run them on the database one change at a time;
    `disclosure.batch` runs them in memory for many new requests and writes them at once.
    """

    def __init__(
        self,
        db: Database,
        policy: PolicySettings,
        *,
        now: Clock = utcnow,
        finding: FindingPolicy | None = None,
    ) -> None:
        self.db = db
        self.policy = policy
        self.now = now
        self.finding = finding or FindingPolicy()

    def records(self, conn: AsyncConnection) -> SqlRecords:
        """The records in the database, on a write transaction's connection."""
        return SqlRecords(conn, self.db, self.policy, self.finding)

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
                # Core statements on the transaction's connection, as in `apply`.
                conn = await session.connection()
                columns, parties = await self.receive(
                    self.records(conn), new, actor=actor, key=key, digest=digest
                )
                request = Request(**columns)
                related = await self._related(conn, request, parties)
        except IntegrityError:
            if key is not None and (existing := await self._by_idempotency_key(key, digest)):
                return existing
            raise
        return self._view(request, parties, related)

    async def receive_within(
        self, session: AsyncSession, new: NewRequest, *, actor: str
    ) -> Request:
        """Receive a request inside the caller's transaction: a review that starts one."""
        columns, _ = await self.receive(
            self.records(await session.connection()), new, actor=actor
        )
        return Request(**columns)

    async def receive_decided(
        self,
        conn: AsyncConnection,
        new: NewRequest,
        decide: Callable[[Sequence[PartyView]], RecordPanelDecision],
        *,
        actor: str,
        meeting_id: int,
    ) -> Transitioned:
        """Receive a right-to-know request a MAPP meeting decided, inside the caller's
        transaction: its receipt, then the meeting's decision sent to it as any event is, so it
        starts awaiting delivery. `decide` names the recipients by the parties as written."""
        records = self.records(conn)
        request, parties = await self.receive(records, new, actor=actor, meeting_id=meeting_id)
        return await self.transition(
            records, request["reference"], decide(parties), actor=actor, expected_version=1
        )

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

    async def receive(
        self,
        records: Records,
        new: NewRequest,
        *,
        actor: str,
        key: str | None = None,
        digest: str | None = None,
        continued_from: Locked | None = None,
        meeting_id: int | None = None,
    ) -> tuple[dict[str, Any], list[PartyView]]:
        """Write a request, its parties and its receipt on the trail, each row sealed; the
        request's columns and its parties. `continued_from` is the right-to-ask request it
        carries on, if any, and `meeting_id` the MAPP meeting that agreed it."""
        now = self.now()
        received_at = new.received_at.astimezone(UTC)
        if received_at > now:
            raise InvalidInput("received_at", "is in the future")
        try:
            policy = self.policy.book.version_for(new.scheme, received_at)
        except NoPolicy as refused:
            raise InvalidInput("received_at", str(refused)) from None
        clock = timeliness.receipt_clock(
            self.policy, code=policy.code, route=new.route, received_at=received_at
        )
        if new.division is not None:
            await _check_division(records, new.area, new.division)
        reference = await records.next_reference(new.scheme, received_at.year)
        trail = msgspec.to_builtins(new)
        if continued_from is not None:
            trail["continued_from"] = continued_from.reference
        if meeting_id is not None:
            trail["meeting_id"] = meeting_id
        # Chained before the insert, so the row goes in with its version and hash and needs no
        # UPDATE; the event only lacks the request's id, known after the insert.
        link = audit.next_link(
            self.db.keys, reference=reference, seq=1, prev_hash=audit.GENESIS,
            policy_version=policy.code,
            event="receive", from_state=None, to_state="received", actor=actor,
            at=received_at, recorded_at=now, payload=trail,
        )
        columns: dict[str, Any] = {
            "reference": reference, "scheme": new.scheme, "route": new.route, "area": new.area,
            "division": new.division, "channel": new.channel, "summary": new.summary,
            "state": "received", "outcome": None, "immediate_risk": new.immediate_risk,
            "policy_version": policy.code, "received_at": received_at,
            "due_at": clock.overall.due_at if clock.overall else None,
            "stage_due_at": timeliness.stage_due_at(clock, "received"), "closed_at": None,
            "created_at": now, "updated_at": now, "created_by": actor, "version": 1,
            "last_event_hash": link["hash"], "idempotency_key": key,
            "idempotency_digest": digest if key else None,
            "continued_from_id": continued_from.id if continued_from else None,
            "meeting_id": meeting_id,
        }
        rid: int = (await records.insert(REQUESTS, [columns]))[0]["id"]
        await records.count(was=None, now=statistics.Standing(
            new.area, new.scheme, new.route, "received", None,
        ))
        await records.append(link | {"request_id": rid})
        parties = [_party_columns(p) for p in new.parties]
        written = await records.insert(PARTIES, [p | {"request_id": rid} for p in parties])
        ids = [row["id"] for row in written]
        await records.seal()
        # The answer is built from the values written; the session never tracks these rows.
        views = [PartyView(id=party_id, **p) for party_id, p in zip(ids, parties, strict=True)]
        await records.index(
            request_id=rid, area=new.area,
            parties=[p | {"id": party_id} for party_id, p in zip(ids, parties, strict=True)],
        )
        await records.received(
            rid=rid, area=new.area, received_at=received_at, channel=new.channel,
            continued=continued_from is not None, parties=views, at=now,
        )
        return columns | {"id": rid}, views

    # Changing ----------------------------------------------------------------------------

    async def apply(
        self,
        reference: str,
        payload: EventIn,
        *,
        actor: str,
        expected_version: int,
        area: str | None = None,
        roles: frozenset[str] | None = None,
    ) -> Transitioned:
        """Send one event to a request; everything it writes commits together or not at all.

        With `roles`, an event the state does not take is refused listing only what those
        roles may send now.
        """
        async with self.db.write() as session, session.begin():
            # Core statements on the transaction's connection: every row this writes is new or
            # updated once, so the session's identity map and flushes would only add cost.
            return await self.transition(
                self.records(await session.connection()), reference, payload, actor=actor,
                expected_version=expected_version, area=area, roles=roles,
            )

    async def transition(
        self,
        records: Records,
        reference: str,
        payload: EventIn,
        *,
        actor: str,
        expected_version: int,
        area: str | None = None,
        roles: frozenset[str] | None = None,
    ) -> Transitioned:
        """Send one event to a request in `records`, as `apply` describes."""
        event = type(payload).__struct_config__.tag
        assert isinstance(event, str)
        request = await records.lock(reference)
        if area is not None and request.area != area:
            raise NotFound(reference)
        if request.version != expected_version:
            raise StaleVersion(reference, expected_version, request.version)
        now = self.now()
        facts, decision = await self._facts(records, request, payload, actor, now)
        route: Any = request.route
        from_state = request.state
        try:
            to_state = fire(route, from_state, event, payload=payload, facts=facts)
        except EventNotAllowed as refused:
            if roles is None:
                raise
            raise EventNotAllowed(
                event, from_state, _permitted(roles, refused.allowed)
            ) from None
        at, entered = await self._occurred(records, request, payload, now, to_state)
        # The request's columns this event sets, beyond its state, version and due dates.
        changes: dict[str, Any] = {}
        recorded = await self._record(
            records, request, payload, actor=actor, at=at, decision=decision, facts=facts,
            changes=changes,
        )
        outcome = request.outcome
        seq = request.version + 1
        closing = to_state == "closed" and from_state != "closed"
        if closing:
            outcome = outcome_of(
                payload, decided=await self._decided(records, payload, decision)
            )
            changes |= {"outcome": outcome, "closed_at": at}
            # The outcome goes on the trail and into the closures, where a reopening
            # leaves it.
            recorded["outcome"] = outcome
            await records.insert(CLOSURES, [{
                "request_id": request.id, "seq": seq, "event": event, "outcome": outcome,
                "closed_at": at, "closed_by": actor,
            }])
        elif from_state == "closed" and to_state != "closed":
            outcome = None
            changes |= {"outcome": None, "closed_at": None}
        stored: dict[str, Any] = msgspec.to_builtins(payload)
        if payload.occurred_at is None:
            # Not given: the event row's own occurred_at says when it was.
            del stored["occurred_at"]
        link = audit.next_link(
            self.db.keys, reference=reference, seq=seq,
            prev_hash=request.last_event_hash, policy_version=request.policy_version,
            event=event, from_state=from_state, to_state=to_state, actor=actor, at=at,
            recorded_at=now, payload=stored | recorded,
        )
        await records.append(link | {"request_id": request.id})
        if to_state != from_state:
            # The state left, with the due date its stage had while the request stood in it.
            await records.times(STAGE_TIMES, {
                "request_id": request.id, "seq": seq, "area": request.area,
                "scheme": request.scheme, "route": request.route, "state": from_state,
                "entered_at": entered or request.received_at, "left_at": at,
                "recorded_at": now, "due_at": request.stage_due_at,
            })
        # The clock reads the trail with this event in it, so the request row is written
        # once, with its new due dates. An event that stays in its state and writes nothing a
        # clock is worked out from keeps the due dates it found, or sets those it worked out
        # itself (`recompute_clock`, after a policy change).
        if to_state == from_state and not records.wrote(timeliness.INPUTS):
            due_at = changes.pop("due_at", request.due_at)
            stage_due_at = changes.pop("stage_due_at", request.stage_due_at)
        else:
            clock = await records.clock(request)
            due_at = clock.overall.due_at if clock.overall else None
            stage_due_at = timeliness.stage_due_at(clock, to_state)
        if closing:
            # How long it took, against the due date it closed with.
            await records.times(CLOSURE_TIMES, {
                "request_id": request.id, "seq": seq, "area": request.area,
                "scheme": request.scheme, "route": request.route,
                "division": request.division, "event": event, "outcome": outcome,
                "started_at": await records.reopened(request.id) or request.received_at,
                "closed_at": at, "recorded_at": now, "due_at": due_at,
            })
        # The version in the match refuses a lost update even if the lock were ever not held.
        bumped = await records.update(
            REQUESTS, {"id": request.id, "version": expected_version}, changes | {
                "state": to_state, "version": link["seq"], "last_event_hash": link["hash"],
                "updated_at": now, "due_at": due_at, "stage_due_at": stage_due_at,
            },
        )
        if len(bumped) != 1:
            # The row lock makes this unreachable; it guards against a lost update if a
            # backend ever lets a second writer through.
            raise StaleVersion(reference, expected_version, request.version)
        await records.seal()
        duplicates_found = await self._party_duplicates(records, request, payload, recorded,
                                                        now)
        # Last, so the count's row is locked for as short a time as the commit allows.
        await records.count(
            was=statistics.Standing(request.area, request.scheme, request.route,
                                    from_state, request.outcome),
            now=statistics.Standing(request.area, request.scheme, request.route,
                                    to_state, outcome),
        )
        return Transitioned(
            reference=reference,
            event=event,
            from_state=from_state,
            state=to_state,
            outcome=outcome,
            version=link["seq"],
            possible_duplicates=duplicates_found.shown,
            possible_duplicates_total=duplicates_found.total,
        )

    async def _party_duplicates(
        self, records: Records, request: Locked, payload: EventIn, recorded: dict[str, Any],
        now: datetime,
    ) -> duplicates.Found:
        """After a party is added or amended: its search terms rewritten, a subject added counted
        towards a repeat-subject alert as if named at receipt, and the other requests of the
        area naming the same person, as at receipt. The event's answer is not on the read
        trail, so it leaves out the other requests' names and dates of birth; the request view
        (which is) shows them."""
        match payload:
            case AddParty():
                party_id = recorded["party_id"]
            case AmendParty():
                party_id = payload.party_id
            case _:
                return duplicates.NONE
        party = await records.party_row(party_id)
        await records.index(request_id=request.id, area=request.area, parties=[party])
        view = msgspec.convert(party, PartyView)
        if isinstance(payload, AddParty):
            await records.subject_added(request, view, at=now)
        found = await records.possible_duplicates(
            request_id=request.id, area=request.area, parties=[view],
        )
        return found._replace(shown=[
            msgspec.structs.replace(d, name=None, date_of_birth=None) for d in found.shown
        ])

    async def _occurred(
        self, records: Records, request: Locked, payload: EventIn, now: datetime,
        to_state: str,
    ) -> tuple[datetime, datetime | None]:
        """When the event happened, refusing times that cannot be true; and when the request
        entered the state it is in (not looked up for what is recorded about a closed one).

        Every time in the payload must lie between receipt and now (a due date may lie ahead).
        The event itself cannot have happened before the request entered its current state:
        the trail is in the order things happened, as far as the lifecycle is concerned. What
        is recorded about a closed request (telling the subject) may have happened before it
        closed.
        """
        for path, value in _times(payload):
            at = value.astimezone(UTC)
            if at > now and path.rpartition(".")[2] not in DUE_DATES:
                raise InvalidInput(path, "is in the future")
            if at < request.received_at:
                raise InvalidInput(
                    path,
                    f"is before the request was received ({request.received_at.isoformat()})",
                )
        field, given = "occurred_at", payload.occurred_at
        if payload.when is not None:
            stated: datetime | None = getattr(payload, payload.when)
            if given is None:
                field, given = payload.when, stated
            elif stated is not None and given != stated:
                raise InvalidInput(
                    "occurred_at",
                    f"differs from {payload.when}; give one time for when it happened",
                )
        at = now if given is None else given.astimezone(UTC)
        if request.state == to_state == "closed":
            return at, None
        entered = await records.entered(request.id)
        if entered is not None and at < entered:
            raise InvalidInput(
                field,
                f"is before the request became {request.state} ({entered.isoformat()}); an "
                "event cannot have happened before the step that made it possible",
            )
        return at, entered

    async def erase_payload(
        self, reference: str, *, seq: int, reason: str, authorised_by: str
    ) -> Transitioned:
        """Erase one event's payload for retention. The erasure is an event of its own on the
        request's trail, naming the event, the reason and the admin who authorised it, so an
        erased payload verifies and one removed in SQL does not."""
        if not reason.strip():
            raise InvalidInput("reason", "is required")
        async with self.db.write() as session, session.begin():
            conn = await session.connection()
            records = self.records(conn)
            request = await records.lock(reference)
            roles = await records.roles_of(authorised_by, None)
            if roles is None or not AUTHORISES_ERASURE & set(roles):
                needed = " or ".join(sorted(AUTHORISES_ERASURE))
                raise InvalidInput("authorised_by", f"{authorised_by} is not an active {needed}")
            target = (await conn.execute(
                select(EVENTS.c.id, EVENTS.c.event, EVENTS.c.payload_salt)
                .where(EVENTS.c.request_id == request.id, EVENTS.c.seq == seq)
            )).first()
            if target is None:
                raise InvalidInput("seq", f"{reference} has no event {seq}")
            if target.event == audit.ERASE:
                raise InvalidInput("seq", f"event {seq} is an erasure; its record is kept")
            if target.payload_salt is None:
                raise InvalidInput("seq", f"the payload of event {seq} is already erased")
            now = self.now()
            link = audit.next_link(
                self.db.keys, reference=reference, seq=request.version + 1,
                prev_hash=request.last_event_hash, policy_version=request.policy_version,
                event=audit.ERASE, from_state=request.state, to_state=request.state,
                actor=authorised_by, at=now, recorded_at=now,
                payload={"seq": seq, "event": target.event, "reason": reason,
                         "authorised_by": authorised_by},
            )
            await conn.execute(
                update(EVENTS).where(EVENTS.c.id == target.id)
                .values(payload=None, payload_salt=None)
            )
            await records.append(link | {"request_id": request.id})
            await records.update(REQUESTS, {"id": request.id, "version": request.version}, {
                "version": link["seq"], "last_event_hash": link["hash"], "updated_at": now,
            })
            await records.seal()
            return Transitioned(
                reference=reference, event=audit.ERASE, from_state=request.state,
                state=request.state, outcome=request.outcome, version=link["seq"],
            )

    async def _facts(
        self, records: Records, request: Locked, payload: EventIn, actor: str, now: datetime
    ) -> tuple[Facts, LatestDecision | None]:
        """Gather only what the guards of this event look at, and the latest decision of the
        forum for the events that act on it (deliveries, non-deliveries, notices)."""
        rid = request.id
        match payload:
            case CompleteChecks():
                return Facts(actor=actor, checks_recorded=await records.checks_recorded(rid)), None
            case RecordDecision():
                prepared = {
                    who: what for who, what in reversed(await records.prepared_by(rid, PREPARING))
                }
                checks, responses = await records.information_held(rid)
                held = [f"the {source} check" for source in checks]
                held += [f"the {agency} response" for agency in responses]
                return Facts(
                    actor=actor, now=now, scheme=request.scheme, prepared_by=prepared,
                    parties=await records.parties(rid),
                    eligibility=eligibility(request.scheme, request.received_at),
                    information_held=tuple(dict.fromkeys(held)),
                ), None
            case RecordDelivery() | RecordNonDelivery():
                decision = await records.latest_decision(rid)
                recipients = await records.recipients(decision.id) if decision else []
                parties = await records.parties(rid)
                delivered = {r.party_id for r in recipients if r.settlement == "delivered"}
                if isinstance(payload, RecordDelivery):
                    delivered.add(payload.recipient_party_id)
                return Facts(
                    actor=actor, now=now, parties=parties,
                    decided_at=decision.decided_at if decision else None,
                    pending={r.party_id: r.wording for r in recipients if r.settlement is None},
                    notice_due=_notice_due(parties, delivered),
                ), decision
            case RecordNotice() | Withdraw() if request.state in (
                "awaiting_delivery", "awaiting_notice"
            ):
                decision = await records.latest_decision(rid)
                return Facts(
                    actor=actor, decision=decision.decision if decision else None
                ), decision
            case RecordPartnerResponse():
                return Facts(
                    actor=actor, open_partner_requests=await records.open_partner_requests(rid)
                ), None
            case AddParty() | AmendParty():
                return Facts(actor=actor, now=now, parties=await records.parties(rid)), None
            case TakeImmediateAction(urgent_disclosure=urgent) if urgent is not None:
                roles = await records.roles_of(urgent.authorised_by, request.area)
                return Facts(
                    actor=actor, now=now, parties=await records.parties(rid),
                    eligibility=eligibility(request.scheme, request.received_at),
                    authorisers=frozenset(
                        {urgent.authorised_by} if roles and "decision_maker" in roles else ()
                    ),
                ), None
        return Facts(actor=actor, now=now), None

    async def _decided(
        self, records: Records, payload: EventIn, decision: LatestDecision | None
    ) -> str | None:
        """What the request's decision came to, for the events that close on it."""
        if isinstance(payload, RecordDecision):
            return decided_outcome(
                payload.decision, no_disclosure_reason=payload.no_disclosure_reason
            )
        if decision is None:
            return None
        recipients = await records.recipients(decision.id)
        return decided_outcome(
            decision.decision, no_disclosure_reason=decision.no_disclosure_reason,
            delivered_to=[r.role for r in recipients if r.settlement == "delivered"],
        )

    async def _record(
        self,
        records: Records,
        request: Locked,
        payload: EventIn,
        *,
        actor: str,
        at: datetime,
        decision: LatestDecision | None,
        facts: Facts,
        changes: dict[str, Any],
    ) -> dict[str, Any]:
        """Write the stage record an event carries, if any; return what the trail adds to it.

        `decision` is the latest decision and `facts` what the guards read, gathered by
        `_facts`; an event that sets a column of the request puts it in `changes`. Every row
        goes through `records`, which seals it in this transaction.
        """
        rid = request.id
        match payload:
            case CompleteInitialChecks():
                changes["immediate_risk"] = payload.immediate_risk
                if payload.finding == "duplicate" and payload.duplicate_of is not None:
                    if payload.duplicate_of == request.reference:
                        raise InvalidInput("duplicate_of", "a request cannot duplicate itself")
                    original = await records.request_in_area(payload.duplicate_of, request.area)
                    if original is None:
                        raise InvalidInput(
                            "duplicate_of", f"no request {payload.duplicate_of} in this area"
                        )
                    await records.link(
                        kind="duplicate_of", from_id=rid, to_id=original, at=at, actor=actor,
                    )
            case RecordCheck():
                await records.insert(CHECKS, [{
                    "request_id": rid, "source": payload.source,
                    "information_held": payload.information_held, "summary": payload.summary,
                    "checked_at": payload.checked_at, "recorded_by": actor,
                }])
            case RecordPartnerRequest():
                await records.insert(PARTNER_REQUESTS, [{
                    "request_id": rid, "agency": payload.agency, "asked": payload.asked,
                    "asked_at": payload.asked_at, "due_at": payload.due_at,
                }])
            case RecordPartnerResponse():
                await records.update(PARTNER_REQUESTS, {"id": payload.partner_request_id}, {
                    "responded_at": payload.responded_at,
                    "information_held": payload.information_held,
                    "response": payload.response,
                })
            case RecordDecision():
                fields = msgspec.structs.asdict(payload)
                recipients = fields.pop("recipients")
                fields["legal_test"] = msgspec.to_builtins(payload.legal_test)
                fields["attendees"] = msgspec.to_builtins(payload.attendees)
                # A meeting's decision-maker is its chair; the coordinator records it.
                maker = payload.chair if isinstance(payload, RecordPanelDecision) else actor
                decision_id = (await records.insert(DECISIONS, [
                    fields | {"request_id": rid, "decision_maker": maker, "recorded_by": actor},
                ]))[0]["id"]
                if recipients:
                    await records.insert(DECISION_RECIPIENTS, [
                        msgspec.structs.asdict(r) | {"decision_id": decision_id,
                                                     "request_id": rid}
                        for r in recipients
                    ])
            case RecordDelivery():
                approved = facts.pending.get(payload.recipient_party_id)
                await records.insert(DELIVERIES, [msgspec.structs.asdict(payload) | {
                    "request_id": rid,
                    "matches_approved_wording": same_words(payload.words_used, approved),
                    "recorded_by": actor,
                }])
                await _settle(records, decision, payload.recipient_party_id, {
                    "settlement": "delivered", "settled_at": payload.delivered_at,
                    "settled_by": payload.delivered_by,
                })
            case RecordNonDelivery():
                # A decision-maker who stops a disclosure is the one who sends the event.
                decided_by = actor if payload.reason == "stopped" else payload.decided_by
                await _settle(records, decision, payload.recipient_party_id, {
                    "settlement": payload.reason, "settled_at": payload.at,
                    "settled_by": decided_by, "notes": payload.notes,
                })
            case RecordNotice():
                await records.insert(NOTICES, [msgspec.structs.asdict(payload) | {
                    "request_id": rid, "recorded_by": actor,
                }])
            case RecordSubjectTold():
                await records.insert(SUBJECT_TOLD, [msgspec.structs.asdict(payload) | {
                    "request_id": rid, "recorded_by": actor,
                }])
            case TakeImmediateAction(urgent_disclosure=urgent) if urgent is not None:
                await _urgent_disclosure(records, rid, payload, actor=actor)
            case ContinueAsRightToKnow():
                carried, _ = await self.receive(
                    records, await _carried_on(records, request, payload, at), actor=actor,
                    continued_from=request,
                )
                return {"continued_as": carried["reference"]}
            case ExtendDeadline():
                clock = await records.clock(request)
                extension = clocks.Extension(payload.days, payload.category, payload.reason, at)
                extended = timeliness.extend(clock, extension, self.policy)
                old, new = clock.overall.due_at if clock.overall else None, extended.due_at
                await records.insert(EXTENSIONS, [{
                    "request_id": rid, "days": payload.days, "category": payload.category,
                    "reason": payload.reason, "granted_at": at, "old_due_at": old,
                    "new_due_at": new, "granted_by": actor,
                }])
                return {"old_due_at": msgspec.to_builtins(old),
                        "new_due_at": msgspec.to_builtins(new)}
            case AddParty():
                columns = _party_columns(payload.party)
                added = await records.insert(PARTIES, [columns | {"request_id": rid}])
                return {"party_id": added[0]["id"]}
            case AmendParty():
                return await _amend(records, payload)
            case Reopen():
                previous = await records.update(
                    CLOSURES, {"request_id": rid, "reopened_seq": None}, {
                        "reopened_seq": request.version + 1, "reopened_at": at,
                        "reopened_by": actor, "reopen_category": payload.category,
                        "reopen_reason": payload.reason,
                    },
                )
                if not previous:
                    return {}
                row = previous[0]
                return {"previous_outcome": row["outcome"],
                        "previous_closed_at": msgspec.to_builtins(row["closed_at"])}
            case RecomputeClock():
                # The event leaves the state as it is and sets the due dates of the clock
                # worked out now: the trail shows what moved from what.
                clock = await records.clock(request)
                changes["due_at"] = clock.overall.due_at if clock.overall else None
                changes["stage_due_at"] = timeliness.stage_due_at(clock, request.state)
                moved = {
                    "old_due_at": request.due_at, "new_due_at": changes["due_at"],
                    "old_stage_due_at": request.stage_due_at,
                    "new_stage_due_at": changes["stage_due_at"],
                }
                return {name: msgspec.to_builtins(at) for name, at in moved.items()}
            case _:
                pass
        return {}

    # Reading -----------------------------------------------------------------------------

    @asynccontextmanager
    async def reading(self, visit: Visit | None) -> AsyncIterator[AsyncSession]:
        """A read's one session and transaction; with `visit`, the read is put on the read
        trail (`log`) in that same transaction, so a read that cannot be logged is not
        answered."""
        if visit is None:
            async with self.db.read() as session:
                yield session
        else:
            async with self.db.read_logged() as session, session.begin():
                yield session

    async def log(
        self, session: AsyncSession, rid: int, reference: str, visit: Visit | None
    ) -> None:
        """The read on the trail, after its first statement locked the request row."""
        if visit is not None:
            await reads.append(await session.connection(), self.db.keys, rid=rid,
                               reference=reference, visit=visit, at=self.now())

    async def get(
        self, reference: str, *, area: str | None = None, visit: Visit | None = None
    ) -> RequestView:
        """One request; with `area`, a request of another area is not found."""
        async with self.reading(visit) as session:
            request = await _find(session, reference, area, lock=visit is not None)
            rows = await session.scalars(
                select(Party).where(Party.request_id == request.id).order_by(Party.id)
            )
            parties = [msgspec.convert(p, PartyView, from_attributes=True) for p in rows]
            related = await self._related(session, request, parties)
            continued_from = await session.scalar(
                select(Request.reference).where(Request.id == request.continued_from_id)
            ) if request.continued_from_id else None
            continued_as = await session.scalar(
                select(Request.reference).where(Request.continued_from_id == request.id)
            )
            closures = await session.scalars(
                select(Closure).where(Closure.request_id == request.id).order_by(Closure.seq)
            )
            await self.log(session, request.id, reference, visit)
            return self._view(
                request, parties, related, continued_from=continued_from,
                continued_as=continued_as,
                closures=[msgspec.convert(c, ClosureView, from_attributes=True) for c in closures],
            )

    async def _related(
        self, db: AsyncSession | AsyncConnection, request: Request,
        parties: Sequence[PartyView],
    ) -> Related:
        """Possible duplicates, linked requests and the alerts a request is on."""
        return Related(
            possible_duplicates=await duplicates.possible(
                db, self.db.dialect, self.finding, request_id=request.id, area=request.area,
                parties=parties,
            ),
            links=await links.of(db, request.id),
            alerts=await repeats.on_request(db, request.id),
        )

    def _view(
        self, request: Request, parties: Sequence[PartyView], related: Related, *,
        continued_from: str | None = None, continued_as: str | None = None,
        closures: Sequence[ClosureView] = (),
    ) -> RequestView:
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
            overdue=_overdue(request.state, request.due_at, self.now()),
            version=request.version,
            parties=list(parties),
            possible_duplicates=related.possible_duplicates.shown,
            possible_duplicates_total=related.possible_duplicates.total,
            links=related.links,
            alerts=related.alerts,
            continued_from=continued_from,
            continued_as=continued_as,
            closures=list(closures),
            meeting_id=request.meeting_id,
        )

    async def clock(
        self, reference: str, *, area: str | None = None, visit: Visit | None = None
    ) -> ClockView:
        """Every due date of a request, each with its inputs and explanation."""
        async with self.reading(visit) as session:
            request = await _row(session, Clocked, reference, area, lock=visit is not None)
            clock = await timeliness.request_clock(session, request, self.policy)
            await self.log(session, request.id, reference, visit)
        return timeliness.clock_view(
            request.reference, request.state, clock, self.policy, self.now()
        )

    async def stage_records(
        self, reference: str, *, area: str | None = None
    ) -> stage_records.StageRecords:
        """The request's stage records: checks, partner requests, decisions, deliveries,
        notices."""
        async with self.db.read() as session:
            request = await _find(session, reference, area)
            return await stage_records.of(session, request.id)

    async def events(
        self, reference: str, *, area: str | None = None, visit: Visit | None = None
    ) -> list[EventView]:
        async with self.reading(visit) as session:
            rid = await request_id(session, reference, area=area, lock=visit is not None)
            rows = (await session.execute(
                select(*TIMELINE).where(Event.request_id == rid).order_by(Event.seq)
            )).all()
            await self.log(session, rid, reference, visit)
        return [EventView(**row._mapping) for row in rows]

    async def actions(
        self, reference: str, *, roles: frozenset[str], area: str | None = None
    ) -> Actions:
        """What the lifecycle allows now and these roles may send, each with its body's schema."""
        async with self.db.read() as session:
            row = await _row(session, Standing, reference, area)
        return Actions(
            reference=reference,
            state=row.state,
            version=row.version,
            actions=[
                Action(event=e, payload_schema=payload_schema(e))
                for e in _permitted(roles, allowed_events(row.route, row.state))
            ],
        )

    def listing(
        self, filters: Filters, *, limit: int, cursor: str | None, area: str | None = None
    ) -> Select[*tuple[Any, ...]]:
        """The query behind `search`: one page, and one row more to tell if another follows;
        the columns of a summary, read as plain rows (no entities to build)."""
        query: Select[*tuple[Any, ...]] = select(*SUMMARY).limit(limit + 1)
        if area is not None:
            query = query.where(Request.area == area)
        if filters.queued:
            query = timeliness.queue(
                query, queue=filters.queue, stage=filters.stage, now=self.now(),
                policy=self.policy, cursor=cursor,
            )
        else:
            # Newest first by when each was entered, the id breaking ties: the columns of the
            # area's indexes, which the primary key alone cannot serve (see docs/scale.md).
            query = query.order_by(Request.created_at.desc(), Request.id.desc())
            if cursor is not None:
                entered, last_id = cursors.decode(cursor, int, int)
                at = cursors.from_instant(entered)
                query = query.where(
                    Request.created_at <= at,
                    or_(Request.created_at < at, Request.id < last_id),
                )
        for name in ("state", "scheme", "route", "area", "division"):
            value = getattr(filters, name)
            if value is not None:
                query = query.where(getattr(Request, name) == value)
        if filters.overdue is not None:
            # Spelt out both ways, so each side can use an index and a request with no due
            # date counts as not overdue.
            now = self.now()
            query = query.where(
                and_(OPEN, Request.due_at < now) if filters.overdue
                else or_(~OPEN, Request.due_at.is_(None), Request.due_at >= now)
            )
        return query

    async def search(
        self, filters: Filters, *, limit: int, cursor: str | None, area: str | None = None
    ) -> RequestPage:
        """Newest entered first; a queue or a stage lists open requests by urgency instead.

        With `area`, only that area's requests.
        """
        queued = filters.queued
        query = self.listing(filters, limit=limit, cursor=cursor, area=area)
        async with self.db.read() as session:
            rows = [Summarised._make(row) for row in await session.execute(query)]
        more = len(rows) > limit
        rows = rows[:limit]
        now = self.now()
        return RequestPage(
            items=[
                RequestSummary(
                    reference=r.reference, scheme=r.scheme, route=r.route, area=r.area,
                    division=r.division, state=r.state, outcome=r.outcome,
                    immediate_risk=r.immediate_risk, received_at=r.received_at, due_at=r.due_at,
                    stage=timeliness.STAGE_OF_STATE.get(r.state), stage_due_at=r.stage_due_at,
                    overdue=_overdue(r.state, r.due_at, now), version=r.version,
                )
                for r in rows
            ],
            next_cursor=(
                (timeliness.next_cursor(rows[-1], filters.stage) if queued
                 else cursors.encode(cursors.instant(rows[-1].created_at), rows[-1].id))
                if more and rows else None
            ),
        )


def _overdue(state: str, due_at: datetime | None, now: datetime) -> bool:
    return state != "closed" and due_at is not None and due_at < now


class Summarised(NamedTuple):
    """What a page of requests shows of each, and the columns its cursor is made of, read as
    plain rows: a row's own attributes cost more to read than a named tuple's, and a page reads
    hundreds."""

    id: int
    reference: str
    scheme: str
    route: str
    area: str
    division: str | None
    state: str
    outcome: str | None
    immediate_risk: bool
    received_at: datetime
    due_at: datetime | None
    stage_due_at: datetime | None
    version: int
    created_at: datetime


# What a request's timeline shows of each event: the columns its view is made of.
TIMELINE = tuple(getattr(Event, name) for name in EventView.__struct_fields__)
SUMMARY = tuple(getattr(Request, name) for name in Summarised._fields)


class Standing(NamedTuple):
    """What the actions open to a request are worked out from."""

    route: str
    state: str
    version: int


class Clocked(NamedTuple):
    """What a request's clock and its view are worked out from."""

    id: int
    reference: str
    scheme: str
    route: str
    state: str
    policy_version: str
    received_at: datetime


_Shape = TypeVar("_Shape", Standing, Clocked)


def _by_reference(fields: tuple[str, ...], in_area: bool, lock: bool) -> Any:
    query = select(*(getattr(Request, name) for name in fields)).where(
        Request.reference == bindparam("reference")
    )
    if in_area:
        query = query.where(Request.area == bindparam("area"))
    return query.with_for_update() if lock else query


# Built once each, so that their cache keys are too.
_BY_REFERENCE = {
    (shape.__name__, in_area, lock): _by_reference(shape._fields, in_area, lock)
    for shape in (Standing, Clocked) for in_area in (False, True) for lock in (False, True)
}


async def _row(
    session: AsyncSession, shape: type[_Shape], reference: str, area: str | None, *,
    lock: bool = False,
) -> _Shape:
    """The columns `shape` names of a request, by reference, as `_find` finds it."""
    query = _BY_REFERENCE[shape.__name__, area is not None, lock]
    row = (await session.execute(query, {"reference": reference, "area": area})).first()
    if row is None:
        raise NotFound(reference)
    return shape._make(row)


async def _find(
    session: AsyncSession, reference: str, area: str | None, *, lock: bool = False
) -> Request:
    """A request by reference; with `area`, another area's request is not found; with `lock`,
    the row stays locked until the transaction ends."""
    query = select(Request).where(Request.reference == reference)
    request = await session.scalar(query.with_for_update() if lock else query)
    if request is None or (area is not None and request.area != area):
        raise NotFound(reference)
    return request



def _notice_due(parties: dict[int, PartyFacts], delivered: set[int]) -> bool:
    """Whether a right-to-ask applicant is still owed a notice once every recipient is
    settled: a third party not given the disclosure themselves."""
    return any(
        p.role == "applicant" and p.relationship_code != "self" and pid not in delivered
        for pid, p in parties.items()
    )


def _permitted(roles: frozenset[str], events: Sequence[str]) -> tuple[str, ...]:
    """The events these roles may send, in the order given; system events never."""
    return tuple(e for e in events if e not in SYSTEM_EVENTS and may_send_some(roles, e))


@cache
def payload_schema(event: str) -> dict[str, Any]:
    """The JSON Schema of an event's body, whole: the payload's own, with what it refers to."""
    schema = msgspec.json.schema(PAYLOADS[event])
    defs: dict[str, Any] = schema["$defs"]
    own: dict[str, Any] = defs.pop(PAYLOADS[event].__name__)
    return own | {"$defs": defs} if defs else own


def _party_columns(party: Any) -> dict[str, Any]:
    """A party's row from its input, safe contact as stored."""
    fields: dict[str, Any] = msgspec.structs.asdict(party)
    if party.safe_contact is not None:
        fields["safe_contact"] = msgspec.to_builtins(party.safe_contact)
    return fields


async def _check_division(records: Records, area: str, division: str) -> None:
    known = sorted(await records.divisions(area))
    if division not in known:
        among = f"its divisions are {', '.join(known)}" if known else "it has no divisions"
        raise InvalidInput("division", f"{division!r} is not a division of {area}; {among}")


async def _settle(
    records: Records, decision: LatestDecision | None, party: int, values: dict[str, Any],
) -> None:
    """Mark one recipient of the decision awaiting delivery as settled."""
    assert decision is not None, "the guard refuses a settlement with no decision"
    await records.update(
        DECISION_RECIPIENTS, {"decision_id": decision.id, "party_id": party}, values
    )


async def _urgent_disclosure(
    records: Records, rid: int, payload: TakeImmediateAction, *, actor: str
) -> None:
    """An urgent disclosure kept as a decision marked urgent with its one recipient, already
    delivered, so that it is listed and counted with every other disclosure."""
    urgent = payload.urgent_disclosure
    assert urgent is not None
    decision_id = (await records.insert(DECISIONS, [{
        "request_id": rid, "urgent": True, "forum": "urgent", "decided_at": payload.taken_at,
        "chair": urgent.authorised_by, "attendees": [],
        "decision_maker": urgent.authorised_by,
        "decision_maker_role": urgent.authoriser_rank, "decision": "disclose",
        "legal_test": {}, "safeguarding_actions": [], "recorded_by": actor,
    }]))[0]["id"]
    await records.insert(DECISION_RECIPIENTS, [{
        "decision_id": decision_id, "request_id": rid, "party_id": urgent.recipient_party_id,
        "rationale": payload.action, "better_placed_reason": urgent.better_placed_reason,
        "wording": urgent.wording, "discloser": urgent.delivered_by, "method": "urgent",
        "deliver_by": urgent.delivered_at, "settlement": "delivered",
        "settled_at": urgent.delivered_at, "settled_by": urgent.delivered_by,
    }])


async def _carried_on(
    records: Records, request: Locked, payload: ContinueAsRightToKnow, at: datetime,
) -> NewRequest:
    """The right-to-know request that carries on a right-to-ask one: the same people, the
    applicant as the referrer whose information started it (or left out if they were the
    person at risk, who is a party already)."""
    parties = []
    for row in await records.party_rows(request.id):
        person = {name: row[name] for name in PartyIn.__struct_fields__}
        if row["role"] == "applicant":
            if row["relationship_code"] == "self":
                continue
            person |= {"role": "referrer", "safe_contact": person["safe_contact"]}
        parties.append(person)
    try:
        return msgspec.convert({
            "scheme": request.scheme, "route": "right_to_know", "area": request.area,
            "division": request.division, "received_at": at, "channel": request.channel,
            "summary": f"Carried on from {request.reference}: {payload.risk}"[:4000],
            "immediate_risk": request.immediate_risk, "parties": parties,
        }, NewRequest)
    except msgspec.ValidationError as error:
        raise InvalidInput("continue_as_right_to_know", str(error)) from None


async def _amend(records: Records, payload: AmendParty) -> dict[str, Any]:
    """Change a party's fields; what the trail adds is each changed field's old value.

    The party as amended must be a valid party by the rules a new one meets (`PartyIn`),
    so an amendment cannot make, say, a person at risk an organisation."""
    given: dict[str, Any] = msgspec.to_builtins(payload.changes)
    row = await records.party_row(payload.party_id)
    current = {name: row[name] for name in PartyIn.__struct_fields__}
    try:
        msgspec.convert(current | given, PartyIn)
    except msgspec.ValidationError as refused:
        raise InvalidInput("changes", str(refused)) from None
    old = {name: current[name] for name in given}
    new = {name: value for name, value in given.items() if old[name] != value}
    if not new:
        raise InvalidInput("changes", "every value given is already recorded")
    await records.update(PARTIES, {"id": payload.party_id}, new)
    return {"old": {name: old[name] for name in new}, "new": new}


# Values that hold no time: not looked into.
_PLAIN = (str, int, bool, float, type(None))


def _times(value: Any, path: str = "") -> Iterator[tuple[str, datetime]]:
    """Every time in a payload, with its field path (`recipients[0].deliver_by`)."""
    if isinstance(value, datetime):
        yield path, value
    elif isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            field = getattr(value, name)
            if not isinstance(field, _PLAIN):
                yield from _times(field, f"{path}.{name}" if path else name)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            if not isinstance(item, _PLAIN):
                yield from _times(item, f"{path}[{index}]")
