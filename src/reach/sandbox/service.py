"""The sandbox of one server process: admin tokens, fault rules, the journal, and the reset.

Fault rules and the journal live in this process's memory (one server process: several behind
a load balancer would each have their own). The reset works on the store, so the command line
(``reach reset``) runs it too, with or without a server.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute

from reach.auth.repository import ClientRepository
from reach.config import Settings
from reach.contact_list.storage import ListStore
from reach.db import Database
from reach.kit.clock import Clock
from reach.kit.ids import parse_id
from reach.kit.problems import Invalid, Problem, RequestProblems, RequiredField, TooManyItems
from reach.lookalike.storage import ResultStore
from reach.reference.repository import AdvertiserRepository
from reach.sandbox.auth import AdminTokens
from reach.sandbox.errors import AdvertiserNotFound, UnknownClient, UnknownOperation
from reach.sandbox.faults import MAX_RULES, FaultBook, FaultRule, Sleep, serve
from reach.sandbox.journal import CLIENT_KEY, FAULT_KEY, Journal
from reach.sandbox.repository import ResetRepository
from reach.sandbox.schemas import FaultRuleInput

# Fault kinds that answer with Retry-After (the others ignore retryAfterSeconds).
RETRYING_KINDS = frozenset({"429", "503"})


@dataclass(frozen=True)
class ResetReport:
    advertiser_id: int | None
    audience_segments: int
    audiences: int
    contact_lists: int
    lookalike_results: int
    ad_set_links: int
    faults: int = 0
    journal_entries: int = 0


def reset_store(
    database: Database, lists: ListStore, results: ResultStore, advertiser_id: int | None
) -> ResetReport:
    """Remove what API clients created (of one advertiser, or of all): ad-set links, audiences,
    segments other than platform ones, contact-list identifiers and lookalike results.

    Advertisers, ad sets, brands, clients, platform segments, event data and the index stay.
    The rows go in one transaction, under the advertiser locks every writer takes (in id order,
    as the segment and audience services do); the files go once it is committed.
    """
    with database.session(write=True) as session:
        advertisers = AdvertiserRepository(session)
        resets = ResetRepository(session)
        if advertiser_id is None:
            advertiser_ids = resets.advertiser_ids()
        elif advertisers.get(advertiser_id) is None:
            raise AdvertiserNotFound(
                f"Advertiser {advertiser_id} does not exist",
                source={"advertiserId": "advertiserId"},
            )
        else:
            advertiser_ids = [advertiser_id]
        advertisers.lock(advertiser_ids)
        removed = resets.remove(advertiser_ids)
    for segment_id in removed.contact_list_ids:
        lists.drop(segment_id)
    # Only the removed lookalikes' results: one created meanwhile keeps its own.
    built = sum(results.has_any(i) for i in removed.lookalike_ids)
    for segment_id in removed.lookalike_ids:
        results.drop(segment_id)
    return ResetReport(
        advertiser_id=advertiser_id,
        audience_segments=removed.segments,
        audiences=removed.audiences,
        contact_lists=len(removed.contact_list_ids),
        lookalike_results=built,
        ad_set_links=removed.ad_set_links,
    )


def operation_ids(routers: Iterable[APIRouter]) -> set[str]:
    """The operationIds of the API's routes: what a fault rule may name."""
    return {
        route.operation_id
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and route.operation_id
    }


def advertiser_to_reset(raw: str | None) -> int | None:
    if raw is None:
        return None
    advertiser_id = parse_id(raw)
    if advertiser_id is None:
        raise Invalid(f"'{raw}' is not an advertiser id", source={"advertiserId": "advertiserId"})
    return advertiser_id


class Sandbox:
    """What ``/_reach/`` controls; ``app.state.sandbox`` when the sandbox is on, else None."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        server_key: bytes,
        operations: Collection[str],
        sleep: Sleep = time.sleep,
    ) -> None:
        self.operations = frozenset(operations)
        self.admin = AdminTokens(server_key, clock)
        self.faults = FaultBook()
        self.journal = Journal(settings.sandbox_journal_size)
        self.clock = clock
        self.sleep = sleep

    def on_call(self, request: Request, client_id: str) -> None:
        """An API call of ``client_id`` has authenticated: note the caller for the journal, and
        serve it the fault a rule has for it, if any (raised, or a delay before it goes on)."""
        setattr(request.state, CLIENT_KEY, client_id)
        operation = getattr(request.scope.get("route"), "operation_id", None)
        picked = self.faults.pick(client_id, operation)
        if picked is None:
            return
        rule, kind = picked
        setattr(request.state, FAULT_KEY, {"rule": rule.id, "kind": kind})
        serve(request, rule, kind, self.sleep)

    def reset(
        self, database: Database, lists: ListStore, results: ResultStore, raw_advertiser: str | None
    ) -> ResetReport:
        """The store's reset; a whole reset also clears the fault rules and the journal."""
        report = reset_store(database, lists, results, advertiser_to_reset(raw_advertiser))
        if report.advertiser_id is not None:
            return report
        faults, entries = self.faults.clear(), self.journal.clear()
        return ResetReport(**(vars(report) | {"faults": faults, "journal_entries": entries}))

    def add_fault(self, body: FaultRuleInput, clients: ClientRepository) -> FaultRule:
        problems = rule_problems(body, self.operations)
        if body.client_id is not None and clients.by_client_id(body.client_id) is None:
            problems.append(
                UnknownClient(
                    f"No client with id {body.client_id}", source={"clientId": "clientId"}
                )
            )
        if len(self.faults) >= MAX_RULES:
            problems.append(TooManyItems(f"At most {MAX_RULES} fault rules; clear some first"))
        if problems:
            raise RequestProblems(problems)
        return self.faults.add(
            FaultRule(
                id="",
                created_at=self.clock.now(),
                client_id=body.client_id,
                operation=body.operation,
                answers=tuple(body.answers) if body.answers is not None else None,
                share=body.share,
                answer=body.answer,
                count=body.count,
                seed=body.seed,
                delay_ms=body.delay_ms,
                retry_after_seconds=body.retry_after_seconds,
            )
        )


def rule_problems(body: FaultRuleInput, operations: Collection[str]) -> list[Problem]:
    """Every way the members of a fault rule contradict each other."""
    problems: list[Problem] = []

    def invalid(member: str, detail: str) -> None:
        problems.append(Invalid(detail, source={member: member}))

    if body.answers is not None and body.share is not None:
        invalid("share", "Give either 'answers' (a sequence) or 'share' with 'answer', not both")
    elif body.answers is None and body.share is None:
        problems.append(
            RequiredField(
                "Give 'answers' (a sequence of faults) or 'share' with 'answer'",
                source={"answers": "answers"},
            )
        )
    if body.share is not None and body.answer is None:
        problems.append(
            RequiredField("'answer' is required with 'share'", source={"answer": "answer"})
        )
    if body.answers is not None:
        if body.answer is not None:
            invalid("answer", "'answer' goes with 'share'; a sequence lists its 'answers'")
        if body.count is not None:
            invalid("count", "'count' limits a share; a sequence ends with its last answer")
        if body.seed is not None:
            invalid("seed", "'seed' goes with 'share'; a sequence draws nothing")
    kinds = set(body.answers or ()) | ({body.answer} if body.answer else set())
    if "latency" in kinds and body.delay_ms is None:
        problems.append(
            RequiredField("'delayMs' is required by a latency fault", source={"delayMs": "delayMs"})
        )
    if body.delay_ms is not None and kinds and "latency" not in kinds:
        invalid("delayMs", "'delayMs' only applies to latency faults")
    if body.retry_after_seconds is not None and kinds and not kinds & RETRYING_KINDS:
        invalid("retryAfterSeconds", "'retryAfterSeconds' only applies to 429 and 503 faults")
    if body.operation is not None and body.operation not in operations:
        problems.append(
            UnknownOperation(
                f"'{body.operation}' is not an operation of the API; one of "
                + ", ".join(sorted(operations)),
                source={"operation": "operation"},
            )
        )
    return problems
