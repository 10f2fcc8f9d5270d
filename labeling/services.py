"""Use cases of the labeling app: one function each, owning its transaction."""

import io
import itertools
import json
import string
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from typing import BinaryIO, TypeVar

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify
from rest_framework.authtoken.models import Token

from labeling import counters, splits
from labeling.exports import summarize_version
from labeling.importing import (
    MAX_REPORTED_ERRORS,
    ImportRejected,
    ParsedRow,
    check_upload,
    excerpt,
    import_summary,
    iter_rows,
)
from labeling.models import (
    Annotation,
    DatasetVersion,
    ImportBatch,
    Item,
    Label,
    Lease,
    Membership,
    Origin,
    Project,
    Skip,
    Split,
)
from labeling.overlap import check_room, item_votes
from labeling.resolution import resolve
from labeling.signals import items_imported, labels_added
from labeling.statistics import analyze

# S, Z, F and ? are the labeling page's own keys (skip, undo, flag, help).
LABEL_KEYS = [*"1234567890", *(c for c in string.ascii_lowercase if c not in "szf")]
# Rows per import chunk: one COPY (or bulk_create) and one taken-id query each.
IMPORT_CHUNK = 5000
T = TypeVar("T")


def create_project(
    user: AbstractBaseUser,
    name: str,
    labels: list[str],
    annotators: Iterable[AbstractBaseUser] = (),
    **fields: object,
) -> Project:
    """Create a project with its labels; its creator becomes one of its admins, `annotators` annotators."""
    with transaction.atomic():
        slug = fields.pop("slug", None) or _unique_slug(name)
        project = Project.objects.create(name=name, slug=slug, created_by=user, **fields)
        Label.objects.bulk_create(
            Label(project=project, name=name, key=key, position=i)
            for i, (name, key) in enumerate(zip(labels, _label_keys(len(labels)), strict=True))
        )
        Membership.objects.create(project=project, user=user, role=Membership.Role.ADMIN)
        Membership.objects.bulk_create(
            Membership(project=project, user=member, role=Membership.Role.ANNOTATOR)
            for member in annotators
            if member.pk != user.pk
        )
        counters.create_rows(project)
    return project


def _label_keys(n: int) -> list[str]:
    return [LABEL_KEYS[i] if i < len(LABEL_KEYS) else "" for i in range(n)]


def _unique_slug(name: str) -> str:
    base = slugify(name)[:70] or "project"
    slug, n = base, 1
    while Project.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def add_member(project: Project, user: AbstractBaseUser, role: str) -> Membership:
    membership, _ = Membership.objects.update_or_create(project=project, user=user, defaults={"role": role})
    return membership


# Progress of an import: (phase, done, total), phase "check" (bytes read of the file's
# size) then "write" (rows written of all rows). Called every few thousand rows.
ImportProgress = Callable[[str, int, int], None]
ITEM_COLUMNS = (
    "project_id",
    "external_id",
    "text",
    "meta",
    "content_hash",
    "split",
    "rand_key",
    "import_batch_id",
    "label_id",
    "label_origin",
    "label_count",
    "conflict",
    "created_at",
    "origin",
    "disputed",
    "last_labeled_at",
)


def import_items(
    project: Project,
    user: AbstractBaseUser | None,
    upload: bytes | BinaryIO,
    file_name: str,
    progress: ImportProgress | None = None,
) -> ImportBatch:
    """Check every row of a CSV/JSONL file, then import all of it in one transaction.

    Raises ImportRejected (and writes nothing) when any row is bad. The file is read twice
    and inserted chunk by chunk (PostgreSQL: COPY; other databases: bulk_create), so memory
    does not grow with its size. `progress` hears how far the check and the write are.
    """
    upload = io.BytesIO(upload) if isinstance(upload, bytes) else upload
    labels = {label.name: label for label in project.labels.all()}
    summary = check_upload(upload, file_name, set(labels), progress=progress)
    with transaction.atomic():
        # Lock the project row: two imports into one project must not both pass the
        # duplicate-id check and then both insert; and split by the locked row's
        # test_fraction, which update_project_settings changes under the same lock.
        project = Project.objects.select_for_update().get(pk=project.pk)
        batch = ImportBatch.objects.create(
            project=project,
            created_by=user,
            file_name=file_name[:255],
            sha256=summary.sha256,
            rows=summary.rows,
            pool=0,
            test=0,
            labeled=0,
        )
        rows = iter_rows(upload, file_name, set(labels))
        _insert_rows(project, batch, rows, labels, summary.rows, progress or _no_progress)
        items_imported.send(sender=Project, project=project, batch=batch)
        if batch.labeled:
            labels_added.send(sender=Project, project=project, count=batch.labeled)
    # A bulk load outruns autovacuum: refresh the planner's view of the items now.
    analyze(Item, Annotation)
    return batch


def _no_progress(phase: str, done: int, total: int) -> None:
    pass


def _insert_rows(
    project: Project,
    batch: ImportBatch,
    rows: Iterator[ParsedRow],
    labels: dict,
    total: int,
    progress: ImportProgress,
) -> None:
    """Insert the rows chunk by chunk; refuse (rolling back) ids the project already has."""
    errors: list[dict] = []
    n_errors = done = 0
    # Under the project lock: a project with no items yet cannot hold any of the file's ids.
    check_taken = project.items.exists()
    write = _copy_items if uses_copy() else _create_items
    tally: Counter[tuple[str, int | None]] = Counter()
    for chunk, values in _ahead(_prepared_chunks(project, batch, rows, labels)):
        chunk_errors = _taken_id_errors(project, chunk) if check_taken else []
        n_errors += len(chunk_errors)
        errors.extend(chunk_errors[: MAX_REPORTED_ERRORS - len(errors)])
        if not n_errors:
            write(values)
            count_import_chunk(batch, values, tally)
        done += len(chunk)
        if done < total:
            progress("write", done, total)
    if n_errors:
        raise ImportRejected(import_summary(n_errors), errors)
    counters.record_item_counts(project.pk, tally)
    # One import annotation per labeled item, by the importer, in the items' order.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO labeling_annotation (item_id, user_id, label_id, origin, model_ref, strategy, "
            "created_at) SELECT id, %s, label_id, %s, '', '', created_at FROM labeling_item "
            "WHERE import_batch_id = %s AND label_id IS NOT NULL ORDER BY id",
            [batch.created_by_id, Origin.IMPORT, batch.pk],
        )
    batch.save(update_fields=["pool", "test", "labeled"])
    # The last report is made once every row and count is written (learners.imports holds
    # the job row locked from it until the commit).
    progress("write", done, total)


def _prepared_chunks(
    project: Project, batch: ImportBatch, rows: Iterator[ParsedRow], labels: dict
) -> Iterator[tuple[tuple[ParsedRow, ...], list[tuple]]]:
    """(rows, their ITEM_COLUMNS values) chunk by chunk: the file's parsing and the per-row work."""
    while chunk := tuple(itertools.islice(rows, IMPORT_CHUNK)):
        yield chunk, [_item_values(project, batch, row, labels) for row in chunk]


def _ahead(chunks: Iterator[T]) -> Iterator[T]:
    """`chunks`, each next one made in a thread while the caller writes this one.

    The file's parsing and hashing (pure Python, no database) then runs while the main
    thread waits for PostgreSQL to take a COPY (the wait releases the GIL): the two
    overlap instead of taking turns. An error in making a chunk is raised here.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-parse") as pool:
        pending = pool.submit(next, chunks, None)
        try:
            while (chunk := pending.result()) is not None:
                pending = pool.submit(next, chunks, None)
                yield chunk
        finally:
            pending.cancel()
            wait([pending])


def count_import_chunk(batch: ImportBatch, values: list[tuple], tally: Counter) -> None:
    """The one place an import chunk's counts are added up, in the insert's transaction.

    `values` are the chunk's rows in ITEM_COLUMNS order. The batch's counts move here, and
    `tally` gathers the per-(split, label) counts that _insert_rows writes to the project's
    counters once, after the last chunk, whichever way the rows were written.
    """
    split_at, label_at = ITEM_COLUMNS.index("split"), ITEM_COLUMNS.index("label_id")
    n_test = sum(v[split_at] == Split.TEST for v in values)
    batch.test += n_test
    batch.pool += len(values) - n_test
    batch.labeled += sum(v[label_at] is not None for v in values)
    tally.update((v[split_at], v[label_at]) for v in values)


def uses_copy() -> bool:
    """Whether imports write items with COPY: on PostgreSQL (psycopg 3), else bulk_create."""
    return connection.vendor == "postgresql"


def _copy_items(values: list[tuple]) -> None:
    """PostgreSQL: COPY the chunk (psycopg 3), several times faster than INSERTs."""
    columns = ", ".join(ITEM_COLUMNS)
    meta_at = ITEM_COLUMNS.index("meta")
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY labeling_item ({columns}) FROM STDIN") as copy,
    ):
        for row in values:
            copy.write_row((*row[:meta_at], json.dumps(row[meta_at]), *row[meta_at + 1 :]))


def _create_items(values: list[tuple]) -> None:
    """Other databases (SQLite): the same rows through bulk_create."""
    Item.objects.bulk_create([Item(**dict(zip(ITEM_COLUMNS, row, strict=True))) for row in values])


def _taken_id_errors(project: Project, rows: tuple[ParsedRow, ...]) -> list[dict]:
    taken = set(
        Item.objects.filter(project=project, external_id__in=[row.external_id for row in rows]).values_list(
            "external_id", flat=True
        )
    )
    return [
        {"row": row.line, "error": f"id {excerpt(row.external_id)} already exists in this project"}
        if row.id_given
        else {
            "row": row.line,
            "error": f"no id, and the same text is already item {excerpt(row.external_id)}; "
            "add an 'id' column to import it again",
        }
        for row in rows
        if row.external_id in taken
    ]


def _item_values(project: Project, batch: ImportBatch, row: ParsedRow, labels: dict) -> tuple:
    """One item's column values, in ITEM_COLUMNS order, for COPY and bulk_create alike."""
    # Exact duplicates (and rows of one `group`) share a split key, so the same text can
    # never sit in the pool and in the test set at once.
    digest = row.content_hash
    split_key = str(row.meta.get("group") or digest)
    label = labels[row.label] if row.label else None
    now = timezone.now()
    return (
        project.pk,
        row.external_id,
        row.text,
        row.meta,
        digest,
        splits.assign_split(project.seed, split_key, project.test_fraction),
        splits.random_key(project.seed, split_key + row.external_id),
        batch.pk,
        label.pk if label else None,
        Origin.IMPORT if label else "",
        1 if label else 0,
        False,
        now,
        Origin.IMPORT,
        False,
        now if label else None,
    )


class ClientIdReused(Exception):
    def __init__(self, client_id: uuid.UUID, item_id: int):
        super().__init__(f"client_id {client_id} was already used for a label of item {item_id}.")


class NothingToUndo(Exception):
    def __init__(self, item_id: int):
        super().__init__(f"You have no label on item {item_id} to take back.")


def save_annotation(
    item: Item,
    user: AbstractBaseUser,
    label: Label | None,
    *,
    origin: str = Origin.HUMAN,
    duration_ms: int | None = None,
    client_id: uuid.UUID | None = None,
) -> tuple[Annotation, bool]:
    """Record a label (None: take the user's label back); return it and whether it is new.

    A repeated `client_id` returns the first annotation: a retried submit counts once.
    Raises ClientIdReused when the `client_id` already labeled another item,
    NothingToUndo when the user takes back a label they do not hold, and NoRoomForLabel
    when a new human vote finds the item's `overlap` places taken by others.
    """
    with transaction.atomic():
        # Lock the item: its resolved label is recomputed from all of its annotations,
        # and two annotators labeling it at once must not both base it on a stale set.
        # The same lock makes the overlap check below hold: without it two annotators
        # posting on an item with one place left would both count the votes before either
        # inserts, and both get a 201. The queue leases items under this lock too
        # (SELECT ... FOR UPDATE SKIP LOCKED), so a lease being handed out right now is
        # committed, and counted, before the check reads the leases.
        # The lock comes before the client_id check so that a double submit (two requests
        # with one client_id at once) is serialized here instead of racing to the insert.
        item = Item.objects.select_for_update().get(pk=item.pk)
        if client_id is not None:
            existing = Annotation.objects.filter(user=user, client_id=client_id).first()
            if existing is not None and existing.item_id != item.pk:
                raise ClientIdReused(client_id, existing.item_id)
            if existing is not None:
                return existing, False
        if label is None and not _holds_vote(item, user):
            raise NothingToUndo(item.pk)
        if label is not None and origin == Origin.HUMAN:
            check_room(item, user)
        lease = Lease.objects.filter(item=item, user=user).first()
        annotation = Annotation.objects.create(
            item=item,
            user=user,
            label=label,
            origin=origin,
            duration_ms=duration_ms,
            client_id=client_id,
            suggested_label=lease.suggested_label if lease else None,
            suggestion_confidence=lease.suggestion_confidence if lease else None,
            model_ref=lease.model_ref if lease else "",
            strategy=lease.strategy if lease else "",
            predicted_label=lease.predicted_label if lease else None,
        )
        resolved_before = item.label_id
        refresh_item_label(item)
        if lease is not None:
            lease.delete()
        # Last: the counter rows stay locked only until the commit right after.
        counters.record_annotation(item, resolved_before, label.pk if label else None)
        if label is not None:
            labels_added.send(sender=Project, project=item.project, count=1)
    return annotation, True


def _holds_vote(item: Item, user: AbstractBaseUser) -> bool:
    latest = item.annotations.filter(user=user).exclude(origin=Origin.ADJUDICATION).order_by("-pk").first()
    return latest is not None and latest.label_id is not None


def refresh_item_label(item: Item) -> None:
    """Recompute the item's resolved label from its annotations (caller holds the lock)."""
    resolved = resolve(item_votes(item))
    item.label_id = resolved.label_id
    item.label_origin = resolved.origin
    item.label_count = resolved.label_count
    item.conflict = resolved.disputed and resolved.origin != Origin.ADJUDICATION
    item.disputed = resolved.disputed
    item.last_labeled_at = timezone.now()
    item.save(
        update_fields=["label", "label_origin", "label_count", "conflict", "disputed", "last_labeled_at"]
    )


def skip_item(item: Item, user: AbstractBaseUser, *, flag: bool = False, comment: str = "") -> Skip:
    """Pass on an item: it leaves this annotator's queue for a while (and goes to an admin if flagged)."""
    with transaction.atomic():
        Lease.objects.filter(item=item, user=user).delete()
        return Skip.objects.create(item=item, user=user, flagged=flag, comment=comment)


def get_project_stats(project: Project) -> dict:
    """Item, label and annotation counts, read from the project's counters (labeling/counters.py)."""
    counts = counters.summary(project)
    splits, labeled = counts["splits"], counts["labeled"]
    per_label = {
        label.name: counts["per_label"].get(label.pk, dict.fromkeys(Split.values, 0))
        for label in project.labels.all()
    }
    return {
        "items": splits[Split.POOL] + splits[Split.TEST],
        "pool": splits[Split.POOL],
        "test": splits[Split.TEST],
        "labeled_pool": labeled[Split.POOL],
        "labeled_test": labeled[Split.TEST],
        "annotations": counts["annotations"],
        "per_label": per_label,
    }


def get_item_history(item: Item) -> list[Annotation]:
    """Every annotation of the item, oldest first, with who gave it and what was suggested."""
    return list(item.annotations.select_related("user", "label", "suggested_label").order_by("pk"))


def get_label_watermark(project: Project) -> int:
    """Return the highest annotation id in the project (0 when nothing is labeled)."""
    return Annotation.objects.filter(item__project=project).aggregate(m=Max("pk"))["m"] or 0


def create_dataset_version(project: Project, user: AbstractBaseUser | None, note: str = "") -> DatasetVersion:
    """Snapshot the project's labels as they are now."""
    with transaction.atomic():
        # Serialize version numbering per project.
        Project.objects.select_for_update().get(pk=project.pk)
        watermark = get_label_watermark(project)
        parent = project.versions.order_by("-number").first()
        counts, sha256 = summarize_version(project, watermark)
        return DatasetVersion.objects.create(
            project=project,
            number=parent.number + 1 if parent else 1,
            parent=parent,
            max_annotation_id=watermark,
            counts=counts,
            sha256=sha256,
            note=note,
            created_by=user,
        )


# What PATCH /api/v1/projects/{id} and the project page's settings form may change.
SETTINGS_FIELDS = (
    "guidelines",
    "overlap",
    "test_fraction",
    "test_target",
    "retrain_every",
    "strategy_weights",
    "adaptive_mix",
    "cold_start_min_per_label",
    "suggestion_threshold",
    "suggestion_withhold_share",
)


class SettingsRejected(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def update_project_settings(project: Project, changes: dict[str, object]) -> Project:
    """Apply already-validated settings; the test fraction only while the project has no items.

    Raises SettingsRejected (and changes nothing) otherwise.
    """
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise SettingsRejected(sorted(unknown)[0], f"Not a project setting: {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        # Same lock as import_items: an import cannot split items by a fraction that is
        # being changed at this moment.
        locked = Project.objects.select_for_update().get(pk=project.pk)
        new_fraction = changes.get("test_fraction", locked.test_fraction)
        if new_fraction != locked.test_fraction and locked.items.exists():
            raise SettingsRejected(
                "test_fraction",
                f"The test fraction is fixed at {locked.test_fraction:g}: every imported item's split "
                "was decided with it at import and never changes. Create a new project to use another one.",
            )
        for name, value in changes.items():
            setattr(locked, name, value)
        locked.save(update_fields=[*changes, "updated_at"])
    return locked


def issue_api_token(user: AbstractBaseUser) -> Token:
    """Give the user a new API token; the old one, if any, stops working at once."""
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        return Token.objects.create(user=user)


def revoke_api_token(user: AbstractBaseUser) -> bool:
    """Delete the user's API token; return whether there was one."""
    deleted, _ = Token.objects.filter(user=user).delete()
    return deleted > 0
