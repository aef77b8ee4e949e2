"""Lookalike benchmark: how well a lookalike recovers a hidden group, and what a big one costs.

Quality (in this process, over the engine): the demo data plants hidden taste groups. For each
group, a lookalike is seeded with a random share of the group and asked for as many users as
the rest of the group; precision (= recall at that size) and the AUC of its scores over every
eligible user are compared with two baselines drawn in the same run: random eligible users, and
eligible users who browsed the seed's most common interest (at product level, and with the
taxonomy's descendants).

Speed (through the API, as a user meets it): one `reach serve` with its trainer process; a
contact list of e-mails as the seed, then a lookalike of `--target` users over the whole
universe; measured from the create call until compute-sizes answers a size, with the peak
memory of the server and of the trainer.

    python -m benchmarks.lookalike --users 10000000          # generates data under --work
    python -m benchmarks.lookalike --data-dir D --raw R      # an existing data dir and its files
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
from pyroaring import FrozenBitMap
from rich.table import Table
from sklearn.metrics import roc_auc_score

# Run as a script (`python benchmarks/lookalike.py`), the repository root is not on the path yet.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (
    ROOT,
    BenchmarkError,
    Http,
    Server,
    console,
    get_token,
    json_headers,
    machine_facts,
    proc_status,
    raise_on_sigterm,
    run_cli,
)
from reach.engine.bitmaps import bitmap_of, ordinals_of
from reach.engine.demo_data import TASTES
from reach.engine.features import FeatureSpace, user_features
from reach.engine.lookalike import Model, top, train
from reach.engine.query import Index, IndexProvider
from reach.reference.taxonomy import taxonomy

DEFAULT_OUT = ROOT / "benchmarks" / "reports" / "lookalike.json"
SEGMENTS = "/2025-01/marketing-solutions/audience-segments"
ADVERTISER = 1001
BATCH = 50_000
TARGETS = {
    "precision_vs_better_baseline": 3.0,
    "build_seconds": 60.0,
    "trainer_peak_rss_mib": 4096.0,
}


@dataclass(frozen=True)
class Options:
    users: int
    days: int
    data_dir: Path | None
    raw: Path | None
    work: Path | None
    keep: bool
    seed_share: float
    groups: list[int]
    speed_seed: int
    target: int
    seed: int
    out: Path


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000_000, help="Users to generate.")
    parser.add_argument("--days", type=int, default=30, help="Days of data to generate.")
    parser.add_argument("--data-dir", type=Path, help="A Reach data dir with an index to use.")
    parser.add_argument("--raw", type=Path, help="The demo files of --data-dir (with truth/).")
    parser.add_argument("--work", type=Path, help="Where generated data goes (kept between runs).")
    parser.add_argument("--keep", action="store_true", help="Keep a temporary work directory.")
    parser.add_argument("--seed-share", type=float, default=0.1, help="Share of a group seeded.")
    parser.add_argument(
        "--groups", type=int, nargs="*", default=list(range(len(TASTES))), help="Taste groups."
    )
    parser.add_argument(
        "--speed-seed", type=int, default=500_000, help="E-mails in the speed run's seed list."
    )
    parser.add_argument("--target", type=int, default=1_000_000, help="Speed run target size.")
    parser.add_argument("--seed", type=int, default=42, help="Seed of the samples.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Where the report goes.")
    a = parser.parse_args(argv)
    if (a.data_dir is None) != (a.raw is None):
        parser.error("--data-dir and --raw go together")
    return Options(
        a.users,
        a.days,
        a.data_dir,
        a.raw,
        a.work,
        a.keep,
        a.seed_share,
        a.groups,
        a.speed_seed,
        a.target,
        a.seed,
        a.out,
    )


# --- data -----------------------------------------------------------------------------------


def prepare(options: Options, work: Path) -> tuple[Path, Path]:
    """The data dir (store + index) and the raw files (with truth/), generated if needed."""
    if options.data_dir is not None and options.raw is not None:
        return options.data_dir, options.raw
    raw, data_dir = work / "data", work / "reach"
    env = os.environ | {"REACH_DATA_DIR": str(data_dir)}
    if not (raw / "truth").is_dir():
        console.log(f"generate: {options.users:,} users, {options.days} days")
        run_cli(
            env, "demo-data", "--users", str(options.users), "--days", str(options.days),
            "--out", str(raw),
        )  # fmt: skip
    if IndexProvider(data_dir).current() is None:
        console.log("ingest and index")
        run_cli(env, "db", "upgrade")
        for kind in ("brands", "users", "identities", "products", "events", "pings", "behavioral"):
            files = sorted(str(p) for p in raw.glob(f"{kind}*.parquet"))
            run_cli(env, "ingest", kind, *files)
        run_cli(env, "index", "build")
    return data_dir, raw


def taste_groups(data_dir: Path, raw: Path) -> dict[int, FrozenBitMap]:
    """The hidden groups as ordinals (the truth file joined with the store's users)."""
    users = sorted(str(p) for p in (data_dir / "store" / "users").glob("*.parquet"))
    truth = raw / "truth" / "taste_groups.parquet"
    table = (
        duckdb.connect()
        .execute(
            f"SELECT t.taste_group, u.ordinal FROM read_parquet({users}) AS u"  # noqa: S608
            f" JOIN read_parquet('{truth}') AS t USING (user_id)"
        )
        .fetchnumpy()
    )
    groups = {}
    for group in np.unique(table["taste_group"]).tolist():
        chosen = table["ordinal"][table["taste_group"] == group]
        groups[int(group)] = FrozenBitMap(bitmap_of(np.sort(chosen.astype(np.uint32))))
    return groups


# --- quality --------------------------------------------------------------------------------


def product_interests(index: Index) -> dict[str, FrozenBitMap]:
    """Who browsed each product interest (as products carry them), any price range."""
    family = index.family("in_market_interest")
    parts: dict[str, list[FrozenBitMap]] = {}
    for key in family.entries():
        parts.setdefault(str(key[0]), []).append(family.get(key))
    return {interest: FrozenBitMap.union(*found) for interest, found in parts.items()}


def pick(
    pool: FrozenBitMap, eligible: FrozenBitMap, count: int, rng: np.random.Generator
) -> FrozenBitMap:
    """``count`` users of ``pool`` (drawn at random if it has more), topped up at random from
    the other eligible users if it has fewer."""
    inside = ordinals_of(pool & eligible)
    if len(inside) >= count:
        return FrozenBitMap(bitmap_of(rng.choice(inside, count, replace=False)))
    rest = ordinals_of(eligible - pool)
    extra = rng.choice(rest, count - len(inside), replace=False)
    return FrozenBitMap(bitmap_of(np.concatenate([inside, extra])))


@dataclass(frozen=True)
class Truth:
    """What a pick is judged against: the eligible users (sorted) and the hidden ones."""

    eligible: np.ndarray[Any, Any]
    target: FrozenBitMap

    def judge(self, chosen: FrozenBitMap, scores: np.ndarray[Any, Any]) -> dict[str, Any]:
        """Precision of ``chosen``, and AUC of ``scores`` (one per eligible user)."""
        labels = np.isin(self.eligible, ordinals_of(self.target), assume_unique=True)
        return {
            "precision": round(len(chosen & self.target) / len(chosen), 4),
            "auc": round(float(roc_auc_score(labels, scores)), 4),
        }


def quality(
    options: Options, index: Index, space: FeatureSpace, groups: dict[int, FrozenBitMap]
) -> dict[str, Any]:
    rng = np.random.default_rng(options.seed)
    browsed = product_interests(index)
    tree = taxonomy()
    countries = index.countries()
    rows = []
    for group in options.groups:
        members = groups[group]
        ordinals = ordinals_of(members)
        seed = FrozenBitMap(
            bitmap_of(
                np.sort(
                    rng.choice(ordinals, int(len(ordinals) * options.seed_share), replace=False)
                )
            )
        )
        rest = members - seed
        started = time.perf_counter()
        model: Model | None = train(space, countries, seed, random_state=options.seed)
        if model is None:
            raise BenchmarkError(f"group {group}: no model (empty seed or nobody eligible)")
        scores = model.scores()
        eligible = model.where.eligible
        eligible_ordinals = ordinals_of(eligible)
        size = len(rest)
        chosen = top(eligible_ordinals, scores, size)
        seconds = time.perf_counter() - started
        target = rest & eligible
        truth = Truth(eligible_ordinals, target)
        lookalike = truth.judge(FrozenBitMap(chosen), scores[eligible_ordinals])
        random_pick = pick(FrozenBitMap(), eligible, size, rng)
        random_scores = rng.random(len(eligible_ordinals))
        common = max(browsed, key=lambda i: browsed[i].intersection_cardinality(seed))
        leaf_users = browsed[common]
        # The seed's most common interest with its descendants (an in-market segment's view).
        nodes: dict[str, FrozenBitMap] = {}
        for interest, users in browsed.items():
            for node in (interest, *tree.ancestors.get(interest, [])):
                nodes[node] = nodes[node] | users if node in nodes else users
        widest = max(nodes, key=lambda i: nodes[i].intersection_cardinality(seed))
        baselines = {
            "random": truth.judge(random_pick, random_scores),
            "most_common_product_interest": truth.judge(
                pick(leaf_users, eligible, size, rng),
                np.isin(eligible_ordinals, ordinals_of(leaf_users)).astype(float),
            )
            | {"interest": tree.interests[common].path, "browsers": len(leaf_users & eligible)},
            "most_common_interest_with_descendants": truth.judge(
                pick(nodes[widest], eligible, size, rng),
                np.isin(eligible_ordinals, ordinals_of(nodes[widest])).astype(float),
            )
            | {"interest": tree.interests[widest].path, "browsers": len(nodes[widest] & eligible)},
        }
        better = max(b["precision"] for b in baselines.values())
        rows.append(
            {
                "group": TASTES[group].name,
                "group_size": len(members),
                "seed_size": len(seed),
                "target_size": size,
                "eligible": len(eligible),
                "holdout_auc": model.holdout_auc,
                "seconds": round(seconds, 2),
                "lookalike": lookalike,
                "baselines": baselines,
                "precision_vs_better_baseline": round(lookalike["precision"] / better, 3),
            }
        )
        console.log(
            f"{TASTES[group].name}: precision {lookalike['precision']:.3f}"
            f" (random {baselines['random']['precision']:.3f}, interest"
            f" {baselines['most_common_product_interest']['precision']:.3f} /"
            f" {baselines['most_common_interest_with_descendants']['precision']:.3f}),"
            f" AUC {lookalike['auc']:.3f}, {seconds:.1f} s"
        )
    mean = {
        "lookalike_precision": round(
            float(np.mean([r["lookalike"]["precision"] for r in rows])), 4
        ),
        "lookalike_auc": round(float(np.mean([r["lookalike"]["auc"] for r in rows])), 4),
    }
    for name in rows[0]["baselines"]:
        mean[f"{name}_precision"] = round(
            float(np.mean([r["baselines"][name]["precision"] for r in rows])), 4
        )
        mean[f"{name}_auc"] = round(float(np.mean([r["baselines"][name]["auc"] for r in rows])), 4)
    return {"groups": rows, "mean": mean}


# --- speed ----------------------------------------------------------------------------------


def email_list(raw: Path, group: FrozenBitMap, data_dir: Path, count: int, path: Path) -> int:
    """Write up to ``count`` e-mails of users of ``group`` (the generator's ``user<N>@example.com``
    for users with an e-mail identity); how many were written."""
    users = sorted(str(p) for p in (data_dir / "store" / "users").glob("*.parquet"))
    identities = sorted(str(p) for p in raw.glob("identities*.parquet"))
    table = (
        duckdb.connect()
        .execute(
            f"SELECT u.ordinal, i.user_id FROM read_parquet({identities}) AS i"  # noqa: S608
            f" JOIN read_parquet({users}) AS u USING (user_id) WHERE i.identifier_type = 'email'"
        )
        .fetchnumpy()
    )
    inside = np.isin(table["ordinal"].astype(np.uint32), ordinals_of(group))
    chosen = table["user_id"][inside][:count]
    # Users are u<N>; their e-mail is user<N>@example.com with N without leading zeros.
    lines = [f"user{int(str(u)[1:])}@example.com" for u in chosen]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def speed(
    options: Options, data_dir: Path, raw: Path, group: FrozenBitMap, work: Path
) -> dict[str, Any]:
    """A lookalike of ``--target`` users through a real server, seeded by a contact list."""
    own = work / "server"
    shutil.rmtree(own, ignore_errors=True)
    own.mkdir(parents=True)
    for shared in ("store", "index"):
        (own / shared).symlink_to(data_dir.resolve() / shared)
    env = os.environ | {
        "REACH_DATA_DIR": str(own),
        "REACH_RATE_LIMIT_PER_MINUTE": "0",
        "REACH_LOOKALIKE_PROCESSES": "1",
        "REACH_ACCESS_LOG": "false",
    }
    run_cli(env, "db", "upgrade")
    run_cli(env, "advertisers", "add", str(ADVERTISER), "--name", "Bench")
    credentials = json.loads(
        run_cli(env, "clients", "create", "--name", "bench", "--advertiser", str(ADVERTISER))
    )
    emails = work / "seed-emails.txt"
    written = email_list(raw, group, data_dir, options.speed_seed, emails)
    server = Server(env, work / "server.log")
    try:
        server.wait_ready()
        http = Http(server.port, timeout=600)

        def call(method: str, path: str, body: Any) -> Any:
            token = get_token(http, credentials["client_id"], credentials["client_secret"])
            reply = http.request(method, path, json.dumps(body).encode(), json_headers(token))
            if reply.status != 200:
                raise BenchmarkError(f"{method} {path}: {reply.status} {reply.body[:300]!r}")
            return reply.json()

        def create(attributes: dict[str, Any]) -> str:
            body = call("POST", f"{SEGMENTS}/create", {"data": [{"attributes": attributes}]})
            if body["errors"]:
                raise BenchmarkError(f"create: {body['errors']}")
            return str(body["data"][0]["id"])

        seed = create({"advertiserId": str(ADVERTISER), "name": "seed", "contactList": {}})
        identifiers = emails.read_text(encoding="utf-8").split()
        for start in range(0, len(identifiers), BATCH):
            call(
                "PATCH",
                f"{SEGMENTS}/{seed}/contact-list",
                {
                    "data": {
                        "type": "ContactlistAmendment",
                        "attributes": {
                            "operation": "add",
                            "identifierType": "email",
                            "identifiers": identifiers[start : start + BATCH],
                        },
                    }
                },
            )
        statistics = call("GET", f"{SEGMENTS}/{seed}/contact-list/statistics", None)
        runs = []
        for label, target in (("cold", options.target), ("warm", options.target // 2)):
            started = time.perf_counter()
            look = create(
                {
                    "advertiserId": str(ADVERTISER),
                    "name": f"lookalike {label}",
                    "lookalike": {"seedSegmentId": seed, "targetSize": target},
                }
            )
            created = time.perf_counter()
            polls = 0
            while True:
                body = call("POST", f"{SEGMENTS}/compute-sizes", {"data": [{"id": look}]})
                polls += 1
                size = body["data"][0]["attributes"]["size"] if body["data"] else None
                if size is not None:
                    break
                if time.perf_counter() - started > 1800:
                    raise BenchmarkError(f"lookalike {look} not built after 30 min")
                time.sleep(0.25)
            sized = time.perf_counter()
            summary = json.loads(
                next((own / "lookalikes" / look).glob("*.json")).read_text(encoding="utf-8")
            )
            runs.append(
                {
                    "run": label,
                    "target_size": target,
                    "size": size,
                    "create_call_s": round(created - started, 3),
                    "created_to_sized_s": round(sized - started, 2),
                    "model_build_s": summary["seconds"],
                    "seed_size": summary["seed_size"],
                    "eligible": summary["eligible_size"],
                    "holdout_auc": summary["holdout_auc"],
                    "warnings": [w["code"] for w in body["warnings"]],
                }
            )
            console.log(
                f"{label}: {size:,} members {sized - started:.1f} s after create"
                f" (model {summary['seconds']:.1f} s)"
            )
        trainers = children(server.pid)
        trainer_rss = max(proc_status(pid).get("VmHWM", 0) for pid in trainers) if trainers else 0
        return {
            "seed_emails": written,
            "seed_statistics": statistics["data"]["attributes"],
            "runs": runs,
            "server_peak_rss_mib": round(server.memory_kib()["VmHWM"] / 1024, 1),
            "trainer_peak_rss_mib": round(trainer_rss / 1024, 1),
        }
    finally:
        server.stop()


# --- report ---------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    signal.signal(signal.SIGTERM, raise_on_sigterm)
    temporary = options.work is None and options.data_dir is None
    work = options.work or Path(tempfile.mkdtemp(prefix="reach-lookalike-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        data_dir, raw = prepare(options, work)
        index = IndexProvider(data_dir).current()
        if index is None:
            raise BenchmarkError(f"no index in {data_dir}")
        started = time.perf_counter()
        space = user_features(index, taxonomy().ancestors)
        features_s = time.perf_counter() - started
        features = {"count": len(space), "seconds": round(features_s, 2)}
        console.log(f"{len(space):,} features in {features_s:.1f} s")
        groups = taste_groups(data_dir, raw)
        found_quality = quality(options, index, space, groups)
        del space
        found_speed = speed(options, data_dir, raw, groups[options.groups[0]], work)
        cold = found_speed["runs"][0]
        mean = found_quality["mean"]
        better = max(
            v for k, v in mean.items() if k.endswith("_precision") and k != "lookalike_precision"
        )
        report: dict[str, Any] = {
            "benchmark": "lookalike",
            "machine": machine_facts(),
            "options": {
                "users": len(index.universe()),
                "index_build": index.build_id,
                "seed_share": options.seed_share,
                "groups": [TASTES[g].name for g in options.groups],
                "speed_seed_emails": options.speed_seed,
                "target_size": options.target,
                "seed": options.seed,
            },
            "features": features,
            "quality": found_quality,
            "speed": found_speed,
            "targets": {
                "precision_vs_better_baseline": {
                    "target": TARGETS["precision_vs_better_baseline"],
                    "value": round(mean["lookalike_precision"] / better, 3),
                    "met": mean["lookalike_precision"]
                    >= TARGETS["precision_vs_better_baseline"] * better,
                },
                "build_seconds": {
                    "target": TARGETS["build_seconds"],
                    "value": cold["created_to_sized_s"],
                    "met": cold["created_to_sized_s"] < TARGETS["build_seconds"],
                },
                "trainer_peak_rss_mib": {
                    "target": TARGETS["trainer_peak_rss_mib"],
                    "value": found_speed["trainer_peak_rss_mib"],
                    "met": found_speed["trainer_peak_rss_mib"] < TARGETS["trainer_peak_rss_mib"],
                },
            },
        }
        options.out.parent.mkdir(parents=True, exist_ok=True)
        options.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        table = Table("target", "value", "goal", "met")
        for name, target in report["targets"].items():
            table.add_row(name, str(target["value"]), str(target["target"]), str(target["met"]))
        console.print(table)
        console.log(f"report: {options.out}")
        return 0
    finally:
        if temporary and not options.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
