"""The Items page, the item page and their API: they answer from labeling/item_browser.py
(lists), labeling/item_detail.py (one item, its neighbours) and labeling/bulk_actions.py."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from labeling import adjudication, bulk_actions, exports, item_browser, item_detail, services
from labeling import api_responses as out
from labeling.access import get_project_for_user, is_project_admin, visible_projects
from labeling.browser_serializers import (
    BulkActionSerializer,
    BulkResultSerializer,
    BulkRevertSerializer,
    ItemDetailSerializer,
    ItemPageSerializer,
    SelectionExportSerializer,
    SimilarItemsSerializer,
)
from labeling.forms import ItemFilterForm
from labeling.models import BulkAction, Project
from labeling.overlap import NoRoomForLabel


def _browse(request: HttpRequest, project: Project, params: QueryDict, page_size: int) -> tuple:
    """(form, page or None): a page when the filters are valid and the cursor is ours."""
    admin = is_project_admin(request.user, project)
    form = ItemFilterForm(params, project=project, admin=admin)
    if not form.is_valid():
        return form, None
    try:
        page = item_browser.browse_items(
            project,
            request.user,
            form.cleaned_data,
            admin=admin,
            cursor=form.cleaned_data["cursor"],
            page_size=page_size,
        )
    except item_browser.BadCursor as exc:
        form.add_error("cursor", str(exc))
        return form, None
    return form, page


@login_required
@require_GET
def items(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_project_for_user(request.user, slug=slug)
    form, page = _browse(request, project, request.GET, item_browser.PAGE_SIZE)
    rows = item_browser.describe_rows(project, request.user, page.items, admin=page.admin) if page else []
    meta_keys = sorted({key for row in rows for key in row["meta"]})
    for row in rows:
        row["meta_cells"] = [row["meta"].get(key, "") for key in meta_keys]
    context = {
        "project": project,
        "is_admin": is_project_admin(request.user, project),
        "form": form,
        "page": page,
        "rows": rows,
        "next_query": _query_with_cursor(request.GET, page.next_cursor if page else None),
        "previous_query": _query_with_cursor(request.GET, page.previous_cursor if page else None),
        "meta_keys": meta_keys,
        "filter_query": _filter_query(request.GET),
        "labels": project.labels.all(),
        "bulk_labels": project.bulk_actions.filter(kind=BulkAction.Kind.LABEL)
        .select_related("label", "user")
        .order_by("-pk")[:5]
        if is_project_admin(request.user, project)
        else [],
    }
    return render(request, "labeling/items.html", context, status=200 if page else 400)


def _filter_query(params: QueryDict) -> str:
    """The filters without the page's cursor: what a bulk action on 'every matching item' uses."""
    query = params.copy()
    query.pop("cursor", None)
    return query.urlencode()


def _query_with_cursor(params: QueryDict, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    query = params.copy()
    query["cursor"] = cursor
    return query.urlencode()


FILTER_PARAMETERS = [
    OpenApiParameter("q", str, description="Words that must all occur in the text (full-text search)."),
    OpenApiParameter("phrase", str, description="An exact phrase, case-insensitive."),
    OpenApiParameter("split", str, enum=["pool", "test"], description="Admins only."),
    OpenApiParameter("state", str, enum=["labeled", "unlabeled"], description="Admins only."),
    OpenApiParameter("label", str, description="The current label's name. Admins only."),
    OpenApiParameter("annotator", str, description="Username of someone who labeled it. Admins only."),
    OpenApiParameter("created_from", str, description="Imported on or after this date (YYYY-MM-DD)."),
    OpenApiParameter("created_to", str, description="Imported on or before this date (YYYY-MM-DD)."),
    OpenApiParameter("batch", int, description="Import batch id."),
    OpenApiParameter("meta", str, description="A metadata key=value that must match exactly."),
    OpenApiParameter("predicted", str, description="The active model's guess (queued items). Admins only."),
    OpenApiParameter("conf_min", float, description="Confidence of that guess, at least. Admins only."),
    OpenApiParameter("conf_max", float, description="Confidence of that guess, at most. Admins only."),
    OpenApiParameter("flagged", bool, description="Only items with an open flag. Admins only."),
    OpenApiParameter("skipped", bool, description="Only items someone skipped. Admins only."),
    OpenApiParameter(
        "disagrees",
        bool,
        description="Labeled pool items the active model would label otherwise. Admins only.",
    ),
    OpenApiParameter("disputed", bool, description="Annotators' live votes disagree. Admins only."),
    OpenApiParameter(
        "suspect",
        bool,
        description="Likely label errors: the active model's out-of-fold suspects. Admins only.",
    ),
    OpenApiParameter(
        "sort", str, enum=["id", "recent", "length", "priority"], description="priority: admins only."
    ),
    OpenApiParameter("cursor", str, description="`next` or `previous` of an earlier answer."),
    OpenApiParameter("limit", int, description=f"Rows per page, 1 to {item_browser.MAX_PAGE_SIZE}."),
]


@extend_schema(parameters=FILTER_PARAMETERS, responses={200: ItemPageSerializer, **out.errors(400, 401, 404)})
@api_view(["GET"])
def api_items(request: Request, pk: int) -> Response:
    """A keyset page of the project's items that pass the filters; annotators get their own items."""
    project = get_project_for_user(request.user, pk=pk)
    limit = _limit(request.query_params.get("limit"))
    if limit is None:
        message = f"limit: give a whole number from 1 to {item_browser.MAX_PAGE_SIZE}."
        return Response(
            {"error": message, "fields": {"limit": [message]}}, status=status.HTTP_400_BAD_REQUEST
        )
    form, page = _browse(request, project, request.query_params, limit)
    if page is None:
        return _form_errors(form)
    rows = item_browser.describe_rows(project, request.user, page.items, admin=page.admin)
    body = {"items": rows, "next": page.next_cursor, "previous": page.previous_cursor}
    return Response(body)


def _form_errors(form: ItemFilterForm) -> Response:
    """The shared API error body from a filter form's errors."""
    fields = {name: list(errors) for name, errors in form.errors.items()}
    name, errors = next(iter(fields.items()))
    prefix = "" if name == "__all__" else f"{name}: "
    return Response({"error": prefix + errors[0], "fields": fields}, status=status.HTTP_400_BAD_REQUEST)


def _selection_filter(project: Project, data: dict) -> tuple[dict | None, Response | None]:
    """A bulk request's optional `filter`, checked as the Items page checks its GET parameters:
    (cleaned filters or None, None), or (None, the 400 to answer)."""
    if "filter" not in data:
        return None, None
    form = ItemFilterForm(data["filter"], project=project, admin=True)
    if not form.is_valid():
        return None, _form_errors(form)
    return form.cleaned_data, None


def _limit(raw: str | None) -> int | None:
    if raw is None:
        return item_browser.PAGE_SIZE
    if not raw.isdigit() or not 1 <= int(raw) <= item_browser.MAX_PAGE_SIZE:
        return None
    return int(raw)


@extend_schema(
    request=BulkActionSerializer, responses={200: BulkResultSerializer, **out.errors(400, 401, 403, 404)}
)
@api_view(["POST"])
def api_items_bulk(request: Request, pk: int) -> Response:
    """Flag, label, skip or collect chosen ids or a whole filtered result, in one transaction."""
    project = get_project_for_user(request.user, pk=pk, admin=True)
    serializer = BulkActionSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    filters, invalid = _selection_filter(project, data)
    if invalid is not None:
        return invalid
    label = None
    if data["action"] == "label":
        label = project.labels.filter(name=data["label"]).first()
        if label is None:
            message = f"label: {data['label']!r} is not a label of this project."
            return Response(
                {"error": message, "fields": {"label": [message]}}, status=status.HTTP_400_BAD_REQUEST
            )
    try:
        items = bulk_actions.select_items(project, request.user, ids=data.get("ids"), filters=filters)
        result = _run_bulk(project, request.user, items, data["action"], data, label)
    except bulk_actions.SelectionRejected as exc:
        return Response({"error": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    return Response({"action": data["action"], **result})


def _run_bulk(project: Project, user, items, action: str, data: dict, label) -> dict:
    """Run one bulk action; {"selected", "changed", "bulk_action"} (flags and adjudication keep no record)."""
    if action == "flag":
        selected = items.count()
        changed = bulk_actions.flag_items(items, user, data.get("comment", ""))
        return {"selected": selected, "changed": changed, "bulk_action": None}
    if action == "adjudicate":
        selected = items.count()
        return {"selected": selected, "changed": bulk_actions.adjudicate_items(items), "bulk_action": None}
    if action == "label":
        if not data.get("include_test"):
            items = items.filter(split="pool")
        done = bulk_actions.label_items(
            project, items, user, label, include_test=bool(data.get("include_test"))
        )
    elif action == "skip":
        done = bulk_actions.skip_items(project, items, user)
    else:
        done = bulk_actions.collect_items(project, items, user, data["collection"].strip())
    return {"selected": done.selected, "changed": done.changed, "bulk_action": done.pk}


@extend_schema(
    request=SelectionExportSerializer,
    responses={
        (200, "text/csv"): OpenApiTypes.BINARY,
        (200, "application/x-ndjson"): OpenApiTypes.BINARY,
        **out.errors(400, 401, 403, 404),
    },
)
@api_view(["POST"])
def api_items_export(request: Request, pk: int) -> HttpResponse | Response:
    """Download chosen ids or every item a filter passes, labeled or not, as CSV or JSONL (streamed)."""
    project = get_project_for_user(request.user, pk=pk, admin=True)
    serializer = SelectionExportSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    filters, invalid = _selection_filter(project, data)
    if invalid is not None:
        return invalid
    try:
        items = bulk_actions.select_items(project, request.user, ids=data.get("ids"), filters=filters)
    except bulk_actions.SelectionRejected as exc:
        return Response({"error": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    return exports.selection_response(project, items, data["format"])


@extend_schema(request=None, responses={200: BulkRevertSerializer, **out.errors(400, 401, 403, 404)})
@api_view(["POST"])
def api_bulk_revert(request: Request, pk: int) -> Response:
    """Take back a bulk label as one action (items relabeled since keep their later label)."""
    action = get_object_or_404(BulkAction, pk=pk, project__in=visible_projects(request.user))
    get_project_for_user(request.user, pk=action.project_id, admin=True)
    try:
        withdrawn = bulk_actions.revert_labels(action, request.user)
    except bulk_actions.SelectionRejected as exc:
        return Response({"error": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    return Response({"bulk_action": action.pk, "withdrawn": withdrawn})


BULK_VERBS = {
    "flag": "Flag",
    "label": "Label",
    "skip": "Take out of the queue",
    "collect": "Add to a collection",
    "adjudicate": "Send to adjudication",
    "export": "Export",
}


@login_required
@require_POST
def items_bulk(request: HttpRequest, slug: str) -> HttpResponse:
    """A bulk action on the ticked rows or every matching item: first a count to confirm, then the action."""
    project = get_project_for_user(request.user, slug=slug, admin=True)
    query = request.POST.get("query", "")
    back = reverse("labeling:items", args=[project.slug]) + (f"?{query}" if query else "")
    form = ItemFilterForm(QueryDict(query), project=project, admin=True)
    everything = request.POST.get("scope") == "filter"
    action = request.POST.get("action", "flag")
    ids = [int(pk) for pk in request.POST.getlist("ids") if pk.isdigit()]
    if not form.is_valid() or not (everything or ids) or action not in BULK_VERBS:
        messages.error(request, "Tick some rows first, or choose every matching item.")
        return redirect(back)
    data = {
        "comment": request.POST.get("comment", "")[:2000],
        "collection": request.POST.get("collection", "").strip()[:100],
        "include_test": request.POST.get("include_test") == "on",
        "format": "jsonl" if request.POST.get("format") == "jsonl" else "csv",
    }
    label = project.labels.filter(name=request.POST.get("label", "")).first()
    if (action == "label" and label is None) or (action == "collect" and not data["collection"]):
        messages.error(request, "Choose a label to give." if action == "label" else "Name the collection.")
        return redirect(back)
    try:
        items = bulk_actions.select_items(
            project,
            request.user,
            ids=None if everything else ids,
            filters=form.cleaned_data,
            include_test=action != "label" or data["include_test"],
        )
        if request.POST.get("confirm") != "yes":
            context = {
                "project": project,
                "count": items.count(),
                "tests": items.filter(split="test").count(),
                "ids": ids,
                "everything": everything,
                "action": action,
                "verb": BULK_VERBS[action],
                "label": label,
                **data,
            }
            return render(
                request, "labeling/items_bulk_confirm.html", {**context, "query": query, "back": back}
            )
        if action == "export":
            return exports.selection_response(project, items, data["format"])
        result = _run_bulk(project, request.user, items, action, data, label)
    except bulk_actions.SelectionRejected as exc:
        messages.error(request, str(exc))
        return redirect(back)
    n = result["changed"]
    done = {
        "flag": "flagged; they wait on the Flagged page",
        "label": f"labeled “{label}” (one bulk action, revertible below)",
        "skip": "taken out of the active queue",
        "collect": f"added to “{data['collection']}”",
        "adjudicate": "sent to adjudication; they wait on the Adjudicate page",
    }[action]
    messages.success(request, f"{n} item{'s' if n != 1 else ''} {done}.")
    return redirect(back)


@login_required
@require_POST
def bulk_revert(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    project = get_project_for_user(request.user, slug=slug, admin=True)
    action = get_object_or_404(BulkAction, pk=pk, project=project)
    try:
        withdrawn = bulk_actions.revert_labels(action, request.user)
    except bulk_actions.SelectionRejected as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Reverted: the bulk label was taken back on {withdrawn} items.")
    return redirect("labeling:items", slug=project.slug)


@login_required
@require_GET
def item_page(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """One item in full (admins) or as its annotator may see it, with its nearest neighbours."""
    project = get_project_for_user(request.user, slug=slug)
    item, admin = item_detail.get_browsable_item(request.user, pk, project)
    context = {
        "project": project,
        "item": item,
        "is_admin": admin,
        "detail": item_detail.describe_item(item, request.user, admin=admin),
        "neighbours": item_detail.similar_rows(item, request.user, admin=admin),
        "labels": project.labels.all(),
    }
    return render(request, "labeling/item.html", context)


@login_required
@require_POST
def item_relabel(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """Admins decide the item's label (an adjudication); an annotator changes their own label."""
    project = get_project_for_user(request.user, slug=slug)
    item, admin = item_detail.get_browsable_item(request.user, pk, project)
    label = project.labels.filter(name=request.POST.get("label", "")).first()
    back = reverse("labeling:item-detail", args=[project.slug, item.pk])
    if label is None:
        messages.error(request, "Choose one of the project's labels.")
        return redirect(back)
    if admin:
        adjudication.adjudicate_item(item, request.user, label)
        messages.success(request, f"{item.external_id} is now “{label}” (your decision as admin).")
    else:
        try:
            services.save_annotation(item, request.user, label)
        except NoRoomForLabel as exc:
            messages.error(request, str(exc))
            return redirect(back)
        messages.success(request, f"Your label of {item.external_id} is now “{label}”.")
    return redirect(back)


@extend_schema(responses={200: ItemDetailSerializer, **out.errors(401, 404)})
@api_view(["GET"])
def api_item(request: Request, pk: int) -> Response:
    """The item in full for admins; its annotator gets their own view (other users: 404)."""
    item, admin = item_detail.get_browsable_item(request.user, pk)
    return Response(item_detail.describe_item(item, request.user, admin=admin))


@extend_schema(
    parameters=[
        OpenApiParameter("k", int, description=f"How many neighbours, 1 to {item_detail.MAX_NEIGHBOURS}.")
    ],
    responses={200: SimilarItemsSerializer, **out.errors(400, 401, 404)},
)
@api_view(["GET"])
def api_item_similar(request: Request, pk: int) -> Response:
    """The item's nearest neighbours by TF-IDF cosine, among the items the caller may browse."""
    item, admin = item_detail.get_browsable_item(request.user, pk)
    raw = request.query_params.get("k", str(item_detail.NEIGHBOURS))
    if not raw.isdigit() or not 1 <= int(raw) <= item_detail.MAX_NEIGHBOURS:
        message = f"k: give a whole number from 1 to {item_detail.MAX_NEIGHBOURS}."
        return Response({"error": message, "fields": {"k": [message]}}, status=status.HTTP_400_BAD_REQUEST)
    rows = item_detail.similar_rows(item, request.user, admin=admin, k=int(raw))
    return Response({"item": item.pk, "neighbours": rows})
