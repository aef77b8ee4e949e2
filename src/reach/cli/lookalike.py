"""``reach lookalike``: build the lookalikes now, see their state, explain a model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from reach.cli.context import Context, context, err, fail, out

if TYPE_CHECKING:
    from reach.lookalike.worker import LookalikeWorker

app = typer.Typer(help="Lookalike segments: build, state, explanation.", no_args_is_help=True)


def _worker(ctx: Context) -> LookalikeWorker:
    from reach.contact_list.service import ListMatches  # noqa: PLC0415
    from reach.contact_list.storage import ListStore  # noqa: PLC0415
    from reach.engine.query import IndexProvider  # noqa: PLC0415
    from reach.kit.privacy import SizePrivacy  # noqa: PLC0415
    from reach.lookalike.storage import ResultStore  # noqa: PLC0415
    from reach.lookalike.worker import LookalikeWorker  # noqa: PLC0415

    settings = ctx.settings
    indexes = IndexProvider(settings.data_dir)
    lists = ListMatches(ListStore(settings.data_dir / "lists"), SizePrivacy.from_settings(settings))
    # Built here, in this process: the command is the worker.
    settings = settings.model_copy(update={"lookalike_processes": 0})
    return LookalikeWorker(
        settings, ctx.database, indexes, lists, ResultStore(settings.data_dir / "lookalikes")
    )


@app.command("build")
def build_command(
    retry: Annotated[
        bool, typer.Option("--retry", help="Try again the lookalikes whose build failed.")
    ] = False,
) -> None:
    """Build every lookalike whose model is missing for the current data (a running server
    does this by itself; this is for scripts and for a server that is down)."""
    from reach.engine.query import IndexProvider  # noqa: PLC0415

    with context() as ctx:
        if IndexProvider(ctx.settings.data_dir).current() is None:
            fail("no index is in service: run `reach index build` first")
        worker = _worker(ctx)
        if retry:
            out.print(f"{worker.results.forget_failures()} failed build(s) to try again")
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
        ) as progress:
            task = progress.add_task("lookalikes", total=None)

            def report(segment_id: int, done: int, total: int) -> None:
                what = f"lookalike {segment_id}" if done < total else "lookalikes"
                progress.update(task, description=what, completed=done, total=total)

            scan = worker.run_once(report)
        for segment_id, reason in scan.failed:
            out.print(f"[red]lookalike {segment_id} failed:[/red] {escape(reason)}")
        built = scan.built
        if not built:
            if not scan.failed:
                out.print("Every lookalike is up to date.")
            return
        table = Table("segment", "members", "seed", "eligible", "holdout AUC", "seconds")
        for item in built:
            s = item.summary
            auc = s["holdout_auc"]
            table.add_row(
                str(item.segment_id),
                f"{s['size']:,}",
                f"{s['seed_size']:,}",
                f"{s['eligible_size']:,}",
                "-" if auc is None else f"{auc:.3f}",
                f"{s['seconds']:.1f}",
            )
        out.print(table)


@app.command()
def status() -> None:
    """Every lookalike: its target size and whether its model is built for the current data."""
    from reach.audience_segment.repository import AudienceSegmentRepository  # noqa: PLC0415
    from reach.audience_segment.schemas import LookalikeV1  # noqa: PLC0415

    with context() as ctx:
        worker = _worker(ctx)
        pending = {wanted.segment_id for wanted in worker.pending()}
        table = Table("segment", "advertiser", "seed", "target size", "members", "state")
        with ctx.database.session() as session:
            for segment in AudienceSegmentRepository(session).of_type("Lookalike"):
                summary = worker.results.summary(segment.id)
                definition = LookalikeV1.model_validate(segment.definition)
                table.add_row(
                    str(segment.id),
                    str(segment.advertiser_id),
                    definition.seed_segment_id,
                    f"{definition.target_size:,}",
                    "-" if summary is None else f"{summary['size']:,}",
                    _state(worker, segment.id, pending),
                )
        out.print(table)


def _state(worker: LookalikeWorker, segment_id: int, pending: set[int]) -> str:
    from reach.lookalike.explain import RETRY, state  # noqa: PLC0415

    found = state(worker.results, segment_id, segment_id in pending)
    if found.reason is None:
        return found.name
    return f"failed: {escape(found.reason)} (retry: {RETRY})"


@app.command()
def explain(segment_id: Annotated[int, typer.Argument(metavar="SEGMENT_ID")]) -> None:
    """The strongest features of a lookalike's model, and what it was trained on."""
    from reach.lookalike.explain import (  # noqa: PLC0415
        brand_names,
        explanation,
        share_text,
        weight_text,
    )
    from reach.lookalike.storage import ResultStore  # noqa: PLC0415

    with context() as ctx:
        results = ResultStore(ctx.settings.data_dir / "lookalikes")
        with ctx.database.session() as session:
            brands = brand_names(session)
        found = explanation(results, segment_id, brands)
        if found is None:
            fail(
                f"lookalike {segment_id} has no model yet (is it a lookalike? is its model built?"
                " see `reach lookalike status`)"
            )
            return
        auc = found.holdout_auc
        out.print(
            f"Lookalike {segment_id}: {found.size:,} members among"
            f" {found.eligible_size:,} eligible users of {', '.join(found.countries)};"
            f" seed of {found.seed_size:,} matched users."
        )
        out.print(
            f"Trained on {found.positives:,} seed users and {found.negatives:,}"
            f" others; holdout AUC {'-' if auc is None else f'{auc:.3f}'};"
            f" index {found.build_id} (data up to {found.index_as_of});"
            f" built {found.built_at} in {found.seconds:.1f} s."
        )
        table = Table("feature", "weight", "in seed", "among eligible")
        for feature in found.features:
            table.add_row(
                feature.label,
                weight_text(feature.weight),
                share_text(feature.seed_share),
                share_text(feature.eligible_share),
            )
        out.print(table)
