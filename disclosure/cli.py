"""The `disclosure` command: serve, migrate, seed demo data, verify the trail, back up and
restore, clocks, diagrams."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from disclosure import audit, backups, checkpoints, jobs, keys, logs, timeliness
from disclosure.access import ROLES
from disclosure.db import Database
from disclosure.errors import InvalidInput, NotFound, StaleVersion
from disclosure.migrations import upgrade
from disclosure.policy import LONDON, PolicyError, PolicySettings, load_policy_book
from disclosure.reports.metrics import SPECS
from disclosure.schemas import RecomputeClock
from disclosure.search.matching import FindingPolicy
from disclosure.settings import Settings
from disclosure.users import LoginPolicy, UserError, Users
from disclosure.workflow import Workflow

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _noon(day: str) -> datetime:
    """Noon UTC of a day given as YYYY-MM-DD."""
    return datetime.combine(date.fromisoformat(day), datetime.min.time().replace(hour=12),
                            tzinfo=UTC)


def _workflow(settings: Settings, policy: PolicySettings | None = None) -> Workflow:
    return Workflow(
        Database(settings.database_url), policy or load_policy_book(settings.policy_file),
        finding=FindingPolicy.from_settings(settings),
    )


def _run(
    settings: Settings,
    job: Callable[[Workflow], Coroutine[Any, Any, int]],
    *,
    policy: PolicySettings | None = None,
) -> int:
    """Run `job` with a workflow on the configured database and `policy` (default: configured)."""

    async def main() -> int:
        workflow = _workflow(settings, policy)
        try:
            return await job(workflow)
        finally:
            await workflow.db.dispose()

    return asyncio.run(main())


def _upgrade(settings: Settings) -> None:
    """Migrate, then key a trail written before keys (only at that upgrade, see reseal).
    Without the trail's key nothing is touched."""
    keys.trail_keys_for(settings.database_url, settings.trail_key_file)
    upgrade(settings.database_url)
    _run(settings, lambda workflow: _reseal(workflow, quiet=True))


async def _reseal(workflow: Workflow, *, quiet: bool = False) -> int:
    done = await audit.reseal(workflow.db)
    if done is None:
        if not quiet:
            print("the trail is already keyed; nothing to reseal")
        return 0
    if done.requests or not quiet:
        print(f"trail keyed: {done.events} events and {done.views} views re-linked,"
              f" {done.rows} rows sealed, in {done.requests} requests")
    for reference in done.unverified:
        print(f"disclosure: {reference}: its trail did not verify as written; left unkeyed,"
              " `disclosure audit verify` names it", file=sys.stderr)
    return 0


def _metrics_folder(workers: int) -> Path | None:
    """With several workers, each writes its metrics to one folder that /metrics adds up; it
    is emptied at start, as the Prometheus client requires. Returns a folder made here (to be
    removed at exit), if any."""
    made = None
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder is None:
        if workers == 1:
            return None
        folder = tempfile.mkdtemp(prefix="disclosure-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
        made = Path(folder)
    Path(folder).mkdir(parents=True, exist_ok=True)
    for stale in Path(folder).glob("*.db"):
        stale.unlink()
    return made


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    logs.configure(settings.log_level)
    # Fail at start-up, naming the key, rather than on the first request.
    load_policy_book(settings.policy_file)
    if settings.trail_key_file is None and settings.is_sqlite:
        print("disclosure: the trail key is kept beside the SQLite database (a development"
              " default); set DISCLOSURE_TRAIL_KEY_FILE to a file the database's"
              " administrators cannot read", file=sys.stderr)
    if not args.no_migrate:
        _upgrade(settings)
    else:
        keys.trail_keys_for(settings.database_url, settings.trail_key_file)
    if args.demo:
        cmd_demo(argparse.Namespace(requests=args.demo, seed=0, if_empty=True, nominals=None),
                 settings)
    made = _metrics_folder(args.workers)
    try:
        # log_config=None: each worker's app sets up the JSON logs, uvicorn's included.
        # uvloop and httptools: chosen by `python -m bench.servers` (docs/benchmarks.md).
        uvicorn.run(
            "api.app:served_app", factory=True, host=args.host, port=args.port,
            workers=args.workers, loop="uvloop", http="httptools", log_config=None,
            access_log=False,
            # Which proxies may name the client is the app's setting (DISCLOSURE_TRUSTED_PROXIES).
            proxy_headers=False,
        )
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
    return 0


def cmd_jobs_run(args: argparse.Namespace, settings: Settings) -> int:
    async def job(workflow: Workflow) -> int:
        users = Users(workflow.db, policy=LoginPolicy.from_settings(settings))
        done = await jobs.prune(workflow.db, users,
                                keep=timedelta(days=settings.prune_after_days))
        if not done.ran:
            print("skipped: another process is running the jobs")
            return 0
        print(f"pruned {done.login_attempts} sign-in attempts and "
              f"{done.credentials} ended credentials")
        return 0

    return _run(settings, job)


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    _upgrade(settings)
    print("database is at the latest schema")
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy import func, select

    from disclosure.demo import AREAS, seed
    from disclosure.mapp import demo as mapp_demo
    from disclosure.models import Request

    _upgrade(settings)

    async def job(workflow: Workflow) -> int:
        if getattr(args, "if_empty", False):
            async with workflow.db.read() as session:
                if await session.scalar(select(func.count()).select_from(Request)):
                    print("demo data: the database already holds requests; left as it is")
                    return 0
        started = time.perf_counter()
        summary = await seed(workflow, requests=args.requests, seed=args.seed,
                             today=getattr(args, "today", None),
                             workers=getattr(args, "workers", 1))
        took = time.perf_counter() - started
        print(f"demo data: {args.requests} requests ({summary.events} events) in {took:.0f} s,"
              f" in areas {', '.join(AREAS)}")
        for name, counts in (
            ("by scheme", summary.by_scheme), ("by state", summary.by_state),
            ("by outcome", summary.by_outcome),
        ):
            print(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        print(f"  reopened {summary.reopened}, parties added {summary.parties_added}, parties"
              f" amended {summary.parties_amended}, events entered a day or more late"
              f" {summary.entered_late}")
        # Roughly one MAPPA nominal for every twenty requests, and a few in each area.
        nominals = args.nominals if args.nominals is not None else min(
            300, max(24, args.requests // 20))
        panels = await mapp_demo.seed(
            workflow, areas=list(AREAS), nominals=nominals, seed=args.seed)
        levels = ", ".join(f"level {k} {v}" for k, v in sorted(panels.by_level.items()))
        print(f"  MAPPA: {panels.nominals} nominals ({levels}), {panels.meetings} meetings,"
              f" {panels.disclosures} disclosures agreed, {panels.delivered} delivered")
        return 0

    return _run(settings, job)


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    target: Path = args.output
    if target.exists() and not args.force:
        print(f"disclosure: {target} exists; give --force to replace it", file=sys.stderr)
        return 2
    try:
        backups.backup(settings.database_url, target)
    except backups.BackupError as exc:
        print(f"disclosure: {exc}", file=sys.stderr)
        return 2
    print(f"backup written to {target} ({target.stat().st_size} bytes)")
    return 0


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    if not args.force:
        try:
            empty = asyncio.run(backups.is_empty(settings.database_url))
        except (OSError, SQLAlchemyError) as exc:
            print(f"disclosure: cannot reach the configured database ({type(exc).__name__})",
                  file=sys.stderr)
            return 2
        if not empty:
            print("disclosure: the configured database holds data; give --force to replace it",
                  file=sys.stderr)
            return 2
    try:
        backups.restore(settings.database_url, args.backup)
    except backups.BackupError as exc:
        print(f"disclosure: {exc}", file=sys.stderr)
        return 2
    print(f"restored {args.backup}; verifying the audit trail")
    # The restored database must prove itself: the same verification as `audit verify`, and
    # with --checkpoints, that it extends every signed checkpoint taken before the backup.
    return cmd_audit_verify(
        argparse.Namespace(
            reference=None, checkpoints=args.checkpoints, public_key=args.public_key
        ),
        settings,
    )


def cmd_audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    public = None
    if args.checkpoints is not None:
        public = keys.load_public_key(args.public_key or keys.public_path(
            keys.checkpoint_key_file(settings.database_url, settings.checkpoint_key_file)
        ))

    async def job(workflow: Workflow) -> int:
        verdict = await audit.verify(workflow.db, reference=args.reference)
        broken = not verdict.ok
        if verdict.ok:
            nominals = (
                f", {verdict.nominal_events_checked} events in {verdict.nominals_checked}"
                " MAPPA nominals" if verdict.nominals_checked else ""
            )
            print(
                f"OK: {verdict.events_checked} events in {verdict.requests_checked} requests,"
                f" {verdict.views_checked} views, {verdict.rows_checked} sealed rows{nominals}"
            )
        for problem in verdict.problems:
            where = f"{problem.reference}: " if problem.reference else ""
            chained = problem.trail in ("events", "nominal_events")
            event = f"event {problem.seq}: " if chained and problem.seq else ""
            print(f"BROKEN: {where}{event}{problem.problem}")
        if public is not None:
            for finding in await checkpoints.verify(workflow.db, args.checkpoints, public):
                head = finding.head
                if finding.ok and head is not None:
                    taken = f"{head.taken_at:%Y-%m-%d %H:%M:%S}Z"
                    print(
                        f"OK: extends {finding.path.name} ({head.events.size} events,"
                        f" {head.views.size} views at {taken})"
                    )
                for gone in finding.problems:
                    broken = True
                    print(f"BROKEN: {finding.path.name}: {gone}")
        return 1 if broken else 0

    return _run(settings, job)


def cmd_audit_checkpoint(args: argparse.Namespace, settings: Settings) -> int:
    path = keys.checkpoint_key_file(settings.database_url, settings.checkpoint_key_file)
    if not path.exists() and settings.checkpoint_key_file is None:
        keys.create_checkpoint_key(path)
    signing_key = keys.load_signing_key(path)

    async def job(workflow: Workflow) -> int:
        written = await checkpoints.take(workflow.db, signing_key, args.output)
        print(f"checkpoint written to {written}; keep a copy outside the database's reach")
        return 0

    return _run(settings, job)


def cmd_audit_reseal(args: argparse.Namespace, settings: Settings) -> int:
    return _run(settings, _reseal)


def cmd_audit_keygen(args: argparse.Namespace, settings: Settings) -> int:
    trail = settings.trail_key_file or keys.default_trail_key_file(settings.database_url)
    if trail is None:
        raise keys.TrailKeyError("set DISCLOSURE_TRAIL_KEY_FILE to where the trail key goes")
    if args.rotate:
        print(f"trail key {keys.rotate_trail_key(trail)} is now the current key in {trail}")
    elif trail.exists():
        print(f"trail key file {trail} exists; left as it is (--rotate adds a new key)")
    else:
        keys.create_trail_key_file(trail)
        print(f"trail key written to {trail} (mode 0600)")
    signer = keys.checkpoint_key_file(settings.database_url, settings.checkpoint_key_file)
    if signer.exists():
        print(f"checkpoint key {signer} exists; left as it is")
    else:
        public = keys.create_checkpoint_key(signer)
        print(f"checkpoint key {keys.key_id(public)} written to {signer} (mode 0600),"
              f" public key to {keys.public_path(signer)}")
    return 0


def cmd_audit_erase(args: argparse.Namespace, settings: Settings) -> int:
    async def job(workflow: Workflow) -> int:
        try:
            done = await workflow.erase_payload(
                args.reference, seq=args.seq, reason=args.reason,
                authorised_by=args.authorised_by,
            )
        except (InvalidInput, NotFound) as exc:
            print(f"disclosure: {exc}", file=sys.stderr)
            return 1
        print(f"{done.reference}: payload of event {args.seq} erased, recorded as event"
              f" {done.version} ({audit.ERASE}) authorised by {args.authorised_by}")
        return 0

    return _run(settings, job)


def _london(moment: datetime | None) -> str:
    return f"{moment.astimezone(LONDON):%Y-%m-%d %H:%M %Z}" if moment else "none"


def _same_file(one: Path | None, other: Path | None) -> bool:
    if one is None or other is None:
        return one is other
    return one.resolve() == other.resolve()


def _moved(change: timeliness.Recomputed) -> str:
    lines = []
    if change.new_due_at != change.due_at:
        lines.append(f"due {_london(change.due_at)} → {_london(change.new_due_at)}")
    if change.new_stage_due_at != change.stage_due_at:
        lines.append(
            f"stage due {_london(change.stage_due_at)} → {_london(change.new_stage_due_at)}"
        )
    return f"{change.reference}: " + "; ".join(lines)


def _requests(count: int) -> str:
    return f"{count} open request{'' if count == 1 else 's'}"


# How often one request is re-read and tried again while its own events keep moving it on.
_RECOMPUTE_ATTEMPTS = 5


async def _recompute_one(
    workflow: Workflow, change: timeliness.Recomputed, *, actor: str, reason: str
) -> timeliness.Recomputed | None:
    """Send `recompute_clock` at the version `change` was read at, re-reading after a lost
    race; the change written, or None if the request no longer needs one (closed, or an
    event of its own already stored the new dates)."""
    for attempt in range(1, _RECOMPUTE_ATTEMPTS + 1):
        try:
            await workflow.apply(
                change.reference, RecomputeClock(reason=reason), actor=actor,
                expected_version=change.version,
            )
            return change
        except StaleVersion:
            if attempt == _RECOMPUTE_ATTEMPTS:
                raise
            async with workflow.db.read() as session:
                now = await timeliness.recompute(
                    session, workflow.policy, reference=change.reference
                )
            if not now:
                return None
            change = now[0]
    raise AssertionError("unreachable: the last attempt returns or raises")


def cmd_clocks_recompute(args: argparse.Namespace, settings: Settings) -> int:
    policy_file = args.policy_file or settings.policy_file
    policy = load_policy_book(policy_file)
    source = policy_file or "the built-in policy"
    if not args.dry_run and not _same_file(policy_file, settings.policy_file):
        # The service recomputes at every event under its own file, so dates written under
        # another one would move back at each request's next event.
        print(
            f"disclosure: warning: {source} is not the configured policy"
            f" ({settings.policy_file or 'the built-in policy'}); deploy it as well",
            file=sys.stderr,
        )

    async def job(workflow: Workflow) -> int:
        async with workflow.db.read() as session:
            changed = await timeliness.recompute(session, policy)
        if args.dry_run:
            for change in changed:
                print(_moved(change))
            print(f"{_requests(len(changed))} would change under {source}; nothing was written")
            return 0
        reason = f"policy override {policy_file}" if policy_file else "built-in policy"
        written, busy = 0, 0
        for change in changed:
            try:
                done = await _recompute_one(workflow, change, actor=args.actor, reason=reason)
            except StaleVersion:
                print(f"disclosure: {change.reference} kept changing; run this again",
                      file=sys.stderr)
                busy += 1
                continue
            if done is not None:
                print(_moved(done))
                written += 1
        print(f"{_requests(written)} changed under {source}, each with a recompute_clock event")
        return 1 if busy else 0

    # Each event recomputes under its workflow's policy: the one given here.
    return _run(settings, job, policy=policy)


def cmd_search_reindex(args: argparse.Namespace, settings: Settings) -> int:
    from disclosure.search import index

    async def job(workflow: Workflow) -> int:
        print(f"reindexed {await index.reindex(workflow.db)} parties")
        return 0

    return _run(settings, job)


def cmd_meetings_list(args: argparse.Namespace, settings: Settings) -> int:
    """MAPP meetings, latest held first: the coordinator's chase lists. Codes and dates only,
    no names or free text, so nothing here goes on a read trail."""
    from disclosure.mapp.meetings import Filters, Meetings

    async def job(workflow: Workflow) -> int:
        filters = Filters(level=args.level, overdue_review=args.overdue_review or None,
                          draft_older_than_days=args.draft_older_than)
        meetings, cursor, shown = Meetings(workflow), None, 0
        while True:
            page = await meetings.search(filters, limit=200, cursor=cursor, area=args.area)
            for m in page.items:
                flags = [f for f, on in (("review overdue", m.review_overdue),
                                         ("held late", m.held_late)) if on]
                due = _london(m.review_due_at) if m.review_due_at else "no review set"
                print(f"meeting {m.id} nominal {m.nominal_id} {m.area} level {m.level} {m.kind}"
                      f" held {_london(m.held_at)} {m.state}, review due {due}"
                      + (f" ({', '.join(flags)})" if flags else ""))
            shown += len(page.items)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        print(f"{shown} meeting{'' if shown == 1 else 's'}")
        return 0

    return _run(settings, job)


def cmd_diagrams(args: argparse.Namespace, settings: Settings) -> int:
    from statemachines import diagrams

    target = DOCS / "lifecycle.md"
    if args.check:
        if diagrams.check(target):
            print(f"{target} is up to date")
            return 0
        print(f"{target} is out of date: run `disclosure diagrams`")
        return 1
    changed = diagrams.write(target)
    print(f"{target} {'written' if changed else 'already up to date'}")
    return 0


def cmd_metrics(args: argparse.Namespace, settings: Settings) -> int:
    from disclosure.reports import metrics

    target = DOCS / "metrics.md"
    text = metrics.render()
    current = target.read_text(encoding="utf-8") if target.exists() else None
    if args.check:
        if current == text:
            print(f"{target} is up to date")
            return 0
        print(f"{target} is out of date: run `disclosure metrics`")
        return 1
    if current != text:
        target.write_text(text, encoding="utf-8")
    print(f"{target} {'written' if current != text else 'already up to date'}")
    return 0


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from disclosure.models import Area
    from disclosure.reports import exports, periods
    from disclosure.reports.service import report

    try:
        period = (periods.parse(args.period) if args.period
                  else periods.last_financial_year(datetime.now(LONDON).date()))
    except periods.BadPeriod as bad:
        print(f"--period: {bad}", file=sys.stderr)
        return 2
    as_at = None
    if args.as_at:
        try:
            as_at = datetime.fromisoformat(args.as_at.replace("Z", "+00:00"))
        except ValueError:
            as_at = None
        if as_at is None or as_at.tzinfo is None:
            print("--as-at: give a date and time with a zone, e.g. 2026-04-01T00:00:00Z",
                  file=sys.stderr)
            return 2
    if args.format == "ods" and args.output is None:
        print("--output: an ODS workbook must be written to a file", file=sys.stderr)
        return 2

    async def job(workflow: Workflow) -> int:
        async with workflow.db.report() as session:
            name = await session.scalar(select(Area.name).where(Area.code == args.area))
            if name is None:
                print(f"--area: no area {args.area!r} (see `disclosure areas list`)",
                      file=sys.stderr)
                return 2
            made = await report(
                session, area=args.area, period=period, produced_at=workflow.now(),
                as_at=as_at, publish=args.publish, suppress_below=settings.suppress_below,
            )
        body = exports.render(made, args.format, table=args.table, area_name=name)
        if args.output is None:
            sys.stdout.buffer.write(body)
        else:
            Path(args.output).write_bytes(body)
            print(f"{args.output}: {period.key} report for {args.area}"
                  f" ({len(made.tables)} tables, {args.format})")
        return 0

    return _run(settings, job)


def _users(settings: Settings, workflow: Workflow) -> Users:
    return Users(workflow.db, policy=LoginPolicy.from_settings(settings))


def _read_password() -> str:
    """The password from stdin: typed without echo at a terminal, else the first line piped in."""
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass("password: ")
    return sys.stdin.readline().rstrip("\r\n")


def cmd_areas_add(args: argparse.Namespace, settings: Settings) -> int:
    _upgrade(settings)

    async def job(workflow: Workflow) -> int:
        await _users(settings, workflow).add_area(
            args.code, name=args.name or args.code, divisions=args.division
        )
        print(f"area {args.code}" + (f" with divisions {', '.join(args.division)}"
                                     if args.division else ""))
        return 0

    return _run(settings, job)


def cmd_areas_list(args: argparse.Namespace, settings: Settings) -> int:
    async def job(workflow: Workflow) -> int:
        for code, divisions in (await _users(settings, workflow).areas()).items():
            print(f"{code}\t{', '.join(sorted(divisions))}")
        return 0

    return _run(settings, job)


def cmd_users_add(args: argparse.Namespace, settings: Settings) -> int:
    _upgrade(settings)
    password = _read_password()

    async def job(workflow: Workflow) -> int:
        try:
            user = await _users(settings, workflow).add(
                args.username, password=password, area=args.area, roles=args.role,
                display_name=args.name, created_by=f"cli:{getpass_user()}",
            )
        except UserError as exc:
            print(f"disclosure: {exc}", file=sys.stderr)
            return 2
        print(f"user {user.username} added to {user.area} as {', '.join(user.roles)}")
        return 0

    return _run(settings, job)


def getpass_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def cmd_users_disable(args: argparse.Namespace, settings: Settings) -> int:
    async def job(workflow: Workflow) -> int:
        try:
            await _users(settings, workflow).disable(args.username)
        except UserError as exc:
            print(f"disclosure: {exc}", file=sys.stderr)
            return 2
        print(f"user {args.username} disabled; every token and session revoked")
        return 0

    return _run(settings, job)


def cmd_users_list(args: argparse.Namespace, settings: Settings) -> int:
    async def job(workflow: Workflow) -> int:
        for user in await _users(settings, workflow).list(area=args.area):
            state = "disabled" if user.disabled else "active"
            print(f"{user.username}\t{user.area}\t{','.join(user.roles)}\t{state}")
        return 0

    return _run(settings, job)


def cmd_users_token(args: argparse.Namespace, settings: Settings) -> int:
    async def job(workflow: Workflow) -> int:
        try:
            issued = await _users(settings, workflow).issue(args.username, label=args.label)
        except UserError as exc:
            print(f"disclosure: {exc}", file=sys.stderr)
            return 2
        # The token alone on stdout, so that it can be captured; it is not stored anywhere.
        print(issued.secret)
        print(f"expires {issued.expires_at.isoformat()}", file=sys.stderr)
        return 0

    return _run(settings, job)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="disclosure", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the web service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--demo", type=int, default=0, metavar="N",
                       help="seed N demo requests first if the database is empty")
    serve.add_argument("--no-migrate", action="store_true",
                       help="leave the schema alone (a separate `db upgrade` step migrates)")
    serve.set_defaults(handler=cmd_serve)

    save = commands.add_parser("backup", help="an online copy of the database (pg_dump on"
                               " PostgreSQL)")
    save.add_argument("-o", "--output", type=Path, required=True, metavar="FILE")
    save.add_argument("--force", action="store_true", help="replace FILE if it exists")
    save.set_defaults(handler=cmd_backup)
    load = commands.add_parser("restore", help="restore a backup into the configured database,"
                               " then verify the audit trail")
    load.add_argument("backup", type=Path, metavar="FILE")
    load.add_argument("--force", action="store_true",
                      help="replace a database that already holds data")
    load.add_argument("--checkpoints", type=Path, default=None, metavar="DIR",
                      help="also prove the restored trail extends every checkpoint in DIR")
    load.add_argument("--public-key", type=Path, default=None, metavar="FILE",
                      help="the checkpoints' public key (default: the configured key's .pub)")
    load.set_defaults(handler=cmd_restore)

    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db", required=True)
    db.add_parser("upgrade", help="migrate to the latest schema").set_defaults(
        handler=cmd_db_upgrade
    )

    job_commands = commands.add_parser("jobs", help="background jobs").add_subparsers(
        dest="jobs", required=True
    )
    job_commands.add_parser(
        "run", help="run the background jobs once (pruning old sign-in attempts and credentials)"
    ).set_defaults(handler=cmd_jobs_run)

    demo = commands.add_parser("demo", help="seed realistic synthetic requests")
    demo.add_argument("--requests", type=int, default=500)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--today", type=_noon, default=None, metavar="YYYY-MM-DD",
                      help="the day the history runs up to (default: now); with the same seed,"
                           " day and workers, the same requests")
    demo.add_argument("--workers", type=int, default=1,
                      help="processes telling the stories, each whole years of them")
    demo.add_argument("--nominals", type=int, default=None,
                      help="MAPPA nominals to add (default: one per 20 requests, 24 to 300)")
    demo.set_defaults(handler=cmd_demo)

    meetings = commands.add_parser("meetings", help="MAPP meetings").add_subparsers(
        dest="meetings", required=True
    )
    listing = meetings.add_parser("list", help="meetings, latest held first, with review flags")
    listing.add_argument("--area", default=None)
    listing.add_argument("--level", type=int, choices=(2, 3), default=None)
    listing.add_argument("--overdue-review", action="store_true",
                         help="only the latest meetings whose review date has passed")
    listing.add_argument("--draft-older-than", type=int, default=None, metavar="DAYS",
                         help="only drafts held more than DAYS days ago")
    listing.set_defaults(handler=cmd_meetings_list)

    trail = commands.add_parser("audit", help="the audit trail").add_subparsers(
        dest="audit", required=True
    )
    verify = trail.add_parser("verify", help="check every chain and row seal")
    verify.add_argument("--reference", default=None)
    verify.add_argument("--checkpoints", type=Path, default=None, metavar="DIR",
                        help="also prove the trail extends every checkpoint in DIR")
    verify.add_argument("--public-key", type=Path, default=None,
                        help="the checkpoints' public key (default: the configured key's .pub)")
    verify.set_defaults(handler=cmd_audit_verify)
    checkpoint = trail.add_parser("checkpoint", help="write a signed checkpoint of the trail")
    checkpoint.add_argument("-o", "--output", type=Path, default=Path("checkpoints"),
                            metavar="DIR", help="the folder to write it to")
    checkpoint.set_defaults(handler=cmd_audit_checkpoint)
    keygen = trail.add_parser("keygen", help="make the trail key and the checkpoint key")
    keygen.add_argument("--rotate", action="store_true",
                        help="add a new current trail key, keeping the old ones")
    keygen.set_defaults(handler=cmd_audit_keygen)
    trail.add_parser(
        "reseal", help="key a trail written before keys (once, at that upgrade)"
    ).set_defaults(handler=cmd_audit_reseal)
    erase = trail.add_parser("erase", help="erase one event's payload for retention")
    erase.add_argument("--reference", required=True)
    erase.add_argument("--seq", type=int, required=True)
    erase.add_argument("--reason", required=True)
    erase.add_argument("--authorised-by", required=True, metavar="ADMIN")
    erase.set_defaults(handler=cmd_audit_erase)

    clocks = commands.add_parser("clocks", help="due dates").add_subparsers(
        dest="clocks", required=True
    )
    recompute = clocks.add_parser(
        "recompute", help="store the due dates a policy file gives open requests, on their trail"
    )
    recompute.add_argument("--dry-run", action="store_true",
                           help="list the requests that would change; write nothing")
    recompute.add_argument("--policy-file", type=Path, default=None,
                           help="the override to apply (default: the configured one)")
    recompute.add_argument("--actor", default="system:clocks",
                           help="who the recompute_clock events are recorded as")
    recompute.set_defaults(handler=cmd_clocks_recompute)
    areas = commands.add_parser("areas", help="police force and MAPPA areas").add_subparsers(
        dest="areas", required=True
    )
    area_add = areas.add_parser("add", help="add an area, or divisions to one")
    area_add.add_argument("code")
    area_add.add_argument("--name", default=None)
    area_add.add_argument("--division", action="append", default=[])
    area_add.set_defaults(handler=cmd_areas_add)
    areas.add_parser("list", help="areas and their divisions").set_defaults(handler=cmd_areas_list)

    users = commands.add_parser("users", help="user accounts").add_subparsers(
        dest="users", required=True
    )
    add = users.add_parser("add", help="add a user; the password is read from stdin")
    add.add_argument("username")
    add.add_argument("--area", required=True)
    add.add_argument("--role", action="append", required=True, choices=ROLES)
    add.add_argument("--name", default=None, help="display name")
    add.set_defaults(handler=cmd_users_add)
    disable = users.add_parser("disable", help="disable a user and revoke their credentials")
    disable.add_argument("username")
    disable.set_defaults(handler=cmd_users_disable)
    listing = users.add_parser("list", help="list users")
    listing.add_argument("--area", default=None)
    listing.set_defaults(handler=cmd_users_list)
    token = users.add_parser("token", help="issue a bearer token for a user (printed once)")
    token.add_argument("username")
    token.add_argument("--label", default="issued with the CLI")
    token.set_defaults(handler=cmd_users_token)

    search = commands.add_parser("search", help="the search index").add_subparsers(
        dest="search", required=True
    )
    search.add_parser(
        "reindex", help="rewrite every party's search terms (after a change to normalisation)"
    ).set_defaults(handler=cmd_search_reindex)
    diagrams = commands.add_parser("diagrams", help="draw the lifecycles into docs/")
    diagrams.add_argument("--check", action="store_true", help="fail if docs/ is out of date")
    diagrams.set_defaults(handler=cmd_diagrams)
    documented = commands.add_parser("metrics", help="write the report metrics into docs/")
    documented.add_argument("--check", action="store_true", help="fail if docs/ is out of date")
    documented.set_defaults(handler=cmd_metrics)
    board = commands.add_parser("report", help="the board's report of an area for a period")
    board.add_argument("--period", help="2025-26, 2025-26-Q3 or 2025-04-01..2025-06-30"
                       " (default: the last financial year)")
    board.add_argument("--area", required=True, help="the area's code")
    board.add_argument("--format", choices=["json", "csv", "ods", "html"], default="json")
    board.add_argument("--table", choices=sorted(SPECS),
                       help="json or csv: one table (csv without it: every table, one line"
                       " per cell)")
    board.add_argument("--as-at", dest="as_at",
                       help="the figures as the records stood then, e.g. 2026-04-01T00:00:00Z")
    board.add_argument("--publish", action="store_true",
                       help="suppress small counts in every table")
    board.add_argument("-o", "--output", help="the file to write (default: standard output)")
    board.set_defaults(handler=cmd_report)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = Settings()
        code: int = args.handler(args, settings)
    except (PolicyError, keys.TrailKeyError) as exc:
        print(f"disclosure: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
