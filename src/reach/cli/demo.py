"""``reach demo``: a ready-to-call server with demo reference data and a demo client."""

from __future__ import annotations

import json
import secrets
import shlex
import socket
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from reach.cli.context import Context, context, err, load_settings
from reach.cli.data import store_of, sync_brands
from reach.cli.sandbox import admin_token
from reach.cli.serve import run_server
from reach.reference.taxonomy import taxonomy

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from reach.audience_segment.schemas import BehavioralCategory
    from reach.audience_segment.service import AudienceSegmentService
    from reach.auth.service import IssuedCredentials

DEMO_CLIENT = "reach-demo"
DEMO_OPERATOR = "operator@demo.reach-audiences.example.com"
ADVERTISERS = {1001: "Northwind Outfitters", 1002: "Contoso Electronics", 1003: "Fabrikam Travel"}
BEHAVIORAL: list[tuple[str, BehavioralCategory]] = [
    ("Outdoor enthusiasts", "Lifestyles"),
    ("Recently moved", "LifeEvents"),
    ("Holiday shoppers", "Seasonal"),
    ("Bargain hunters", "BuyingPatterns"),
]
DEMO_COUNTRY = "FR"
EXAMPLE_NAMES = ["Visitors of the last 30 days", "In the market for running shoes"]
LOOKALIKE_NAME = "Like the running-shoe shoppers"
LOOKALIKE_SIZE = 1000
DEMO_AUDIENCE = "Recent visitors shopping for running shoes"
ADMIN_TOKEN_HOURS = 24.0


def seed(ctx: Context, session: Session) -> None:
    """Add what is missing of the demo data; what exists is left as it is."""
    from reach.audience_segment.schemas import (  # noqa: PLC0415
        AudienceSegmentCreateEntityV1,
        AudienceSegmentCreateEntityV1Resource,
        InMarketCreateV1,
        RetargetingCreateV1,
    )
    from reach.audience_segment.service import AudienceSegmentService  # noqa: PLC0415
    from reach.engine.demo_data import BRANDS  # noqa: PLC0415
    from reach.models import Advertiser, Brand  # noqa: PLC0415
    from reach.reference.repository import AdvertiserRepository, BrandRepository  # noqa: PLC0415

    advertisers = AdvertiserRepository(session)
    for advertiser_id, name in ADVERTISERS.items():
        if advertisers.get(advertiser_id) is None:
            advertisers.add(Advertiser(id=advertiser_id, name=name, created_at=ctx.clock.now()))
    brands = BrandRepository(session)
    for number, name in enumerate(BRANDS, start=1):
        if brands.get(number) is None:
            brands.add(Brand(id=number, name=name))
    segments = AudienceSegmentService(session, ctx.settings, ctx.clock)
    for advertiser_id in ADVERTISERS:
        names = set(segments.segments.names_in_use(advertiser_id, [n for n, _ in BEHAVIORAL]))
        for name, category in BEHAVIORAL:
            if name not in names:
                segments.add_behavioral(advertiser_id, name, category, DEMO_COUNTRY, None, None)
        examples = [
            AudienceSegmentCreateEntityV1(
                advertiser_id=str(advertiser_id),
                name=EXAMPLE_NAMES[0],
                retargeting=RetargetingCreateV1(
                    visitors_type="All", days_since_last_visit_min=0, days_since_last_visit_max=30
                ),
            ),
            AudienceSegmentCreateEntityV1(
                advertiser_id=str(advertiser_id),
                name=EXAMPLE_NAMES[1],
                in_market=InMarketCreateV1(country=DEMO_COUNTRY, brand_ids=["1", "3", "15"]),
            ),
        ]
        taken = segments.segments.names_in_use(advertiser_id, [e.name or "" for e in examples])
        wanted = [
            AudienceSegmentCreateEntityV1Resource(attributes=e)
            for e in examples
            if e.name not in taken
        ]
        if wanted:
            segments.create(frozenset(ADVERTISERS), wanted)
        seed_lookalike(segments, advertiser_id)
        seed_audience(ctx, session, advertiser_id)


def seed_lookalike(segments: AudienceSegmentService, advertiser_id: int) -> None:
    """A lookalike of the in-market example (its model is built once the server runs)."""
    from reach.audience_segment.schemas import (  # noqa: PLC0415
        AudienceSegmentCreateEntityV1,
        AudienceSegmentCreateEntityV1Resource,
        LookalikeCreateV1,
    )

    ids = segments.segments.names_in_use(advertiser_id, [EXAMPLE_NAMES[1], LOOKALIKE_NAME])
    if LOOKALIKE_NAME in ids or EXAMPLE_NAMES[1] not in ids:
        return
    lookalike = AudienceSegmentCreateEntityV1(
        advertiser_id=str(advertiser_id),
        name=LOOKALIKE_NAME,
        lookalike=LookalikeCreateV1(
            seed_segment_id=str(ids[EXAMPLE_NAMES[1]]), target_size=LOOKALIKE_SIZE
        ),
    )
    segments.create(
        frozenset(ADVERTISERS), [AudienceSegmentCreateEntityV1Resource(attributes=lookalike)]
    )


def seed_audience(ctx: Context, session: Session, advertiser_id: int) -> None:
    """Two ad sets, and an audience of the two example segments linked to the first one."""
    from reach.audience.schemas import (  # noqa: PLC0415
        AdSetAudienceLinkInputEntityV1,
        AlgebraNodeV1,
        AudienceCreateEntityV1,
        AudienceCreateEntityV1Resource,
    )
    from reach.audience.service import AudienceService  # noqa: PLC0415
    from reach.audience_segment.service import AudienceSegmentService  # noqa: PLC0415
    from reach.reference.service import ReferenceService  # noqa: PLC0415

    reference = ReferenceService(session, ctx.clock)
    ad_set_ids = [advertiser_id * 10 + 1, advertiser_id * 10 + 2]
    for number, ad_set_id in enumerate(ad_set_ids, start=1):
        if reference.ad_sets.get(ad_set_id) is None:
            reference.add_ad_set(str(ad_set_id), advertiser_id, f"Ad set {number}")
    audiences = AudienceService(session, ctx.settings, ctx.clock)
    if audiences.audiences.names_in_use(advertiser_id, [DEMO_AUDIENCE]):
        return
    example_ids = AudienceSegmentService(session, ctx.settings, ctx.clock).segments.names_in_use(
        advertiser_id, EXAMPLE_NAMES
    )
    if not example_ids:
        return
    tree = AlgebraNodeV1.model_validate(
        {"and": [{"audienceSegmentId": str(i)} for i in sorted(example_ids.values())]}
    )
    reachable = frozenset([advertiser_id])
    created = audiences.create(
        reachable,
        [
            AudienceCreateEntityV1Resource(
                attributes=AudienceCreateEntityV1(
                    advertiser_id=str(advertiser_id), name=DEMO_AUDIENCE, algebra=tree
                )
            )
        ],
    )
    if not created.data:
        reasons = "; ".join(problem.detail for problem in created.errors)
        err.print(
            f"[yellow]demo audience of advertiser {advertiser_id} not created:[/yellow] {reasons}"
        )
        return
    link = AdSetAudienceLinkInputEntityV1.model_validate(
        {"data": {"attributes": {"audienceId": str(created.data[0].audience.id)}}}
    )
    audiences.link_ad_set(reachable, str(ad_set_ids[0]), link)


def demo_client(
    ctx: Context, session: Session, client_id: str | None = None, client_secret: str | None = None
) -> IssuedCredentials:
    """The demo client: ``client_id`` when chosen, with ``client_secret`` when chosen (so a
    re-run keeps it), else with a fresh secret (secrets are stored hashed, so a re-run rotates)."""
    auth = ctx.auth(session)
    if client_id is None:
        active = [c for c in auth.list_clients() if c.name == DEMO_CLIENT and c.revoked_at is None]
        client_id = active[0].client_id if active else None
    elif auth.clients.by_client_id(client_id) is None:
        return auth.create_client(
            DEMO_CLIENT,
            list(ADVERTISERS),
            read_only=False,
            client_id=client_id,
            client_secret=client_secret,
        )
    if client_id is not None:
        return auth.rotate_secret(client_id, new_secret=client_secret)
    return auth.create_client(
        DEMO_CLIENT, list(ADVERTISERS), read_only=False, client_secret=client_secret
    )


def demo_operator(ctx: Context, session: Session, password: str | None) -> tuple[str, str]:
    """The demo's console operator, granted every demo advertiser: its e-mail and password.
    A chosen password is kept on every run; otherwise each run sets a fresh one (passwords are
    stored only as hashes, so an old one cannot be shown again)."""
    from reach.auth.service import OperatorService  # noqa: PLC0415

    operators = OperatorService(session, ctx.clock)
    chosen = password or secrets.token_urlsafe(12)
    if operators.operators.by_email(DEMO_OPERATOR) is None:
        operators.add(DEMO_OPERATOR, chosen)
    else:
        operators.set_password(DEMO_OPERATOR, chosen)
    operators.grant(DEMO_OPERATOR, list(ADVERTISERS))
    return DEMO_OPERATOR, chosen


def console_instructions(base: str, email: str, password: str) -> str:
    return f"""
Reach console (build audiences and see their sizes as you edit): {base}/console
  e-mail:   {email}
  password: {password}
"""


def check_can_listen(host: str, port: int) -> None:
    """Fail, before anything changes, when ``host:port`` cannot be listened on (most often: a
    server, perhaps another demo, already listens there)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            # As uvicorn does: a port left in TIME_WAIT by a stopped server is free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        err.print(
            f"[red]error:[/red] cannot listen on {host}:{port} ({exc.strerror or exc});"
            " is a server already running there? Nothing was changed. Stop it, or choose"
            " another --port."
        )
        raise typer.Exit(1) from None


DEMO_DATA = {"users": 20_000, "days": 30, "seed": 42}


def ensure_index(ctx: Context) -> None:
    """Generate, ingest and index the demo event data, unless an index is already in service."""
    from reach.engine.demo_data import generate  # noqa: PLC0415
    from reach.engine.index import IndexBuilder, current_build  # noqa: PLC0415
    from reach.engine.ingest import Ingestor, files_by_kind  # noqa: PLC0415
    from reach.reference.countries import alpha2_codes  # noqa: PLC0415

    data_dir = ctx.settings.data_dir
    if current_build(data_dir) is not None:
        return
    source = data_dir / "demo-data"
    typer.echo(f"Generating demo event data into {source} ...")
    generate(
        source,
        users=DEMO_DATA["users"],
        days=DEMO_DATA["days"],
        advertisers=len(ADVERTISERS),
        seed=DEMO_DATA["seed"],
        end_date=datetime.now(UTC).date(),
        interests=taxonomy().leaves(),
    )
    store = store_of(ctx)
    ingestor = Ingestor(
        store, countries=sorted(alpha2_codes()), interests=list(taxonomy().interests)
    )
    for kind, path in files_by_kind(source):
        report = ingestor.ingest(kind, path)
        typer.echo(f"  ingested {path.name}: {report.accepted:,} rows")
    sync_brands(ctx, store)
    built = IndexBuilder(store, data_dir).build()
    typer.echo(f"  index built: data up to {built.as_of}, {built.events:,} events")


def sandbox_instructions(base: str, admin_token: str) -> str:
    return f"""
Sandbox controls (this admin token works {ADMIN_TOKEN_HOURS:g} h; another: reach admin token):
ADMIN={admin_token}
curl -s {base}/_reach/journal -H "Authorization: Bearer $ADMIN"
curl -s -X POST {base}/_reach/reset -H "Authorization: Bearer $ADMIN"

(The reset removes every segment, audience and contact list clients made, the demo's included:
run reach demo again to seed them. Faults and the journal: docs/sandbox.md.)
"""


def instructions(base: str, credentials: IssuedCredentials, segment_ids: list[int]) -> str:
    client_id = shlex.quote(credentials.client_id)
    secret = shlex.quote(credentials.client_secret)
    body = shlex.quote('{"data": {"attributes": {"advertiserIds": ["1001"]}}}')
    sizes = shlex.quote(json.dumps({"data": [{"id": str(i)} for i in segment_ids]}))
    return f"""
Reach demo client (advertisers {", ".join(credentials.advertisers)}):
  client_id:     {credentials.client_id}
  client_secret: {credentials.client_secret}

Try it from another terminal:

TOKEN=$(curl -s -X POST {base}/oauth2/token \\
  -d grant_type=client_credentials -d client_id={client_id} \\
  --data-urlencode client_secret={secret} \\
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
curl -s -X POST {base}/2025-01/marketing-solutions/audience-segments/search \\
  -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
  -d {body}
curl -s -X POST {base}/2025-01/marketing-solutions/audience-segments/compute-sizes \\
  -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
  -d {sizes}

(The last of those segments is a lookalike: its size is null, with a "lookalike-computing"
warning, until its model is built a few seconds after the start.)
"""


def demo(
    host: Annotated[str | None, typer.Option(help="Interface to listen on (REACH_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (REACH_PORT).")] = None,
    client_id: Annotated[
        str | None,
        typer.Option(
            envvar="REACH_DEMO_CLIENT_ID",
            help="Give the demo client this id (3 to 64 letters, digits, '.', '-', '_').",
        ),
    ] = None,
    client_secret: Annotated[
        str | None,
        typer.Option(
            envvar="REACH_DEMO_CLIENT_SECRET",
            help="Give the demo client this secret, kept on every re-run (16+ characters).",
        ),
    ] = None,
    operator_password: Annotated[
        str | None,
        typer.Option(
            envvar="REACH_DEMO_OPERATOR_PASSWORD",
            help="Give the console's demo operator this password, kept on every re-run"
            " (12+ characters).",
        ),
    ] = None,
) -> None:
    """Migrate, seed demo data, a demo client and a console operator, print how to use them,
    and serve with the sandbox controls on."""
    from reach.audience_segment.service import AudienceSegmentService  # noqa: PLC0415
    from reach.auth.service import (  # noqa: PLC0415
        check_chosen_client_id,
        check_chosen_secret,
        check_password_rules,
    )
    from reach.schema import upgrade_to_head  # noqa: PLC0415

    configured = load_settings()
    bind_host = host or configured.host
    bind_port = port or configured.port
    check_can_listen(bind_host, bind_port)
    with context(require_schema=False) as ctx:
        if client_id is not None:
            check_chosen_client_id(client_id)
        if client_secret is not None:
            check_chosen_secret(client_secret)
        if operator_password is not None:
            check_password_rules(operator_password)
        upgrade_to_head(ctx.settings.resolved_database_url)
        with ctx.database.session(write=True) as session:
            seed(ctx, session)
            credentials = demo_client(ctx, session, client_id, client_secret)
            operator = demo_operator(ctx, session, operator_password)
            examples = AudienceSegmentService(session, ctx.settings, ctx.clock).segments
            shown = [*EXAMPLE_NAMES, LOOKALIKE_NAME]
            segment_ids = sorted(examples.names_in_use(1001, shown).values())
        ensure_index(ctx)
        # A sandbox: exact sizes (every size answer says so), unless chosen otherwise.
        exact = {} if "size_privacy" in configured.model_fields_set else {"size_privacy": "exact"}
        settings = ctx.settings.model_copy(update={"sandbox": True} | exact)
    base = f"http://{bind_host}:{bind_port}"
    # Plain echo: the snippet must not be re-wrapped, or it would not run as printed.
    typer.echo(instructions(base, credentials, segment_ids))
    typer.echo(sandbox_instructions(base, admin_token(settings, ADMIN_TOKEN_HOURS)))
    typer.echo(console_instructions(base, *operator))
    run_server(settings, bind_host, bind_port)
